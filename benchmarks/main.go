// Command benchmarks measures zapsls end to end against the Go SDK's
// producer and against zap writing to a local file, one process per
// measurement, so that CPU time, allocations and peak RSS belong to one
// contender alone.
//
// Every contender logs the SDK's published benchmark log (eight keys of
// about 50 bytes and a per-entry suffix, about 550 bytes; see the SDK's
// producer/PERFORMANCE_TEST.md) through a zap.Logger from several
// goroutines, and is timed from the first log call until everything is
// delivered:
//
//   - zapsls: zapsls.NewCore and a Writer with its defaults, shipping to an
//     slstest server on loopback; delivered when Sync returns nil.
//   - sdk-producer: github.com/aliyun/aliyun-log-go-sdk/producer v0.1.127
//     with its default configuration, behind a plain zap core
//     (MapObjectEncoder, fmt.Sprint, GenerateLog, SendLog), shipping to
//     another slstest server; it has no flush, so delivered is SafeClose
//     returned and the server holding every entry.
//   - zap-file: zap's JSON encoder and a zapcore.BufferedWriteSyncer on a
//     local file; delivered when Stop returned (flushed and fsynced).
//
// The slstest server runs in a process of its own (-serve), so that the
// work of verifying and decoding requests is not counted as the client's;
// its CPU time is reported separately.
//
// benchmarks/ is a Go module of its own, so that what zapsls is compared
// against (the SDK producer and its logger, go-kit) is not a requirement of
// the zapsls module. Usage, in this directory:
//
//	go run . -contender zapsls -n 200000 -goroutines 4   # one JSON line
//	go run . -all                  # every contender, fresh processes: a table
//	go run . -scaling              # zapsls by entry size and goroutines
//	go run . -all -chart out.png   # and a bar chart of entries/s
//	go run . -memory               # idle, steady and burst memory: a table (memory.go)
//	go run . -latency              # log-call latency at a paced 100,000 entries/s: a table (latency.go)
//	go run . -chart out.png -results all.jsonl  # chart from saved results
//
// A -contender run without -endpoint starts its slstest server inside its
// own process, whose CPU time and allocations then count as the
// contender's; -all and -scaling give every run a server process of its
// own. -cpuprofile profiles a -contender or -serve process; -trace writes a
// runtime/trace of a -scenario latency run's timed window.
//
// Measured per run: entries/s from the first log call until delivered, log
// calls/s until the last log call returned, the process's user+system CPU
// time per entry (getrusage), allocations per entry (runtime.MemStats),
// minor page faults per entry, and peak RSS (VmHWM). benchmarks/run.sh runs
// the Go benchmarks and this tool in one go.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/zapsls/zapsls/internal/benchkit"
	"github.com/zapsls/zapsls/slstest"
)

type options struct {
	contender  string
	n          int
	goroutines int
	size       int
	buffer     int
	endpoint   string
	control    string
	dir        string

	serve        bool
	all          bool
	runs         int
	scaling      bool
	sizes        string
	gcounts      string
	scalingBytes int
	results      string
	chart        string
	cpuProfile   string

	memory   bool
	scenario string
	writers  int
	rate     int
	duration time.Duration
	burst    int

	latency bool
	faults  bool
	only    string
	warmup  time.Duration
	trace   string
}

func main() {
	var o options
	flag.StringVar(&o.contender, "contender", "", "run one contender in this process and print one JSON line: "+strings.Join(contenders, ", "))
	flag.IntVar(&o.n, "n", 200_000, "entries per run")
	flag.IntVar(&o.goroutines, "goroutines", 4, "logging goroutines")
	flag.IntVar(&o.size, "size", benchkit.SDKEntryBytes, "bytes of keys and values per entry (550: the SDK's benchmark log)")
	flag.IntVar(&o.buffer, "buffer", 0, "zapsls Config.BufferBytes (0: its default)")
	flag.StringVar(&o.endpoint, "endpoint", "", "slstest endpoint in another process (set by -all and -scaling); empty: start one in this process")
	flag.StringVar(&o.control, "control", "", "address answering GET /count for -endpoint")
	flag.StringVar(&o.dir, "dir", os.TempDir(), "directory for zap-file's log file")
	flag.BoolVar(&o.serve, "serve", false, "serve slstest on loopback until stdin closes (used by -all and -scaling)")
	flag.BoolVar(&o.all, "all", false, "run every contender in fresh processes and print a table")
	flag.IntVar(&o.runs, "runs", 3, "with -all, -memory or -latency: runs of each contender; tables show medians")
	flag.BoolVar(&o.scaling, "scaling", false, "run zapsls by entry size and goroutines and print a table")
	flag.StringVar(&o.sizes, "sizes", "100,550,2048,8192", "with -scaling: entry sizes in bytes")
	flag.StringVar(&o.gcounts, "goroutine-counts", "1,4,16,64", "with -scaling: goroutine counts")
	flag.IntVar(&o.scalingBytes, "scaling-bytes", 256<<20, "with -scaling: at most this many bytes of entries per run (fewer entries for large sizes)")
	flag.StringVar(&o.results, "results", "", "with -all or -latency: append every run as a JSON line to this file; with -chart alone: read results from it")
	flag.StringVar(&o.chart, "chart", "", "draw a PNG bar chart of entries/s by contender to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "with -contender or -serve: write a CPU profile of this process to this file")
	flag.BoolVar(&o.memory, "memory", false, "run the idle/steady/burst memory scenario for every contender in fresh processes and print a table")
	flag.StringVar(&o.scenario, "scenario", "burst", "with -contender: burst (-n entries as fast as -goroutines can), steady (-rate entries/s for -duration to -writers destinations) or latency (-rate entries/s from -goroutines for -duration, every call timed)")
	flag.IntVar(&o.writers, "writers", 1, "with -scenario steady: destinations (zapsls Writers, SDK producer logstores, files), every entry to each")
	flag.IntVar(&o.rate, "rate", 0, "with -memory, -latency or -scenario steady/latency: entries per second, in total (0: 2,000 for -memory and steady, 100,000 for -latency)")
	flag.DurationVar(&o.duration, "duration", 0, "with -memory, -latency or -scenario steady/latency: how long to log (0: 10s for -memory and steady, 4s for -latency)")
	flag.IntVar(&o.burst, "burst", 400_000, "with -memory: entries of the burst, from 4 goroutines")
	flag.BoolVar(&o.latency, "latency", false, "run the log-call latency scenario for every contender in fresh processes and print a table (latency.go): -rate entries/s from -goroutines for -duration, -runs times")
	flag.StringVar(&o.only, "contenders", strings.Join(contenders, ","), "with -latency: the contenders to run, comma-separated")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "with -latency or -scenario latency: paced logging before the timed window, not timed")
	flag.BoolVar(&o.faults, "faults", false, "with -latency or -scenario latency: count each call's page faults and involuntary context switches (getrusage RUSAGE_THREAD, Linux only; the loggers locked to their threads, two system calls per entry outside the timed call, counted in CPU per entry)")
	flag.StringVar(&o.trace, "trace", "", "with -contender and -scenario latency: write a runtime/trace of the timed window to this file")
	flag.Parse()

	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	latency := o.latency || o.scenario == "latency"
	if o.rate == 0 {
		o.rate = 2000
		if latency {
			o.rate = latencyRate
		}
	}
	if o.duration == 0 {
		o.duration = 10 * time.Second
		if latency {
			o.duration = latencyDuration
		}
	}
	if o.cpuProfile != "" && (o.serve || o.contender != "") {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	switch {
	case o.serve:
		return serve()
	case o.contender != "":
		var r result
		switch o.scenario {
		case "burst":
			r = measure(o)
		case "steady":
			r = measureSteady(o)
		case "latency":
			r = measureLatency(o)
		default:
			return fmt.Errorf("-scenario %q: want burst, steady or latency", o.scenario)
		}
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Println(string(line))
		if r.Error != "" {
			return errors.New(r.Error)
		}
		return nil
	case o.all:
		return runAll(o)
	case o.memory:
		return runMemory(o)
	case o.latency:
		return runLatency(o)
	case o.scaling:
		return runScaling(o)
	case o.chart != "":
		rs, err := readResults(o.results)
		if err != nil {
			return err
		}
		return drawChart(o.chart, summarize(rs))
	}
	flag.Usage()
	return errors.New("nothing to do: give -contender, -all, -memory, -latency, -scaling or -chart")
}

// result is one contender's measurement, printed as one JSON line.
type result struct {
	Contender  string `json:"contender"`
	Scenario   string `json:"scenario,omitempty"` // "steady" or "latency"; empty: the burst
	Writers    int    `json:"writers,omitempty"`  // steady: destinations, every entry to each
	Rate       int    `json:"rate,omitempty"`     // steady and latency: entries/s
	N          int    `json:"n"`
	Goroutines int    `json:"goroutines"`
	EntryBytes int    `json:"entryBytes"` // keys and values of one entry

	Seconds        float64 `json:"seconds"`    // first log call until delivered
	LogSeconds     float64 `json:"logSeconds"` // first log call until the last returned
	EntriesPerSec  float64 `json:"entriesPerSec"`
	LogCallsPerSec float64 `json:"logCallsPerSec"`
	MBPerSec       float64 `json:"mbPerSec"` // entry bytes delivered, in MB (1e6)

	CPUNsPerEntry      float64 `json:"cpuNsPerEntry"` // this process, user+system
	AllocsPerEntry     float64 `json:"allocsPerEntry"`
	AllocBytesPerEntry float64 `json:"allocBytesPerEntry"`
	// MinorFaultsPerEntry counts first touches of fresh pages: a buffer
	// that is large and new costs its page faults in the first pass.
	MinorFaultsPerEntry float64 `json:"minorFaultsPerEntry"`
	PeakRSS             int64   `json:"peakRSS"`                  // VmHWM of the whole process
	BaseRSS             int64   `json:"baseRSS"`                  // RSS before the contender was set up
	ConstructedRSS      int64   `json:"constructedRSS,omitempty"` // steady: RSS right after it was set up
	// BaseAnon, ConstructedAnon and PeakAnon split the steady scenario's
	// RSS: the anonymous part (RssAnon: heap, buffers, stacks; the peak
	// its largest sample every 5 ms); the rest is file-backed, mostly the
	// program's code.
	BaseAnon        int64 `json:"baseAnon,omitempty"`
	ConstructedAnon int64 `json:"constructedAnon,omitempty"`
	PeakAnon        int64 `json:"peakAnon,omitempty"`
	BufferBytes     int   `json:"bufferBytes,omitempty"` // zapsls's configured bound

	Server              string  `json:"server,omitempty"` // "process" or "in-process"
	ServerLogs          int     `json:"serverLogs,omitempty"`
	ServerCPUNsPerEntry float64 `json:"serverCpuNsPerEntry,omitempty"`

	// Lost is how many entries the server does not hold at the end:
	// dropped (zapsls: buffer full after BlockTimeout) or failed.
	Lost  int    `json:"lost"`
	Stats string `json:"stats,omitempty"`
	// Latency is what the latency scenario measured.
	Latency    *latencyResult `json:"latency,omitempty"`
	Error      string         `json:"error,omitempty"`
	GoMaxProcs int            `json:"gomaxprocs"`
	GoVersion  string         `json:"go"`
}

// measure runs one contender in this process.
func measure(o options) (r result) {
	r = result{Contender: o.contender, N: o.n, Goroutines: o.goroutines,
		GoMaxProcs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	fail := func(err error) result {
		if err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		return r
	}
	wl, t, c, stop, err := setUp(o, &r)
	defer stop()
	if err != nil {
		return fail(err)
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, faults0 := cpuTime(), minorFaults()
	start := time.Now()

	wl.Run(c.logger, o.n, o.goroutines)
	logged := time.Since(start)
	deliverErr := c.deliver(o.n)
	elapsed := time.Since(start)

	cpu, faults := cpuTime()-cpu0, minorFaults()-faults0
	runtime.ReadMemStats(&after)

	r.Seconds, r.LogSeconds = elapsed.Seconds(), logged.Seconds()
	r.EntriesPerSec = float64(o.n) / elapsed.Seconds()
	r.LogCallsPerSec = float64(o.n) / logged.Seconds()
	r.MBPerSec = r.EntriesPerSec * float64(wl.Bytes) / 1e6
	r.CPUNsPerEntry = float64(cpu.Nanoseconds()) / float64(o.n)
	r.AllocsPerEntry = float64(after.Mallocs-before.Mallocs) / float64(o.n)
	r.AllocBytesPerEntry = float64(after.TotalAlloc-before.TotalAlloc) / float64(o.n)
	r.MinorFaultsPerEntry = float64(faults) / float64(o.n)

	stats, closeErr := c.close()
	r.Stats = stats
	if t != nil {
		if n, err := t.count(); err != nil {
			closeErr = errors.Join(closeErr, err)
		} else if n != o.n {
			r.Lost = o.n - n
			closeErr = errors.Join(closeErr, fmt.Errorf("the server holds %d logs of %d", n, o.n))
		}
	}
	r.PeakRSS = peakRSS()
	return fail(errors.Join(deliverErr, closeErr))
}

// setUp makes the workload of o's entries and o's contender with its
// target, noting in r the entry size, where the server runs, the RSS
// before the contender was made and its buffer bound. stop releases the
// target, whatever err.
func setUp(o options, r *result) (wl *benchkit.Workload, t *target, c *contender, stop func(), err error) {
	wl = benchkit.NewWorkload(o.size)
	r.EntryBytes = wl.Bytes
	t, stop = contenderTarget(o, r)
	r.BaseRSS = currentRSS()
	if c, err = newContenders(o.contender, t, o.buffer, o.dir, 1); err != nil {
		return nil, nil, nil, stop, err
	}
	r.BufferBytes = c.bufferBytes
	return wl, t, c, stop, nil
}

// contenderTarget returns the endpoint o's contender ships to (nil for the
// file) and notes in r where its server runs.
func contenderTarget(o options, r *result) (t *target, stop func()) {
	if o.contender == contenderFile {
		return nil, func() {}
	}
	t, stop = newTarget(o.endpoint, o.control)
	r.Server = "in-process"
	if o.endpoint != "" {
		r.Server = "process"
	}
	return t, stop
}

// serve is the -serve child: an slstest server that keeps only counts, and
// a control listener answering GET /count with its log count. It prints
// "listening ENDPOINT CONTROL_ADDR", serves until stdin closes, then prints
// one JSON line: logs accepted and CPU time used since listening.
func serve() error {
	srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, srv.LogCount())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	cpu0 := cpuTime()
	fmt.Printf("listening %s %s\n", srv.Endpoint(), ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)

	logs := srv.LogCount()
	cpu := cpuTime() - cpu0
	_ = hs.Close()
	<-served
	line, err := json.Marshal(serverReport{Logs: logs, CPUNs: cpu.Nanoseconds(), PeakRSS: peakRSS()})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

type serverReport struct {
	Logs    int   `json:"logs"`
	CPUNs   int64 `json:"cpuNs"`
	PeakRSS int64 `json:"peakRSS"`
}

// readResults reads JSON lines of results.
func readResults(path string) ([]result, error) {
	if path == "" {
		return nil, errors.New("-chart needs -all or -results FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		if strings.TrimSpace(s.Text()) == "" {
			continue
		}
		var r result
		if err := json.Unmarshal(s.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rs = append(rs, r)
	}
	return rs, s.Err()
}

func parseInts(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad number %q in %q", f, list)
		}
		out = append(out, v)
	}
	return out, nil
}
