//go:build unix

package zapsls

// Benchmarks of the performance targets in DESIGN.md, compared side by side
// in one run:
//
//	go test -run XXX -bench 'AddingFields|AccumulatedContext|WithoutFields|Encoder$' -benchmem
//	go test -run XXX -bench EndToEnd -benchmem -benchtime=200000x
//
// (benchmarks/run.sh runs these, the ring's and the benchmarks/ tool.)
//
// BenchmarkAddingFields, BenchmarkAccumulatedContext and
// BenchmarkWithoutFields reproduce the scenarios of zap's own benchmarks
// (go.uber.org/zap/benchmarks: scenario_bench_test.go and zap_test.go), with
// the same fake fields, messages and encoder configuration, under
// b.RunParallel, against four cores:
//
//   - zap-json-discard: zap's JSON encoder writing to io.Discard, the figure
//     zap publishes and our target;
//   - zap-json-file-buffered: zap's JSON encoder writing to a local file
//     through a zapcore.BufferedWriteSyncer;
//   - zapsls: NewCore(NewEncoder(...)) and a Writer with its defaults whose
//     sender really compresses, signs and posts every entry over loopback
//     to an slstest server (which verifies each request and keeps only
//     counts) running in a child process: allocations and cpu-ns/op are
//     the client's alone, and server-cpu-ns/op is the server's;
//   - zapsls-inproc-server: the same with the slstest server in this
//     process, whose decoding then counts in allocs/op and cpu-ns/op.
//
// ns/op is the callers' time: the timer stops before the Writer is synced
// and closed. cpu-ns/op is this process's CPU time per entry until every
// entry is flushed (for zapsls: acknowledged), background work included. On
// a machine with few CPUs, the slstest server competes with the callers, so
// zapsls's ns/op measures the whole pipeline's throughput.
//
// BenchmarkEndToEnd times delivery of the Go SDK producer's benchmark log
// by zapsls and by zap to a file. The benchmarks/ tool, a module of its own
// (so that what zapsls is compared against never enters users' module
// graphs), measures these and the SDK producer one process each (CPU,
// allocations, peak RSS).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/multierr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/benchkit"
	"github.com/zapsls/zapsls/slstest"
)

// --- zap's fake data (benchmarks/zap_test.go), under names of our own ---

var (
	errBenchExample = errors.New("fail")

	benchMessages   = benchFakeMessages(1000)
	benchTenInts    = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}
	benchTenStrings = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	benchTenTimes   = []time.Time{
		time.Unix(0, 0), time.Unix(1, 0), time.Unix(2, 0), time.Unix(3, 0), time.Unix(4, 0),
		time.Unix(5, 0), time.Unix(6, 0), time.Unix(7, 0), time.Unix(8, 0), time.Unix(9, 0),
	}
	benchOneUser = &benchUser{
		Name:      "Jane Doe",
		Email:     "jane@test.com",
		CreatedAt: time.Date(1980, 1, 1, 12, 0, 0, 0, time.UTC),
	}
	benchTenUsers = benchUsers{
		benchOneUser, benchOneUser, benchOneUser, benchOneUser, benchOneUser,
		benchOneUser, benchOneUser, benchOneUser, benchOneUser, benchOneUser,
	}
)

func benchFakeMessages(n int) []string {
	messages := make([]string, n)
	for i := range messages {
		messages[i] = fmt.Sprintf("Test logging, but use a somewhat realistic message length. (#%v)", i)
	}
	return messages
}

func benchGetMessage(iter int) string { return benchMessages[iter%1000] }

type benchUser struct {
	Name      string
	Email     string
	CreatedAt time.Time
}

func (u *benchUser) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", u.Name)
	enc.AddString("email", u.Email)
	enc.AddInt64("createdAt", u.CreatedAt.UnixNano())
	return nil
}

type benchUsers []*benchUser

func (uu benchUsers) MarshalLogArray(arr zapcore.ArrayEncoder) error {
	var err error
	for i := range uu {
		err = multierr.Append(err, arr.AppendObject(uu[i]))
	}
	return err
}

// benchFakeFields is zap's fakeFields: called at each log site, as there.
func benchFakeFields() []zap.Field {
	return []zap.Field{
		zap.Int("int", benchTenInts[0]),
		zap.Ints("ints", benchTenInts),
		zap.String("string", benchTenStrings[0]),
		zap.Strings("strings", benchTenStrings),
		zap.Time("time", benchTenTimes[0]),
		zap.Times("times", benchTenTimes),
		zap.Object("user1", benchOneUser),
		zap.Object("user2", benchOneUser),
		zap.Array("users", benchTenUsers),
		zap.Error(errBenchExample),
	}
}

// benchEncoderConfig is the configuration of zap's newZapLogger, used by
// every contender.
func benchEncoderConfig() zapcore.EncoderConfig {
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeDuration = zapcore.NanosDurationEncoder
	ec.EncodeTime = zapcore.EpochNanosTimeEncoder
	return ec
}

// --- the contenders of the hot-path scenarios ---

// benchContender builds a logger for one sub-benchmark.
type benchContender struct {
	name  string
	build func(b *testing.B) benchLogger
}

// benchLogger is a contender's logger, ready to use. warm, if set, runs
// before the timer starts, with the scenario's log call. After the timer
// has stopped, flush, if set, delivers what the logger holds (its CPU time
// is counted in cpu-ns/op), and done checks and releases everything.
type benchLogger struct {
	logger *zap.Logger
	warm   func(log func())
	flush  func()
	done   func()
}

var benchHotPathContenders = []benchContender{
	{"zap-json-discard", newBenchZapDiscard},
	{"zap-json-file-buffered", newBenchZapFile},
	{"zapsls", newBenchZapsls},
	{"zapsls-inproc-server", newBenchZapslsInProcess},
}

func newBenchZapDiscard(*testing.B) benchLogger {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), zapcore.AddSync(io.Discard), zap.DebugLevel)
	return benchLogger{logger: zap.New(core), done: func() {}}
}

// benchRewindFile is a file that starts over from its beginning once it
// holds limit bytes. A scenario run writes gigabytes; rewinding keeps the
// disk footprint and the kernel's dirty-page writeback bounded, while every
// write is still a write(2) to a real file.
type benchRewindFile struct {
	f     *os.File
	off   int64
	limit int64
}

func (r *benchRewindFile) Write(p []byte) (int, error) {
	if r.off+int64(len(p)) > r.limit {
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		r.off = 0
	}
	n, err := r.f.Write(p)
	r.off += int64(n)
	return n, err
}

func (r *benchRewindFile) Sync() error { return r.f.Sync() }

func newBenchZapFile(b *testing.B) benchLogger {
	f, err := os.Create(filepath.Join(b.TempDir(), "zap.log"))
	if err != nil {
		b.Fatal(err)
	}
	// BufferedWriteSyncer serialises writes under its own mutex.
	ws := &zapcore.BufferedWriteSyncer{WS: &benchRewindFile{f: f, limit: 256 << 20}}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(benchEncoderConfig()), ws, zap.DebugLevel)
	return benchLogger{logger: zap.New(core), flush: func() {
		if err := ws.Sync(); err != nil {
			b.Error(err)
		}
	}, done: func() {
		if err := ws.Stop(); err != nil {
			b.Error(err)
		}
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}}
}

// benchEndpoint is an slstest server for a benchmark: in this process, or
// in a child process of its own (benchServerProcess), so that its CPU time
// and its allocations (it verifies every log it receives) are not counted as
// the client's. Either way requests go over loopback TCP through net/http.
type benchEndpoint struct {
	endpoint string
	client   *http.Client

	srv *slstest.Server // in this process

	cmd   *exec.Cmd // the child process
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func newBenchInProcessEndpoint() *benchEndpoint {
	srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
	return &benchEndpoint{endpoint: srv.Endpoint(), client: srv.Client(), srv: srv}
}

// benchServerEnv makes TestBenchServerProcess serve instead of skipping.
const benchServerEnv = "ZAPSLS_BENCH_SERVER_PROCESS"

// newBenchChildEndpoint starts this test binary again as an slstest server
// (TestBenchServerProcess).
func newBenchChildEndpoint(b *testing.B) *benchEndpoint {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	e := &benchEndpoint{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	addr, ok := e.line("listening ")
	if !ok {
		_ = stdin.Close()
		_ = cmd.Wait()
		b.Fatal("the slstest server process did not start")
	}
	e.endpoint = "http://" + addr
	e.client = benchkit.DialingClient(addr)
	return e
}

// line returns the rest of the next stdout line of the child that starts
// with prefix, skipping others (the test framework's own output).
func (e *benchEndpoint) line(prefix string) (string, bool) {
	for e.out.Scan() {
		if rest, ok := strings.CutPrefix(e.out.Text(), prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// stop stops the server and returns the logs it accepted and, for a child
// process, the CPU time it used.
func (e *benchEndpoint) stop(b *testing.B) (logs int, cpu time.Duration) {
	if e.srv != nil {
		logs = e.srv.LogCount()
		e.srv.Close()
		return logs, 0
	}
	e.client.CloseIdleConnections()
	_ = e.stdin.Close() // the child's signal to stop
	done, ok := e.line("done ")
	if err := e.cmd.Wait(); err != nil {
		b.Errorf("slstest server process: %v", err)
	}
	var cpuNs int64
	if _, err := fmt.Sscan(done, &logs, &cpuNs); !ok || err != nil {
		b.Errorf("slstest server process: bad report %q: %v", done, err)
	}
	return logs, time.Duration(cpuNs)
}

// TestBenchServerProcess is not a test: the benchmarks start the test
// binary again with benchServerEnv set, to serve slstest on loopback from a
// process of its own until its stdin closes. It prints "listening ADDR",
// and at the end "done LOGS CPU_NANOSECONDS" (CPU time used since it
// started listening).
func TestBenchServerProcess(t *testing.T) {
	if os.Getenv(benchServerEnv) != "1" {
		t.Skip("helper process of the benchmarks")
	}
	cpuTime := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
	cpu0 := cpuTime() // not counting the process's start
	fmt.Printf("\nlistening %s\n", srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	logs := srv.LogCount()
	srv.Close()
	fmt.Printf("\ndone %d %d\n", logs, cpuTime()-cpu0)
}

// newBenchChildWriter returns a Writer with its defaults (benchSLSConfig)
// shipping to an slstest server in a child process; benchCloseWriter
// closes both.
func newBenchChildWriter(b *testing.B) (*Writer, *benchEndpoint, *atomic.Int64) {
	e := newBenchChildEndpoint(b)
	errs := new(atomic.Int64)
	w, err := NewWriter(benchSLSConfig(e, errs))
	if err != nil {
		e.stop(b)
		b.Fatal(err)
	}
	return w, e, errs
}

// benchSLSConfig is a Writer's Config for e with every tunable at its
// default, and background errors counted instead of printed.
func benchSLSConfig(e *benchEndpoint, errs *atomic.Int64) Config {
	return Config{
		Endpoint:        e.endpoint,
		Project:         "bench-project",
		Logstore:        "bench-logstore",
		Topic:           "topic-0",
		Source:          "source-0",
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient:      e.client,
		OnError:         func(error) { errs.Add(1) },
	}
}

// benchCloseWriter closes w and stops e. It reports what was not delivered
// (dropped/op, failed/op: both should be 0) and the server's CPU time per
// entry (server-cpu-ns/op, when it runs in a process of its own).
func benchCloseWriter(b *testing.B, w *Writer, e *benchEndpoint, errs *atomic.Int64) {
	if err := w.Sync(); err != nil {
		b.Errorf("Sync: %v", err)
	}
	if err := w.Close(); err != nil {
		b.Errorf("Close: %v", err)
	}
	logs, cpu := e.stop(b)
	st := w.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
	b.ReportMetric(float64(st.Failed)/float64(b.N), "failed/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "server-cpu-ns/op")
	}
	if st.Dropped+st.Failed > 0 || errs.Load() > 0 {
		b.Logf("not delivered: %d dropped, %d failed, %d errors reported (last: %s)",
			st.Dropped, st.Failed, errs.Load(), st.LastError)
	}
	if uint64(logs) != st.Delivered {
		b.Errorf("server stored %d logs, Writer counts %d delivered", logs, st.Delivered)
	}
}

func newBenchZapslsWith(b *testing.B, e *benchEndpoint) benchLogger {
	var errs atomic.Int64
	w, err := NewWriter(benchSLSConfig(e, &errs))
	if err != nil {
		e.stop(b)
		b.Fatal(err)
	}
	core := NewCore(NewEncoder(benchEncoderConfig()), w, zap.DebugLevel)
	// Drops are reported by benchCloseWriter, not once per entry on stderr.
	logger := zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard)))
	return benchLogger{
		logger: logger,
		// A new Writer's buffer takes fresh memory as its backlog grows,
		// and pays a page fault per 4 KiB (about 15µs each on the VM these
		// benchmarks were written on). Log a cap's worth of bytes before
		// the timer, so that the scenario measures the steady state of a
		// long-running logger, as zap's own benchmarks do.
		warm: func(log func()) {
			if b.N < 10_000 {
				return // a short run touches little of the ring (and -benchtime=1x stays quick)
			}
			for w.ring.Head() < uint64(w.cfg.BufferBytes) {
				log()
			}
			if err := w.Sync(); err != nil {
				b.Fatal(err)
			}
		},
		flush: func() {
			if err := w.Sync(); err != nil {
				b.Error(err)
			}
		},
		done: func() { benchCloseWriter(b, w, e, &errs) },
	}
}

func newBenchZapsls(b *testing.B) benchLogger {
	return newBenchZapslsWith(b, newBenchChildEndpoint(b))
}

func newBenchZapslsInProcess(b *testing.B) benchLogger {
	return newBenchZapslsWith(b, newBenchInProcessEndpoint())
}

// benchScenario runs logf under b.RunParallel for each contender, the logger
// first passed through prepare (for With).
//
// Besides ns/op (the callers' time, with everything the process does in
// the background competing for the same CPUs), it reports cpu-ns/op: this
// process's CPU time per entry, from the first log call until the entries
// are flushed (for zapsls: compressed, posted and acknowledged). With the
// slstest server in a child process, that is the client's whole cost.
func benchScenario(b *testing.B, prepare func(*zap.Logger) *zap.Logger, logf func(*zap.Logger)) {
	for _, c := range benchHotPathContenders {
		b.Run(c.name, func(b *testing.B) {
			l := c.build(b)
			logger := prepare(l.logger)
			if l.warm != nil {
				l.warm(func() { logf(logger) })
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := benchCPUTime(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					logf(logger)
				}
			})
			b.StopTimer()
			if l.flush != nil {
				l.flush()
			}
			b.ReportMetric(float64((benchCPUTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			l.done()
		})
	}
}

func benchNoWith(l *zap.Logger) *zap.Logger { return l }

func BenchmarkAddingFields(b *testing.B) {
	benchScenario(b, benchNoWith, func(l *zap.Logger) {
		l.Info(benchGetMessage(0), benchFakeFields()...)
	})
}

func BenchmarkAccumulatedContext(b *testing.B) {
	benchScenario(b, func(l *zap.Logger) *zap.Logger { return l.With(benchFakeFields()...) },
		func(l *zap.Logger) { l.Info(benchGetMessage(0)) })
}

func BenchmarkWithoutFields(b *testing.B) {
	benchScenario(b, benchNoWith, func(l *zap.Logger) { l.Info(benchGetMessage(0)) })
}

// BenchmarkEncoder compares EncodeEntry alone, without a Core or a Writer,
// on the entry of BenchmarkAddingFields.
func BenchmarkEncoder(b *testing.B) {
	encoders := []struct {
		name string
		enc  zapcore.Encoder
	}{
		{"zap-json", zapcore.NewJSONEncoder(benchEncoderConfig())},
		{"zapsls", NewEncoder(benchEncoderConfig())},
	}
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(), Message: benchGetMessage(0)}
	fields := benchFakeFields()
	for _, e := range encoders {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf, err := e.enc.EncodeEntry(ent, fields)
				if err != nil {
					b.Fatal(err)
				}
				buf.Free()
			}
		})
	}
}

// --- end to end: the Go SDK producer's published benchmark log ---
//
// The benchmarks/ tool measures the same contenders and the SDK producer
// in fresh processes, with peak RSS; here each contender shares the test
// process with the other, its slstest server running in a child process.

// benchE2EGoroutines is the number of goroutines logging, as in DESIGN.md.
const benchE2EGoroutines = 4

// benchE2EEncoderConfig: level and message as contents, the time in
// Log.Time for zapsls, and as "ts" in the file.
func benchE2EEncoderConfig(timeKey string) zapcore.EncoderConfig {
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = timeKey
	return ec
}

// benchCPUTime is this process's user+system CPU time so far.
func benchCPUTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchE2E times one contender: log b.N entries, then deliver (which
// returns when every entry is delivered). It reports entries/s until
// delivered, logcalls/s until the last log call returned, and this
// process's CPU time per entry (cpu-ns/entry; the slstest server runs in a
// process of its own and is reported as server-cpu-ns/op).
func benchE2E(b *testing.B, logger *zap.Logger, shape *benchkit.Workload, deliver func()) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := benchCPUTime(b)
	start := time.Now()
	shape.Run(logger, b.N, benchE2EGoroutines)
	logged := time.Since(start)
	deliver()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := benchCPUTime(b) - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(b.N)/logged.Seconds(), "logcalls/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/entry")
}

func BenchmarkEndToEnd(b *testing.B) {
	shape := benchkit.NewWorkload(benchkit.SDKEntryBytes)

	b.Run("zapsls", func(b *testing.B) {
		w, e, errs := newBenchChildWriter(b)
		logger := zap.New(NewCore(NewEncoder(benchE2EEncoderConfig("")), w, zap.InfoLevel))
		benchE2E(b, logger, shape, func() {
			if err := w.Sync(); err != nil { // delivered: acknowledged by the server
				b.Error(err)
			}
		})
		benchCloseWriter(b, w, e, errs)
	})

	b.Run("zap-file", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "zap.log"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		ws := &zapcore.BufferedWriteSyncer{WS: f}
		logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(benchE2EEncoderConfig("ts")), ws, zap.InfoLevel))
		benchE2E(b, logger, shape, func() {
			if err := ws.Stop(); err != nil { // flushed and fsynced
				b.Error(err)
			}
		})
	})
}
