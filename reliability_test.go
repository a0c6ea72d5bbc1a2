package zapsls

// The reliability suite: proof of design.md's promises under faults, crashes,
// bad input and hostile endpoints.
//
//   - TestReliabilityFaults: a steady stream from a few goroutines while
//     slstest injects a fault, then Sync and Close; every entry is accounted
//     for. Set ZAPSLS_RELIABILITY_TABLE to a path to get the results as a
//     markdown table.
//   - TestCrash*: a child process (this test binary, TestCrashChild) is
//     SIGKILLed while spooling, or exits through logger.Fatal / logger.Panic.
//   - TestBadInput*: bad entries through the Core and through Writer.Write
//     are delivered repaired, or reported and counted, and never harm their
//     neighbours.
//   - TestSecurity*: TLS verification, no secret in any output, huge answer
//     bodies, slow-loris endpoints.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// ---------------------------------------------------------------------------
// Accounting helpers
// ---------------------------------------------------------------------------

// relReports tallies what a Writer reports through OnError, by kind: the
// entries of every loss must show up here ("nothing is lost silently").
type relReports struct {
	mu                       sync.Mutex
	dropped, failed, spooled int // entries in *DropError, *PutLogsError, *SpoolError
	retries, other           int // reports that are not losses
	texts                    []string
}

func (r *relReports) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := err.(type) {
	case *DropError:
		r.dropped += e.Entries
	case *PutLogsError:
		r.failed += e.Entries
	case *SpoolError:
		r.spooled += e.Entries
	default:
		if strings.Contains(err.Error(), "retrying in") {
			r.retries++
		} else {
			r.other++
		}
	}
	if len(r.texts) < 10000 {
		r.texts = append(r.texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
}

func (r *relReports) snapshot() (dropped, failed, spooled, retries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped, r.failed, r.spooled, r.retries
}

func (r *relReports) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.texts, "\n")
}

// relZapErrors is a zap ErrorOutput that counts zap's "write error" lines
// (one per entry a Core.Write refused) and keeps the text.
type relZapErrors struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (z *relZapErrors) Write(p []byte) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if bytes.Contains(p, []byte("write error")) {
		z.writes++
	}
	if z.buf.Len() < 1<<20 {
		z.buf.Write(p)
	}
	return len(p), nil
}

func (z *relZapErrors) Sync() error { return nil }

func (z *relZapErrors) count() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.writes
}

func (z *relZapErrors) text() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.buf.String()
}

func relLogger(w *Writer, errOut zapcore.WriteSyncer) *zap.Logger {
	return zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel),
		zap.ErrorOutput(errOut))
}

// relIDs counts the "g-i" ids at the server: unique ids, and how many
// arrived more than once (sum of extra copies).
func relIDs(srv *slstest.Server) (ids map[string]int, dups int) {
	ids = map[string]int{}
	for _, l := range srv.Logs() {
		id := l.Contents["g"] + "-" + l.Contents["i"]
		ids[id]++
		if ids[id] > 1 {
			dups++
		}
	}
	return ids, dups
}

// relCheckDuplicates checks that every duplicate at the server is a retry
// of a stored batch whose answer was lost: all copies of an entry came in
// requests with the same __pack_id__ (a retried batch is byte-identical),
// and that pack id was stored more than once. It returns the number of
// batches stored more than once.
func relCheckDuplicates(t *testing.T, srv *slstest.Server) (batches int) {
	t.Helper()
	packs := map[string]map[string]bool{} // id -> pack ids it came in
	for _, l := range srv.Logs() {
		id := l.Contents["g"] + "-" + l.Contents["i"]
		if packs[id] == nil {
			packs[id] = map[string]bool{}
		}
		packs[id][l.PackID] = true
	}
	stored := map[string]int{}
	for _, r := range srv.Requests() {
		stored[r.PackID]++
	}
	for id, p := range packs {
		assert.Len(t, p, 1, "entry %s arrived in different batches: %v", id, p)
	}
	for _, n := range stored {
		if n > 1 {
			batches++
		}
	}
	return batches
}

// notDelivered returns the Entries and Spooled of a *NotDeliveredError, 0
// for nil.
func relNotDelivered(t *testing.T, err error) (entries, spooled int) {
	t.Helper()
	if err == nil {
		return 0, 0
	}
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	return nd.Entries, nd.Spooled
}

// ---------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------

const (
	relGoroutines = 4
	relInterval   = 4 * time.Millisecond // per goroutine: about 1000 entries/s in all
	relWarmup     = 300 * time.Millisecond
)

var relPad = strings.Repeat("p", 60)

// relFaultRun is one run's fault: the server options, Config changes, and
// how to start and end the fault.
type relFaultRun struct {
	opts   slstest.Options
	config func(*Config)
	inject func(*slstest.Server)
	clear  func(*slstest.Server)
}

type relFault struct {
	name   string
	logFor time.Duration // how long the stream runs once the fault starts
	setup  func() relFaultRun
	// lostAcks: the fault can lose the answer to a request the server
	// stored, so the retry duplicates its entries. Elsewhere duplicates
	// must be 0.
	lostAcks bool
}

var relFaults = []relFault{
	{
		name:   "endpoint refuses connections for 10 s",
		logFor: 10*time.Second + 500*time.Millisecond,
		// Going away, slstest closes the connections it sees idle; one
		// whose request it has just read (net/http marks it active only
		// afterwards) is stored and its answer lost, as with a real
		// server going away mid-request.
		lostAcks: true,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) { srv.RefuseFor(10 * time.Second) },
				clear:  func(srv *slstest.Server) { srv.AcceptConnections() },
			}
		},
	},
	{
		name:   "30% random HTTP 500 for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailRate(0.3, slstest.Fault{Status: 500, Code: "InternalServerError"}, 1)
				},
				clear: func(srv *slstest.Server) { srv.FailRate(0, slstest.Fault{}, 0) },
			}
		},
	},
	{
		name:   "403 WriteQuotaExceed for 5 s",
		logFor: 5*time.Second + 500*time.Millisecond,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailFor(5*time.Second, slstest.Fault{Status: 403, Code: "WriteQuotaExceed"})
				},
			}
		},
	},
	{
		name:   "2 s response delay for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) { srv.SetDelay(2 * time.Second) },
				clear:  func(srv *slstest.Server) { srv.SetDelay(0) },
			}
		},
	},
	{
		name:   "20% connections closed mid-request for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailRate(0.2, slstest.Fault{CloseConnection: true}, 2)
				},
				clear: func(srv *slstest.Server) { srv.FailRate(0, slstest.Fault{}, 0) },
			}
		},
	},
	{
		name:   "401 after STS token expiry, provider refreshes 250 ms later",
		logFor: 3 * time.Second,
		setup: func() relFaultRun {
			p := &tokenProvider{}
			p.token.Store("sts-token-1")
			return relFaultRun{
				opts: slstest.Options{SecurityToken: "sts-token-1"},
				config: func(c *Config) {
					c.Credentials = p
					c.AccessKeyID, c.AccessKeySecret = "", ""
				},
				inject: func(srv *slstest.Server) {
					srv.SetCredentials(slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret, "sts-token-2")
					time.AfterFunc(250*time.Millisecond, func() { p.token.Store("sts-token-2") })
				},
			}
		},
	},
}

// relPolicies are the two configurations every fault runs under.
var relPolicies = []struct {
	name   string
	config func(c *Config, dir string)
}{
	{"block", func(c *Config, _ string) {
		// Room and patience to outlast every fault: nothing may be lost.
		c.BufferBytes = 8 << 20
		c.OnFull = OnFullBlock
		c.BlockTimeout = time.Minute
		c.RetryTimeout = time.Minute
		c.SyncTimeout = time.Minute
		c.CloseTimeout = time.Minute
	}},
	{"drop", func(c *Config, dir string) {
		// A small buffer, one request at a time, a short retry budget and
		// a spool: entries are dropped, spooled, and each one accounted.
		c.BufferBytes = 128 << 10
		c.MaxBatchBytes = 64 << 10
		c.OnFull = OnFullDrop
		c.MaxInflight = 1
		c.RetryTimeout = 2 * time.Second
		c.SpoolDir = dir
		c.SyncTimeout = 30 * time.Second
		c.CloseTimeout = 30 * time.Second
	}},
}

type relRow struct {
	fault, policy                         string
	written, delivered, dropped, failed   int
	spooled, replayed, duplicated, unique int
	retries, requests                     int
	elapsed                               time.Duration
	promise                               string
}

func (r relRow) summary() string {
	return fmt.Sprintf("%s [%s]: written=%d delivered=%d dropped=%d failed=%d spooled=%d replayed=%d duplicated=%d server-unique=%d retries=%d requests=%d in %v",
		r.fault, r.policy, r.written, r.delivered, r.dropped, r.failed, r.spooled, r.replayed, r.duplicated, r.unique,
		r.retries, r.requests, r.elapsed.Round(100*time.Millisecond))
}

func TestReliabilityFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes about 20 s")
	}
	var mu sync.Mutex
	rows := map[string]relRow{}
	// All runs at once, each with its own server and writer: the suite
	// takes as long as the longest fault. (t.Run from several goroutines,
	// rather than t.Parallel, which -test.parallel would limit to
	// GOMAXPROCS runs at a time; these runs mostly wait.)
	var wg sync.WaitGroup
	for _, f := range relFaults {
		for _, p := range relPolicies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(f.name+"/"+p.name, func(t *testing.T) {
					row := relRunFault(t, f, p.name, p.config)
					t.Log(row.summary())
					mu.Lock()
					rows[f.name+"/"+p.name] = row
					mu.Unlock()
				})
			}()
		}
	}
	wg.Wait()

	var table strings.Builder
	table.WriteString("| fault | written | delivered | lost | duplicated | spooled | promise |\n")
	table.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for _, f := range relFaults {
		for _, p := range relPolicies {
			r, ok := rows[f.name+"/"+p.name]
			if !ok {
				continue
			}
			fmt.Fprintf(&table, "| %s (%s) | %d | %d | %d | %d | %d | %s |\n",
				r.fault, r.policy, r.written, r.delivered, r.dropped+r.failed, r.duplicated, r.spooled, r.promise)
		}
	}
	t.Logf("reliability table:\n%s", table.String())
	if path := os.Getenv("ZAPSLS_RELIABILITY_TABLE"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(table.String()), 0o644))
	}
}

// relRunFault logs a steady stream through one Writer while f happens, then
// Syncs and Closes it and checks the accounting.
func relRunFault(t *testing.T, f relFault, policy string, policyConfig func(*Config, string)) relRow {
	began := time.Now()
	run := f.setup()
	srv := slstest.NewServer(run.opts)
	defer srv.Close()
	dir := t.TempDir()
	reports := &relReports{}
	zapErrs := &relZapErrors{}
	config := func(c *Config) {
		policyConfig(c, dir)
		if run.config != nil {
			run.config(c)
		}
	}
	cfg := testConfig(srv)
	config(&cfg)
	cfg.OnError = reports.add
	w, err := NewWriter(cfg)
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = w.Close()
		}
	}()
	logger := relLogger(w, zapErrs)

	stop := make(chan struct{})
	var written [relGoroutines]int
	var wg sync.WaitGroup
	for g := 0; g < relGoroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			tick := time.NewTicker(relInterval)
			defer tick.Stop()
			l := logger.With(zap.Int("g", g))
			n := 0
			for {
				select {
				case <-stop:
					written[g] = n
					return
				case <-tick.C:
				}
				l.Info("reliability", zap.Int("i", n), zap.String("pad", relPad))
				n++
			}
		}(g)
	}
	time.Sleep(relWarmup)
	run.inject(srv)
	time.Sleep(f.logFor)
	close(stop)
	wg.Wait()
	if run.clear != nil {
		run.clear(srv)
	}
	syncErr := logger.Sync()
	closeErr := w.Close()
	closed = true

	s := w.Stats()
	ids, dups := relIDs(srv)
	total := 0
	for _, n := range written {
		total += n
	}
	row := relRow{
		fault: f.name, policy: policy, written: total,
		delivered: int(s.Delivered), dropped: int(s.Dropped), failed: int(s.Failed), spooled: int(s.Spooled),
		duplicated: dups, unique: len(ids), retries: int(s.Retries), requests: int(s.Requests),
	}
	// Every id at the server was written. Duplicates only come from a
	// stored batch retried after its answer was lost; slstest stores no
	// request it then fails (CloseConnection drops the request unstored,
	// delays end before the 15 s RequestTimeout), so only a fault marked
	// lostAcks may cause them.
	for id := range ids {
		g, i, ok := strings.Cut(id, "-")
		gi, err1 := strconv.Atoi(g)
		ii, err2 := strconv.Atoi(i)
		require.True(t, ok && err1 == nil && err2 == nil && gi >= 0 && gi < relGoroutines && ii >= 0 && ii < written[gi], "unexpected id %q", id)
	}
	dupBatches := relCheckDuplicates(t, srv)
	if !f.lostAcks {
		assert.Zero(t, dups, "duplicates")
	} else if dups > 0 {
		t.Logf("%d entries duplicated: %d batches stored twice, each retried whole under its __pack_id__ after its answer was lost", dups, dupBatches)
	}
	assert.Equal(t, uint64(total), s.Enqueued+s.Dropped, "every Write is enqueued or dropped")
	if !f.lostAcks {
		assert.Equal(t, len(ids), int(s.Delivered), "the server holds exactly what the writer counts as delivered")
	} else {
		// A batch whose answer was lost and whose retries then ran out is
		// counted failed or spooled, though the server has it.
		assert.GreaterOrEqual(t, len(ids), int(s.Delivered), "the server holds everything delivered")
		assert.LessOrEqual(t, len(ids), int(s.Delivered+s.Failed+s.Spooled), "and beyond it only entries whose answer was lost")
	}

	// Nothing is lost silently: every loss was reported through OnError,
	// through zap's ErrorOutput (drops), and through Sync or Close.
	rDropped, rFailed, rSpooled, _ := reports.snapshot()
	assert.Equal(t, int(s.Dropped), rDropped, "drops reported through OnError")
	assert.Equal(t, int(s.Failed), rFailed, "failures reported through OnError")
	assert.Equal(t, int(s.Spooled), rSpooled, "spooled entries reported through OnError")
	assert.Equal(t, int(s.Dropped), zapErrs.count(), "zap's ErrorOutput saw every dropped entry")
	syncEntries, syncSpooled := relNotDelivered(t, syncErr)
	closeEntries, closeSpooled := relNotDelivered(t, closeErr)
	assert.Equal(t, int(s.Dropped+s.Failed+s.Spooled), syncEntries+closeEntries, "Sync and Close said how many: %v / %v", syncErr, closeErr)
	assert.Equal(t, int(s.Spooled), syncSpooled+closeSpooled)

	switch policy {
	case "block":
		// Nothing may be lost.
		row.promise = "nothing lost: delivered = written"
		assert.NoError(t, syncErr)
		assert.NoError(t, closeErr)
		assert.Equal(t, total, int(s.Delivered), "delivered == written")
		assert.Zero(t, s.Dropped+s.Failed+s.Spooled)
		for g, n := range written {
			for i := 0; i < n; i++ {
				if ids[fmt.Sprintf("%d-%d", g, i)] == 0 {
					t.Errorf("entry %d-%d lost", g, i)
					break
				}
			}
		}
	case "drop":
		// Exact accounting, and the spool delivers what it kept.
		assert.Equal(t, total, int(s.Delivered+s.Dropped+s.Failed+s.Spooled), "delivered+dropped+failed+spooled == written")
		kept := 0
		for _, name := range spoolFiles(t, dir) {
			kept += entriesIn(filepath.Base(name))
		}
		assert.Equal(t, int(s.Spooled), kept, "the spool files hold every spooled entry")
		if kept > 0 {
			srv.ClearFaults()
			cfg := testConfig(srv)
			config(&cfg)
			cfg.OnError = reports.add
			w2, err := NewWriter(cfg)
			require.NoError(t, err)
			assert.True(t, srv.WaitLogs(int(s.Delivered)+kept, 30*time.Second), "the spool is replayed")
			require.NoError(t, w2.Close())
			row.replayed = int(w2.Stats().Replayed)
			assert.Equal(t, kept, row.replayed, "Stats.Replayed")
			assert.Empty(t, spoolFiles(t, dir))
			ids2, dups2 := relIDs(srv)
			relCheckDuplicates(t, srv)
			if !f.lostAcks {
				assert.Zero(t, dups2, "duplicates after replay")
			}
			assert.Equal(t, int(s.Delivered)+kept, len(ids2))
			row.duplicated = dups2
		}
		row.promise = "every entry accounted for and reported: delivered + dropped + failed + spooled = written"
		if s.Spooled > 0 {
			row.promise += fmt.Sprintf("; next writer replayed %d/%d from the spool", row.replayed, s.Spooled)
		}
	}
	if row.duplicated > 0 {
		row.promise += "; duplicates are whole batches retried after a lost answer (same __pack_id__)"
	}
	row.elapsed = time.Since(began)
	return row
}

// ---------------------------------------------------------------------------
// Crashes: a child process (this test binary) is killed or exits.
// ---------------------------------------------------------------------------

const (
	relCrashRoleEnv     = "ZAPSLS_CRASH_CHILD"
	relCrashEndpointEnv = "ZAPSLS_CRASH_ENDPOINT"
	relCrashSpoolEnv    = "ZAPSLS_CRASH_SPOOL"
)

// TestCrashChild is not a test: the crash tests run this binary again with
// ZAPSLS_CRASH_CHILD set, and this is what the child does. Without the
// variable it returns at once.
func TestCrashChild(t *testing.T) {
	role := os.Getenv(relCrashRoleEnv)
	if role == "" {
		return
	}
	// A child whose parent went away must not live on.
	time.AfterFunc(60*time.Second, func() { os.Exit(3) })
	cfg := Config{
		Endpoint:        os.Getenv(relCrashEndpointEnv),
		Project:         "test-project",
		Logstore:        "test-logstore",
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		BufferBytes:     8 << 20,
		Linger:          20 * time.Millisecond,
		OnError:         func(error) {},
	}
	switch role {
	case "spool":
		cfg.SpoolDir = os.Getenv(relCrashSpoolEnv)
		cfg.RetryTimeout = 200 * time.Millisecond
		cfg.MaxBatchCount = 50
		cfg.MaxInflight = 2
	case "fatal", "panic":
		cfg.Linger = time.Hour // only the synchronous flush can deliver
	default:
		fmt.Fprintf(os.Stderr, "unknown crash role %q\n", role)
		os.Exit(4)
	}
	w, err := NewWriter(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel))
	switch role {
	case "spool":
		// Log until killed.
		for i := 0; ; i++ {
			logger.Info("crash child", zap.String("g", "child"), zap.Int("i", i))
			if i%10 == 9 {
				time.Sleep(time.Millisecond)
			}
		}
	case "fatal":
		logger.Info("before fatal", zap.String("g", "fatal"), zap.Int("i", 0))
		logger.Fatal("fatal entry", zap.String("g", "fatal"), zap.Int("i", 1))
	case "panic":
		logger.Info("before panic", zap.String("g", "panic"), zap.Int("i", 0))
		logger.Panic("panic entry", zap.String("g", "panic"), zap.Int("i", 1))
	}
	os.Exit(6) // not reached
}

func relCrashChild(role, endpoint, spoolDir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), relCrashRoleEnv+"="+role, relCrashEndpointEnv+"="+endpoint, relCrashSpoolEnv+"="+spoolDir)
	return cmd
}

func TestCrashSIGKILLWhileSpooling(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections()
	dir := t.TempDir()

	cmd := relCrashChild("spool", srv.Endpoint(), dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	// Wait for the child to spool a few batches, then kill it mid-stream.
	deadline := time.Now().Add(30 * time.Second)
	for len(spoolFiles(t, dir)) < 5 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child spooled nothing in 30 s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "killed by a signal")
	assert.Equal(t, syscall.SIGKILL, ws.Signal())

	files := spoolFiles(t, dir)
	held := 0
	for _, f := range files {
		held += entriesIn(filepath.Base(f))
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	t.Logf("the killed child left %d spool files holding %d entries, and %d partial temporary files", len(files), held, len(tmps))
	require.NotZero(t, held)

	// A new writer on the same directory, against the endpoint now
	// accepting, delivers every entry the spool held.
	srv.AcceptConnections()
	w, errs := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	require.True(t, srv.WaitLogs(held, 30*time.Second), "replayed %d of %d", srv.LogCount(), held)
	require.NoError(t, w.Close())
	s := w.Stats()
	assert.Equal(t, uint64(held), s.Replayed)
	ids, dups := relIDs(srv)
	assert.Len(t, ids, held)
	assert.Zero(t, dups)
	assert.Empty(t, spoolFiles(t, dir), "every replayed file is deleted")
	assert.Empty(t, errs.text())
	for id := range ids {
		assert.True(t, strings.HasPrefix(id, "child-"), id)
	}
}

func TestCrashFatalAndPanicDeliverBeforeExit(t *testing.T) {
	for _, tc := range []struct {
		role     string
		exitCode int
	}{
		{"fatal", 1}, // zap's default fatal hook: os.Exit(1)
		{"panic", 2}, // an unrecovered panic: the runtime exits with 2
	} {
		t.Run(tc.role, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			cmd := relCrashChild(tc.role, srv.Endpoint(), "")
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "output:\n%s", out)
			assert.Equal(t, tc.exitCode, exitErr.ExitCode(), "output:\n%s", out)
			logs := srv.Logs()
			require.Len(t, logs, 2, "the entry before and the %s entry arrived", tc.role)
			assert.Equal(t, tc.role+" entry", logs[1].Contents["msg"])
			assert.Equal(t, tc.role, logs[1].Contents["level"])
			assert.Equal(t, "1", logs[1].Contents["i"])
		})
	}
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

// relErrMarshaler adds a field, then fails: zap adds KEYError.
type relErrMarshaler struct{}

func (relErrMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("partial", "kept")
	return errors.New("marshal failed")
}

// relPanicMarshaler adds a field, then panics, with some nesting open.
type relPanicMarshaler struct{}

func (relPanicMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("partial", "leaked?")
	enc.OpenNamespace("ns")
	_ = enc.AddObject("inner", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("deeper", "x")
		panic("marshaler panics")
	}))
	return nil
}

type relPanicArray struct{}

func (relPanicArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	enc.AppendString("first")
	_ = enc.AppendObject(zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("in", "array")
		panic("array marshaler panics")
	}))
	return nil
}

// relNested is an object nested depth levels deep with a leaf at the bottom.
type relNested int

func (n relNested) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if n == 0 {
		enc.AddString("leaf", "bottom")
		return nil
	}
	return enc.AddObject("level", n-1)
}

// relBadInputCase is one kind of bad entry, logged between two good ones.
type relBadInputCase struct {
	name string
	// log logs the bad entry; it may panic (recovered by the harness).
	log func(l *zap.Logger)
	// check examines the stored logs of the bad entry (nil if it was
	// dropped), given the Stats delta.
	dropped bool
	check   func(t *testing.T, bad []slstest.Log, repaired uint64)
}

func TestBadInputThroughCore(t *testing.T) {
	deepKey := ""
	many := make([]zap.Field, 10000)
	for i := range many {
		many[i] = zap.Int("f"+strconv.Itoa(i), i)
	}
	for _, tc := range []relBadInputCase{
		{
			name: "invalid UTF-8 keys and values",
			log: func(l *zap.Logger) {
				l.Info("bad utf8", zap.String("k\xffey", "va\xfelue"), zap.ByteString("bytes", []byte{0xff, 'a'}),
					zap.String("ok", "fine"))
			},
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				c := bad[0].Contents
				assert.Equal(t, "va\uFFFDlue", c["k\uFFFDey"])
				assert.Equal(t, "\uFFFDa", c["bytes"])
				assert.Equal(t, "fine", c["ok"])
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "value over 1 MB",
			log:  func(l *zap.Logger) { l.Info("big value", zap.String("big", strings.Repeat("x", 1_500_000))) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				v := bad[0].Contents["big"]
				assert.Len(t, v, DefaultMaxValueBytes)
				assert.True(t, strings.HasSuffix(v, TruncatedMarker))
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "10,000 fields",
			log:  func(l *zap.Logger) { l.Info("many fields", many...) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				assert.Len(t, bad[0].Keys, 10000+3) // level, ts, msg
				assert.Equal(t, "9999", bad[0].Contents["f9999"])
				assert.Zero(t, repaired)
			},
		},
		{
			name: "forbidden and 200-byte keys",
			log: func(l *zap.Logger) {
				l.Info("forbidden", zap.String("__time__", "1"), zap.String("__topic__", "2"), zap.String("__source__", "3"),
					zap.String("__partition_time__", "4"), zap.String("_extract_others_", "5"), zap.String("__extract_others__", "6"),
					zap.String("__tag__:x", "7"), zap.String("", "8"), zap.String(strings.Repeat("k", 200), "9"),
					zap.Namespace("__tag__:ns"), zap.String("k", "10"))
			},
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				c := bad[0].Contents
				for key, want := range map[string]string{
					"field___time__": "1", "field___topic__": "2", "field___source__": "3", "field___partition_time__": "4",
					"field__extract_others_": "5", "field___extract_others__": "6", "field___tag__:x": "7", "field_": "8",
					strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker)) + TruncatedMarker: "9",
					"field___tag__:ns.k": "10",
				} {
					assert.Equal(t, want, c[key], key)
				}
				for _, k := range bad[0].Keys {
					assert.LessOrEqual(t, len(k), MaxKeyBytes)
					assert.False(t, reservedKey(k), k)
				}
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "ObjectMarshaler returning an error",
			log:  func(l *zap.Logger) { l.Info("obj error", zap.Object("obj", relErrMarshaler{})) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				assert.Equal(t, "kept", bad[0].Contents["obj.partial"])
				assert.Equal(t, "marshal failed", bad[0].Contents["objError"])
			},
		},
		{
			name: "objects 1000 levels deep",
			log:  func(l *zap.Logger) { l.Info("deep", zap.Object("deep", relNested(1000))) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				var keys []string
				for k, v := range bad[0].Contents {
					if v == "bottom" {
						keys = append(keys, k)
						deepKey = k
					}
				}
				require.Len(t, keys, 1)
				assert.Len(t, deepKey, MaxKeyBytes)
				assert.True(t, strings.HasPrefix(deepKey, "deep.level.level."), deepKey)
				assert.True(t, strings.HasSuffix(deepKey, TruncatedMarker), deepKey)
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name:    "entry larger than a batch",
			log:     func(l *zap.Logger) { l.Info("huge", zap.String("big", strings.Repeat("y", 100<<10))) },
			dropped: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, func(c *Config) {
				if tc.dropped {
					c.MaxBatchBytes = 64 << 10
				}
			})
			zapErrs := &relZapErrors{}
			logger := relLogger(w, zapErrs)
			logger.Info("before", zap.String("g", "n"), zap.Int("i", 1))
			before := w.Stats()
			tc.log(logger)
			after := w.Stats()
			logger.Info("after", zap.String("g", "n"), zap.Int("i", 2))
			err := logger.Sync()

			logs := srv.Logs()
			var neighbours, bad []slstest.Log
			for _, l := range logs {
				if l.Contents["g"] == "n" {
					neighbours = append(neighbours, l)
				} else {
					bad = append(bad, l)
				}
			}
			require.Len(t, neighbours, 2, "both neighbours arrive")
			assert.Equal(t, "before", neighbours[0].Contents["msg"])
			assert.Equal(t, "after", neighbours[1].Contents["msg"])
			for _, n := range neighbours {
				assert.Len(t, n.Keys, 5, "no leftovers from the bad entry: %v", n.Keys)
			}
			if tc.dropped {
				assert.Zero(t, len(bad), "the bad entry is not delivered")
				var nd *NotDeliveredError
				require.ErrorAs(t, err, &nd)
				assert.Equal(t, 1, nd.Entries)
				assert.Contains(t, err.Error(), "entry too large")
				assert.Equal(t, uint64(1), after.Dropped-before.Dropped)
				assert.Contains(t, errs.text(), "entry too large")
				assert.Equal(t, 1, zapErrs.count(), "zap's ErrorOutput reports it")
				return
			}
			require.NoError(t, err)
			assert.Empty(t, errs.text())
			assert.Zero(t, w.Stats().Dropped)
			tc.check(t, bad, after.Repaired-before.Repaired)
		})
	}
}

// TestBadInputPanickingMarshaler: zap does not recover a panic in
// MarshalLogObject; it is the caller's bug and reaches the caller. zapsls
// must not be left broken by it: the pooled encoder the panic abandoned is
// not reused half-built, the ring is not left with a reserved record, and
// the logger (and other goroutines' loggers) keep working.
func TestBadInputPanickingMarshaler(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	logger := relLogger(w, &relZapErrors{})
	ctx := logger.With(zap.String("ctx", "kept"))

	panics := func(f func()) (msg any) {
		done := make(chan any)
		go func() { // in another goroutine, as in a server handler
			defer func() { done <- recover() }()
			f()
		}()
		return <-done
	}
	logger.Info("before", zap.String("g", "n"), zap.Int("i", 0))
	assert.Equal(t, "marshaler panics", panics(func() { logger.Info("object", zap.Object("obj", relPanicMarshaler{})) }))
	assert.Equal(t, "marshaler panics", panics(func() { ctx.Info("object", zap.Object("obj", relPanicMarshaler{})) }))
	assert.Equal(t, "array marshaler panics", panics(func() { logger.Info("array", zap.Array("arr", relPanicArray{})) }))
	assert.Equal(t, "marshaler panics", panics(func() { _ = logger.With(zap.Object("obj", relPanicMarshaler{})) }))

	// Many goroutines log right after, reusing pooled encoders.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l := logger
				if i%2 == 1 {
					l = ctx
				}
				l.Info("after", zap.String("g", "n"), zap.Int("i", 1+g*200+i), zap.Array("arr", zapcore.ArrayMarshalerFunc(func(enc zapcore.ArrayEncoder) error {
					enc.AppendInt(i)
					return nil
				})))
			}
		}(g)
	}
	wg.Wait()
	require.NoError(t, logger.Sync())
	logs := srv.Logs()
	require.Len(t, logs, 1+8*200)
	for _, l := range logs {
		for k := range l.Contents {
			switch k {
			case "level", "ts", "msg", "g", "i", "arr", "ctx":
			default:
				t.Fatalf("leftover key %q from a panicked entry in %v", k, l.Contents)
			}
		}
		if l.Contents["msg"] == "after" {
			i, _ := strconv.Atoi(l.Contents["i"])
			assert.Equal(t, "["+strconv.Itoa((i-1)%200)+"]", l.Contents["arr"])
		}
	}
	assert.Zero(t, w.Stats().Dropped)
	assert.Empty(t, errs.text())
	assert.Zero(t, w.Stats().Buffered, "no record left reserved in the ring")
}

func TestBadInputThroughWriterWrite(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 1000) + `"bottom"` + strings.Repeat("}", 1000)
	var manyKeys strings.Builder
	manyKeys.WriteString("{")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			manyKeys.WriteByte(',')
		}
		fmt.Fprintf(&manyKeys, `"f%d":%d`, i, i)
	}
	manyKeys.WriteString("}")

	for _, tc := range []struct {
		name     string
		line     string
		dropped  bool
		maxBatch int // MaxBatchBytes, when not the default
		check    func(t *testing.T, c map[string]string, keys []string)
	}{
		{
			name: "invalid UTF-8 keys and values",
			line: "{\"k\xffey\":\"va\xfelue\",\"raw\":[\"\xff\"]}",
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Equal(t, "va\uFFFDlue", c["k\uFFFDey"])
				assert.True(t, utf8.ValidString(c["raw"]), c["raw"])
			},
		},
		{
			name: "value over 1 MB",
			line: `{"big":"` + strings.Repeat("x", 1_500_000) + `"}`,
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Len(t, c["big"], DefaultMaxValueBytes)
				assert.True(t, strings.HasSuffix(c["big"], TruncatedMarker))
			},
		},
		{
			name: "10,000 keys",
			line: manyKeys.String(),
			check: func(t *testing.T, c map[string]string, keys []string) {
				assert.Len(t, keys, 10000)
				assert.Equal(t, "9999", c["f9999"])
			},
		},
		{
			name: "forbidden and 200-byte keys",
			line: `{"__time__":"1","__tag__:x":"2","__source__":"3","":"4","` + strings.Repeat("k", 200) + `":"5"}`,
			check: func(t *testing.T, c map[string]string, keys []string) {
				assert.Equal(t, "1", c["field___time__"])
				assert.Equal(t, "2", c["field___tag__:x"])
				assert.Equal(t, "3", c["field___source__"])
				assert.Equal(t, "4", c["field_"])
				assert.Equal(t, "5", c[strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker))+TruncatedMarker])
				for _, k := range keys {
					assert.LessOrEqual(t, len(k), MaxKeyBytes)
				}
			},
		},
		{
			name: "1000 levels deep",
			line: `{"deep":` + deep + `}`,
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Equal(t, deep, c["deep"], "nested values are JSON text")
			},
		},
		{name: "not JSON", line: `this is not json`, dropped: true},
		{name: "a JSON array", line: `[1,2,3]`, dropped: true},
		{name: "truncated JSON", line: `{"a":"b`, dropped: true},
		{name: "text after the object", line: `{"a":"b"} trailing`, dropped: true},
		{name: "entry larger than a batch", line: `{"big":"` + strings.Repeat("y", 100<<10) + `"}`, dropped: true, maxBatch: 64 << 10},
	} {
		for _, together := range []bool{false, true} {
			mode := "separate writes"
			if together {
				mode = "one write"
			}
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				srv := slstest.NewServer(slstest.Options{})
				defer srv.Close()
				w, errs := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = tc.maxBatch })
				before, after := `{"msg":"before","g":"n"}`, `{"msg":"after","g":"n"}`
				var writeErr error
				if together {
					_, writeErr = w.Write([]byte(before + "\n" + tc.line + "\n" + after + "\n"))
				} else {
					_, err := w.Write([]byte(before + "\n"))
					require.NoError(t, err)
					_, writeErr = w.Write([]byte(tc.line + "\n"))
					_, err = w.Write([]byte(after + "\n"))
					require.NoError(t, err)
				}
				syncErr := w.Sync()
				s := w.Stats()

				var neighbours []string
				var bad []slstest.Log
				for _, l := range srv.Logs() {
					if l.Contents["g"] == "n" {
						neighbours = append(neighbours, l.Contents["msg"])
					} else {
						bad = append(bad, l)
					}
				}
				// Separate writes may ride in batches posted side by side, so
				// their order of arrival is not promised.
				assert.ElementsMatch(t, []string{"before", "after"}, neighbours, "both neighbours arrive")
				if tc.dropped {
					assert.Zero(t, len(bad), "the bad line is not delivered")
					var de *DropError
					require.ErrorAs(t, writeErr, &de, "Write reports the bad line")
					assert.Equal(t, 1, de.Entries)
					var nd *NotDeliveredError
					require.ErrorAs(t, syncErr, &nd)
					assert.Equal(t, 1, nd.Entries, "Sync reports exactly the bad line: %v", syncErr)
					assert.Equal(t, uint64(1), s.Dropped)
					assert.Equal(t, uint64(2), s.Delivered)
					assert.Contains(t, errs.text(), "dropped 1 entries")
					return
				}
				require.NoError(t, writeErr)
				require.NoError(t, syncErr)
				require.Len(t, bad, 1)
				assert.Zero(t, s.Dropped)
				tc.check(t, bad[0].Contents, bad[0].Keys)
			})
		}
	}
}

// TestBadInputRepairsAreCounted: a JSON line whose keys or values had to be
// repaired (invalid UTF-8, reserved or long keys, long values) counts in
// Stats.Repaired, as through the Encoder.
func TestBadInputRepairsAreCounted(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	for _, line := range []string{
		"{\"k\xffey\":\"v\"}",
		"{\"k\":\"v\xfe\"}",
		`{"__time__":"1"}`,
		`{"` + strings.Repeat("k", 200) + `":"1"}`,
		`{"big":"` + strings.Repeat("x", 1_500_000) + `"}`,
	} {
		before := w.Stats().Repaired
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
		assert.Equal(t, before+1, w.Stats().Repaired, "%.40q", line)
	}
	_, err := w.Write([]byte(`{"fine":"line"}`))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), w.Stats().Repaired)
	require.NoError(t, w.Sync())
	assert.Equal(t, 6, srv.LogCount())
}

// TestBadInputFramesAmongGoodOnes: framed Logs (the Encoder's output) in
// one Write: a frame SLS would refuse is dropped and counted, and the
// frames after it still arrive.
func TestBadInputFramesAmongGoodOnes(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	enc := NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(FieldSet{}))
	frame := func(msg string) []byte {
		buf, err := enc.EncodeEntry(zapcore.Entry{Message: msg, Time: time.Now()}, nil)
		require.NoError(t, err)
		defer buf.Free()
		return append([]byte(nil), buf.Bytes()...)
	}
	// A well-framed Log whose content key SLS forbids.
	reserved := []byte{0x0A, 0x14, 0x08, 0x01, 0x12, 0x10, 0x0A, 0x08, '_', '_', 't', 'i', 'm', 'e', '_', '_', 0x12, 0x04, 'a', 'b', 'c', 'd'}
	var p []byte
	p = append(p, frame("first")...)
	p = append(p, reserved...)
	p = append(p, frame("second")...)
	_, err := w.Write(p)
	var de *DropError
	require.ErrorAs(t, err, &de)
	require.NoError(t, func() error {
		err := w.Sync()
		var nd *NotDeliveredError
		if errors.As(err, &nd) && nd.Entries == 1 {
			return nil
		}
		return fmt.Errorf("want exactly 1 entry not delivered, got %v", err)
	}())
	var msgs []string
	for _, l := range srv.Logs() {
		msgs = append(msgs, l.Contents["msg"])
	}
	assert.Equal(t, []string{"first", "second"}, msgs)
	assert.Equal(t, uint64(1), w.Stats().Dropped)
}

// TestSyncCountsManyDistinctCauses: more than 1024 unreported failures of
// more kinds than a NotDeliveredError lists: Sync still counts them all.
func TestSyncCountsManyDistinctCauses(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 << 10 })
	logger := relLogger(w, &relZapErrors{})
	const n = 1100
	for i := 0; i < n; i++ {
		// Too large, each by a different size: a different reason each.
		logger.Info("too large", zap.String("big", strings.Repeat("y", 70<<10+i)))
	}
	err := w.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, n, nd.Entries, "Sync counts every dropped entry")
	sum := 0
	for _, c := range nd.Causes {
		sum += causeEntries(c)
	}
	assert.Equal(t, n, sum, "the causes add up to the entries")
	assert.LessOrEqual(t, len(nd.Causes), maxCauses+2)
	assert.Equal(t, uint64(n), w.Stats().Dropped)
}

// ---------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------

func TestSecurityTLSVerifiesCertificates(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{TLS: true})
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.Endpoint(), "https://127.0.0.1:"))

	// The default client verifies against the system roots: the
	// self-signed certificate is refused, reported at once, not retried.
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.HTTPClient = nil
		c.RetryTimeout = 20 * time.Second
	})
	logger := newTestLogger(w)
	for i := 0; i < 5; i++ {
		logger.Info("tls", zap.String("g", "tls"), zap.Int("i", i))
	}
	start := time.Now()
	err := logger.Sync()
	elapsed := time.Since(start)
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 5, nd.Entries)
	assert.Contains(t, err.Error(), "certificate")
	var pe *PutLogsError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 1, pe.Attempts, "a certificate that does not verify is not retried")
	assert.False(t, pe.Retryable)
	assert.Less(t, elapsed, 5*time.Second, "reported at once, not after the retry budget")
	assert.Contains(t, errs.text(), "certificate")
	assert.Zero(t, srv.LogCount())
	assert.Equal(t, uint64(5), w.Stats().Failed)
	require.NoError(t, w.Close())

	// With a client that trusts the server's certificate, it works.
	w2, _ := newTestWriter(t, srv, nil) // testConfig uses srv.Client()
	logger2 := newTestLogger(w2)
	for i := 0; i < 5; i++ {
		logger2.Info("tls", zap.String("g", "tls"), zap.Int("i", i))
	}
	require.NoError(t, logger2.Sync())
	assert.Equal(t, 5, srv.LogCount())
}

func TestSecurityNoSecretInAnyOutput(t *testing.T) {
	const (
		secret = "S3CRET-b1f0c2d9e8a7"
		token  = "T0KEN-5e6f7a8b9c0d"
	)
	var outputs []string
	collect := func(what string, s ...string) {
		for _, x := range s {
			outputs = append(outputs, what+": "+x)
		}
	}
	printConfig := func(c Config) {
		collect("config", fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(),
			fmt.Sprintf("%+v", &c))
	}
	printWriter := func(w *Writer) {
		printConfig(w.cfg)
		s := w.Stats()
		collect("stats", fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.LastError)
		collect("writer", fmt.Sprintf("%v", w), fmt.Sprintf("%+v", w))
	}
	printErr := func(what string, err error) {
		if err != nil {
			collect(what, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			var nd *NotDeliveredError
			if errors.As(err, &nd) {
				for _, c := range nd.Causes {
					collect(what+" cause", fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))
				}
			}
		}
	}
	reports := &relReports{}
	zapErrs := &relZapErrors{}
	dir := t.TempDir()

	// 1. The server knows the secret and wants another token: 401s with a
	// token are retried, then spooled.
	srv := slstest.NewServer(slstest.Options{AccessKeySecret: secret, SecurityToken: "the-right-token"})
	defer srv.Close()
	p := &tokenProvider{}
	p.token.Store(token)
	cfg1 := testConfig(srv)
	cfg1.AccessKeyID, cfg1.AccessKeySecret = "", ""
	cfg1.Credentials = sls.NewStaticCredentialsProvider(slstest.DefaultAccessKeyID, secret, token)
	cfg1.SpoolDir = dir
	cfg1.OnError = reports.add
	printConfig(cfg1)
	w1, err := NewWriter(cfg1)
	require.NoError(t, err)
	l1 := relLogger(w1, zapErrs)
	for i := 0; i < 20; i++ {
		l1.Info("wrong token", zap.String("g", "a"), zap.Int("i", i))
	}
	l1.DPanic("a DPanic syncs inside Write, and zap prints the error") // development off: no panic
	printErr("sync", l1.Sync())
	printWriter(w1)
	printErr("close", w1.Close())
	assert.NotZero(t, w1.Stats().Spooled)

	// 2. Static credentials with a wrong secret and a token: the signature
	// does not match; a spool replay fails the same way.
	cfg2 := testConfig(srv)
	cfg2.AccessKeySecret = secret + "-wrong"
	cfg2.SecurityToken = token
	cfg2.SpoolDir = dir
	cfg2.OnError = reports.add
	printConfig(cfg2)
	w2, err := NewWriter(cfg2)
	require.NoError(t, err)
	l2 := relLogger(w2, zapErrs)
	for i := 0; i < 20; i++ {
		l2.Info("wrong secret", zap.String("g", "b"), zap.Int("i", i))
	}
	l2.DPanic("again")
	printErr("sync", l2.Sync())
	printWriter(w2)
	printErr("close", w2.Close())

	// 3. The right credentials: the spool is delivered.
	srv.SetCredentials("", "", token)
	cfg3 := testConfig(srv)
	cfg3.AccessKeySecret = secret
	cfg3.SecurityToken = token
	cfg3.SpoolDir = dir
	cfg3.OnError = reports.add
	w3, err := NewWriter(cfg3)
	require.NoError(t, err)
	require.True(t, srv.WaitLogs(int(w1.Stats().Spooled+w2.Stats().Spooled), 10*time.Second))
	printWriter(w3)
	printErr("close", w3.Close())

	// 4. Configuration errors with the secret in the Config.
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Endpoint = "https://ak:" + secret + "@host" },
		func(c *Config) { c.Endpoint = "ftp://" + secret },
		func(c *Config) { c.Project = "" },
		func(c *Config) { c.BufferBytes = 1 },
	} {
		c := testConfig(srv)
		c.AccessKeySecret, c.SecurityToken = secret, token
		mutate(&c)
		_, err := NewWriter(c)
		require.Error(t, err)
		printErr("NewWriter", err)
	}
	// The sink URL carries credentials in its user info.
	_, err = ConfigFromURL("sls://ak:" + secret + "@127.0.0.1:1/proj/store?bogus=1")
	require.Error(t, err)
	printErr("sink URL", err)
	_, err = ConfigFromURL("sls://ak:" + secret + "@127.0.0.1:1/proj/store?linger=soon")
	require.Error(t, err)
	printErr("sink URL", err)

	collect("OnError", reports.text())
	collect("zap ErrorOutput", zapErrs.text())
	require.NotEmpty(t, reports.text())
	require.Contains(t, zapErrs.text(), "write error", "zap printed the DPanic's delivery error")
	for _, o := range outputs {
		assert.NotContains(t, o, secret)
		assert.NotContains(t, o, token)
	}
	// Nor the spool files.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	corrupt, _ := filepath.Glob(filepath.Join(dir, corruptDir, "*"))
	for _, f := range append(files, corrupt...) {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.NotContains(t, string(b), secret, f)
			assert.NotContains(t, string(b), token, f)
		}
	}
	t.Logf("checked %d outputs (%d bytes) for the secret and the token", len(outputs), len(strings.Join(outputs, "")))
}

// heapGrowth runs f and returns how many bytes it allocated.
func relAllocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestSecurityHugeResponseBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 64<<20)
	for _, status := range []int{200, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			srv.SetResponseBody(status, big)
			w, errs := newTestWriter(t, srv, func(c *Config) {
				c.RetryTimeout = time.Second
				c.MaxBatchCount = 10
			})
			logger := newTestLogger(w)
			var err error
			alloc := relAllocatedBy(func() {
				for i := 0; i < 50; i++ {
					logger.Info("huge answer", zap.String("g", "h"), zap.Int("i", i))
				}
				err = logger.Sync()
			})
			s := w.Stats()
			t.Logf("HTTP %d with a 64 MiB body: %d requests, %.1f MiB allocated in all, sync: %.200v", status, s.Requests, float64(alloc)/(1<<20), err)
			assert.Less(t, alloc, uint64(32<<20), "the 64 MiB body is not read")
			if status == 200 {
				require.NoError(t, err, "a 200 is stored, whatever its body")
				assert.Equal(t, 50, srv.LogCount())
				assert.Equal(t, uint64(50), s.Delivered)
			} else {
				var nd *NotDeliveredError
				require.ErrorAs(t, err, &nd)
				assert.Equal(t, 50, nd.Entries)
				assert.Less(t, len(err.Error()), 4<<10, "the error quotes a bounded part of the body")
				assert.Less(t, len(errs.text()), 64<<10*int(s.Requests), "reports are bounded")
				assert.Equal(t, uint64(50), s.Failed)
				assert.NotZero(t, s.Retries, "a 500 is retried")
			}
			// Back to normal answers: the writer works on.
			srv.SetResponseBody(0, nil)
			logger.Info("after", zap.String("g", "h"), zap.Int("i", 100))
			require.NoError(t, logger.Sync())
			require.NoError(t, w.Close())
		})
	}
}

func TestSecuritySlowLorisCannotHangClose(t *testing.T) {
	t.Run("delayed answers", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		srv.SetDelay(time.Minute) // far beyond every timeout below
		w, _ := newTestWriter(t, srv, func(c *Config) {
			// The default 15 s RequestTimeout: only Close's deadline
			// can cut the attempt short.
			c.CloseTimeout = time.Second
			c.SyncTimeout = 500 * time.Millisecond
		})
		logger := newTestLogger(w)
		for i := 0; i < 10; i++ {
			logger.Info("slow", zap.String("g", "s"), zap.Int("i", i))
		}
		start := time.Now()
		err := logger.Sync()
		assert.Less(t, time.Since(start), 2*time.Second, "Sync is bounded by SyncTimeout")
		var nd *NotDeliveredError
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Pending)

		start = time.Now()
		err = w.Close()
		elapsed := time.Since(start)
		assert.Less(t, elapsed, 2500*time.Millisecond, "Close is bounded by CloseTimeout")
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Entries)
		assert.Equal(t, uint64(10), w.Stats().Failed)
		t.Logf("Close returned after %v", elapsed.Round(time.Millisecond))
	})
	t.Run("trickling headers, default client", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var wg sync.WaitGroup
		done := make(chan struct{})
		defer func() {
			close(done)
			ln.Close()
			wg.Wait()
		}()
		wg.Add(1)
		go func() { // an endpoint that reads the request, then answers one byte a second
			defer wg.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer conn.Close()
					r := bufio.NewReader(conn)
					for { // the headers
						line, err := r.ReadString('\n')
						if err != nil || line == "\r\n" {
							break
						}
					}
					msg := "HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("z", 1000)
					for i := 0; i < len(msg); i++ {
						if _, err := conn.Write([]byte{msg[i]}); err != nil {
							return
						}
						select {
						case <-done:
							return
						case <-time.After(time.Second):
						}
					}
				}()
			}
		}()
		errs := &relReports{}
		w, err := NewWriter(Config{
			Endpoint: "http://" + ln.Addr().String(), Project: "p", Logstore: "s",
			AccessKeyID: "ak", AccessKeySecret: "sk",
			CloseTimeout: time.Second, OnError: errs.add,
		})
		require.NoError(t, err)
		logger := newTestLogger(w)
		for i := 0; i < 10; i++ {
			logger.Info("slow", zap.Int("i", i))
		}
		start := time.Now()
		err = w.Close()
		elapsed := time.Since(start)
		assert.Less(t, elapsed, 2500*time.Millisecond, "Close is bounded by CloseTimeout")
		var nd *NotDeliveredError
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Entries)
		t.Logf("Close returned after %v: %v", elapsed.Round(time.Millisecond), err)
	})
}
