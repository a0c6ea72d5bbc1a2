package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zapsls/zapsls/internal/benchkit"
)

// The latency scenario (-latency) measures how long one log call takes
// while a service logs at a steady, high rate: the SDK's benchmark entry at
// a paced total of -rate (100,000) entries/s from -goroutines (4) goroutines
// for -duration (4 s), each contender in a process of its own and the SLS
// endpoint in another, -runs times, the contenders interleaved.
//
// Pacing: goroutine g owns the time slots g*I/G + k*I, where I is
// goroutines/rate (40 µs at 25,000 entries/s per goroutine) and G the
// goroutine count. It sleeps while its next slot is in the future, and when
// it wakes late (a Go sleep lasts at least about a millisecond) it logs
// every slot that has come due, one call after the other, before it sleeps
// again. So the rate holds however coarse the sleep, no goroutine spins for
// its slots, and the entries come in short bursts of about rate/G entries
// per millisecond, as from a busy service. A -warmup (0.5 s) of the same
// pacing goes first and is not timed: connections and first memory.
//
// Timing: every call is timed around the log call alone (logger.Info; the
// fields are filled before the clock starts), with the monotonic clock
// (time.Since from a base: one vDSO read, about 25 ns here), into
// per-goroutine slices allocated and touched before the measurement, so
// the timed path allocates nothing of its own. Whether a call waited for
// its slot is not part of its latency, but the worst lag behind the
// schedule is reported (pacer lag), and so is the rate achieved.
//
// Also measured over the timed window: allocations per entry of the whole
// process (runtime.MemStats; the sender's per-batch allocations included,
// so an upper bound of the log call's), the process's CPU per entry, the
// GC cycles and their longest stop-the-world pause, and the Go scheduler's
// latency (runtime/metrics /sched/latencies:seconds: how long goroutines,
// the loggers among them, waited runnable for a CPU). -trace writes a
// runtime/trace of the timed window of a -contender run, in which every
// call slower than 1.5 µs is followed by a log event ("slow log call",
// and the bound it passed: ">4us") on its goroutine.

// latencyDefaults are -rate and -duration when the latency scenario is
// run without them.
const (
	latencyRate     = 100_000
	latencyDuration = 4 * time.Second
)

// latencyRecord is what a paced run measured: every call's latency and
// start (nanoseconds from the run's base), and per goroutine the worst lag
// behind its schedule.
type latencyRecord struct {
	lat, at [][]int64
	lag     []time.Duration
	// faults and switches are, with -faults, the page faults and
	// involuntary context switches of each call's thread during the call.
	faults, switches [][]int32
}

// newLatencyRecord returns room for the calls of a paced run, touched so
// that no page is first written inside the measurement; with usage, room
// for each call's faults and context switches too.
func newLatencyRecord(goroutines, perGoroutine int, usage bool) *latencyRecord {
	rec := &latencyRecord{lat: make([][]int64, goroutines), at: make([][]int64, goroutines), lag: make([]time.Duration, goroutines)}
	for g := range rec.lat {
		rec.lat[g], rec.at[g] = make([]int64, perGoroutine), make([]int64, perGoroutine)
		for i := range rec.lat[g] {
			rec.lat[g][i], rec.at[g][i] = -1, -1
		}
	}
	if usage {
		rec.faults, rec.switches = make([][]int32, goroutines), make([][]int32, goroutines)
		for g := range rec.faults {
			rec.faults[g], rec.switches[g] = make([]int32, perGoroutine), make([]int32, perGoroutine)
			for i := range rec.faults[g] {
				rec.faults[g][i], rec.switches[g][i] = -1, -1
			}
		}
	}
	return rec
}

// pacedSlots is how many calls each goroutine makes in a paced run:
// goroutines share rate entries/s for d.
func pacedSlots(rate, goroutines int, d time.Duration) (perGoroutine int, interval time.Duration) {
	interval = time.Duration(goroutines) * time.Second / time.Duration(rate)
	return max(int(d/interval), 1), interval
}

// pace logs rate entries/s through logger from goroutines goroutines for d
// (see the scenario's description above), timing each call into rec when
// rec is not nil, and returns how many entries it logged.
func pace(logger *zap.Logger, wl *benchkit.Workload, rate, goroutines int, d time.Duration, rec *latencyRecord) int {
	slots, interval := pacedSlots(rate, goroutines, d)
	tracing := trace.IsEnabled()
	base := time.Now()
	if tracing && rec != nil {
		trace.Log(context.Background(), "paced", "timed window starts")
	}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			fields := make([]zap.Field, 8) // the workload's eight keys
			phase := interval * time.Duration(g) / time.Duration(goroutines)
			var lat, at []int64
			var faults, switches []int32
			if rec != nil {
				lat, at = rec.lat[g], rec.at[g]
				if rec.faults != nil {
					faults, switches = rec.faults[g], rec.switches[g]
				}
			}
			if faults != nil {
				// Readings of the thread's counters are about this
				// goroutine only while it keeps its thread.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			var lag time.Duration
			for k := 0; k < slots; k++ {
				due := phase + time.Duration(k)*interval
				if now := time.Since(base); now < due {
					time.Sleep(due - now)
				} else {
					lag = max(lag, now-due)
				}
				wl.Fields(k+g*7, fields)
				var f0, s0 int64
				if faults != nil {
					f0, s0 = threadUsage()
				}
				t0 := time.Since(base)
				logger.Info(benchkit.Message, fields...)
				t1 := time.Since(base)
				if faults != nil {
					f1, s1 := threadUsage()
					faults[k], switches[k] = int32(f1-f0), int32(s1-s0)
				}
				if lat != nil {
					lat[k], at[k] = int64(t1-t0), int64(t0)
					if tracing && t1-t0 >= slowCalls[0].over {
						markSlow(t1 - t0)
					}
				}
			}
			if rec != nil {
				rec.lag[g] = lag
			}
		}(g)
	}
	wg.Wait()
	return slots * goroutines
}

// slowCalls are the marks a traced run logs after a slow call, the
// slowest first to match: category "slow log call", message the bound the
// call took at least. They are constants, so marking allocates nothing.
var slowCalls = []struct {
	over time.Duration
	mark string
}{
	{1500 * time.Nanosecond, ">1.5us"}, {4 * time.Microsecond, ">4us"}, {16 * time.Microsecond, ">16us"},
	{64 * time.Microsecond, ">64us"}, {256 * time.Microsecond, ">256us"}, {time.Millisecond, ">1ms"},
}

// markSlow logs a runtime/trace event on the calling goroutine for a call
// that took d, at least slowCalls[0].over: so a trace shows where the slow
// calls end and what else ran meanwhile.
func markSlow(d time.Duration) {
	i := len(slowCalls) - 1
	for d < slowCalls[i].over {
		i--
	}
	trace.Log(context.Background(), "slow log call", slowCalls[i].mark)
}

// latencyStats are the percentiles of a run's call latencies, in
// nanoseconds, and its slowest calls.
type latencyStats struct {
	P50, P90, P99, P999, Max int64
	Mean                     float64
	Over100us, Over1ms       int // calls that took longer
	Slowest                  []slowCall
	Usage                    *usageStats // with -faults
}

// usageStats say, with -faults, what happened to the calling thread
// during the calls: page faults, involuntary context switches (the kernel
// ran something else on its CPU), or neither.
type usageStats struct {
	FaultCalls  int `json:"faultCalls"`  // calls that took at least one page fault
	SwitchCalls int `json:"switchCalls"` // calls without a fault whose thread was switched out
	// Slowest1 and Slowest01 split the calls slower than the p99 and the
	// p99.9: with a fault, switched out without one, neither.
	Slowest1  [3]int `json:"slowest1"`
	Slowest01 [3]int `json:"slowest01"`
	// NeitherP99Ns and NeitherP999Ns are the percentiles of the calls
	// with neither.
	NeitherP99Ns  int64 `json:"neitherP99Ns"`
	NeitherP999Ns int64 `json:"neitherP999Ns"`
}

// Kinds of call for usageStats.
const (
	callFaulted = iota
	callSwitched
	callNeither
)

// usageKind says which of usageStats's kinds a call is.
func usageKind(faults, switches int32) int {
	switch {
	case faults > 0:
		return callFaulted
	case switches > 0:
		return callSwitched
	}
	return callNeither
}

// summarizeUsage computes rec's usageStats, given its p99 and p99.9.
func summarizeUsage(rec *latencyRecord, p99, p999 int64) *usageStats {
	u := &usageStats{}
	var neither []int64
	for g := range rec.lat {
		for i, l := range rec.lat[g] {
			if l < 0 || rec.faults[g][i] < 0 {
				continue
			}
			kind := usageKind(rec.faults[g][i], rec.switches[g][i])
			switch kind {
			case callFaulted:
				u.FaultCalls++
			case callSwitched:
				u.SwitchCalls++
			default:
				neither = append(neither, l)
			}
			if l > p99 {
				u.Slowest1[kind]++
			}
			if l > p999 {
				u.Slowest01[kind]++
			}
		}
	}
	slices.Sort(neither)
	u.NeitherP99Ns, u.NeitherP999Ns = percentile(neither, 0.99), percentile(neither, 0.999)
	return u
}

// slowCall is one of the slowest calls: when it started (ms into the
// timed window), its goroutine, and how long it took (µs).
type slowCall struct {
	AtMs      float64 `json:"atMs"`
	Goroutine int     `json:"g"`
	LatencyUs float64 `json:"us"`
}

// percentile returns the p-th percentile (0 < p <= 1) of sorted: the
// smallest value that at least a fraction p of the values do not exceed.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p-1e-9)) - 1 // 1000*0.99 may be 990.0000000000001
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summarizeLatency computes rec's percentiles and its slowest calls.
func summarizeLatency(rec *latencyRecord, slowest int) latencyStats {
	var all []int64
	var calls []slowCall
	for g := range rec.lat {
		for i, l := range rec.lat[g] {
			if l < 0 {
				continue
			}
			all = append(all, l)
			calls = append(calls, slowCall{AtMs: float64(rec.at[g][i]) / 1e6, Goroutine: g, LatencyUs: float64(l) / 1e3})
		}
	}
	var s latencyStats
	if len(all) == 0 {
		return s
	}
	var sum float64
	for _, l := range all {
		sum += float64(l)
		if l > int64(100*time.Microsecond) {
			s.Over100us++
		}
		if l > int64(time.Millisecond) {
			s.Over1ms++
		}
	}
	s.Mean = sum / float64(len(all))
	slices.Sort(all)
	s.P50, s.P90, s.P99, s.P999 = percentile(all, 0.50), percentile(all, 0.90), percentile(all, 0.99), percentile(all, 0.999)
	s.Max = all[len(all)-1]
	slices.SortFunc(calls, func(a, b slowCall) int {
		switch {
		case a.LatencyUs > b.LatencyUs:
			return -1
		case a.LatencyUs < b.LatencyUs:
			return 1
		}
		return 0
	})
	s.Slowest = calls[:min(slowest, len(calls))]
	if rec.faults != nil {
		s.Usage = summarizeUsage(rec, s.P99, s.P999)
	}
	return s
}

// schedLatencies reads the Go scheduler's histogram of how long goroutines
// waited runnable before they ran.
func schedLatencies() *metrics.Float64Histogram {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return sample[0].Value.Float64Histogram()
}

// histogramQuantiles returns the quantiles qs of the counts that after
// has beyond before (two readings of one histogram), in seconds: the upper
// bound of the bucket each falls in.
func histogramQuantiles(before, after *metrics.Float64Histogram, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return out
	}
	diff := make([]uint64, len(after.Counts))
	var total uint64
	for i := range diff {
		diff[i] = after.Counts[i] - before.Counts[i]
		total += diff[i]
	}
	if total == 0 {
		return out
	}
	for j, q := range qs {
		want := uint64(float64(total)*q + 0.999999)
		var seen uint64
		for i, c := range diff {
			seen += c
			if seen >= want {
				out[j] = after.Buckets[i+1]
				break
			}
		}
	}
	return out
}

// latencyResult is the latency scenario's part of a result.
type latencyResult struct {
	P50Ns     int64   `json:"p50Ns"`
	P90Ns     int64   `json:"p90Ns"`
	P99Ns     int64   `json:"p99Ns"`
	P999Ns    int64   `json:"p999Ns"`
	MaxNs     int64   `json:"maxNs"`
	MeanNs    float64 `json:"meanNs"`
	Over100us int     `json:"over100us"`
	Over1ms   int     `json:"over1ms"`
	Timed     int     `json:"timed"`  // calls timed
	Warmup    int     `json:"warmup"` // entries logged before the timed window
	// CallAllocsPerEntry is the allocations made inside the log calls, per
	// entry, over AllocChecked entries logged after the timed window
	// (logCallAllocs).
	CallAllocsPerEntry float64 `json:"callAllocsPerEntry"`
	AllocChecked       int     `json:"allocChecked"`
	PacerLagNs         int64   `json:"pacerLagNs"` // the worst lag of a goroutine behind its schedule
	GCs                uint32  `json:"gcs"`        // GC cycles in the timed window
	GCPauseNs          uint64  `json:"gcMaxPauseNs"`
	// SchedP99Ns and SchedP999Ns are the Go scheduler's latency in the
	// timed window (bucket upper bounds): how long runnable goroutines
	// waited for a CPU.
	SchedP99Ns  float64     `json:"schedP99Ns"`
	SchedP999Ns float64     `json:"schedP999Ns"`
	Slowest     []slowCall  `json:"slowest,omitempty"`
	Usage       *usageStats `json:"usage,omitempty"` // with -faults
}

// measureLatency is the -scenario latency child: o.contender logs at a
// paced o.rate entries/s from o.goroutines goroutines for o.duration, after
// o.warmup, every call timed.
func measureLatency(o options) (r result) {
	r = result{Contender: o.contender, Scenario: "latency", Rate: o.rate, Goroutines: o.goroutines,
		GoMaxProcs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	fail := func(err error) result {
		if err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		return r
	}
	if o.rate <= 0 || o.goroutines <= 0 || o.duration <= 0 {
		return fail(fmt.Errorf("-rate %d, -goroutines %d, -duration %s: want all positive", o.rate, o.goroutines, o.duration))
	}
	wl, t, c, stop, err := setUp(o, &r)
	defer stop()
	if err != nil {
		return fail(err)
	}

	var lr latencyResult
	if o.warmup > 0 {
		lr.Warmup = pace(c.logger, wl, o.rate, o.goroutines, o.warmup, nil)
	}
	perGoroutine, _ := pacedSlots(o.rate, o.goroutines, o.duration)
	if o.faults && !threadUsageWorks {
		return fail(errors.New("-faults: page faults and context switches per thread are counted on Linux only"))
	}
	rec := newLatencyRecord(o.goroutines, perGoroutine, o.faults)
	var stopTrace func() error
	if o.trace != "" {
		if stopTrace, err = startTrace(o.trace); err != nil {
			return fail(err)
		}
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sched0 := schedLatencies()
	cpu0, faults0 := cpuTime(), minorFaults()
	start := time.Now()
	n := pace(c.logger, wl, o.rate, o.goroutines, o.duration, rec)
	logged := time.Since(start)
	cpu, faults := cpuTime()-cpu0, minorFaults()-faults0
	sched1 := schedLatencies()
	runtime.ReadMemStats(&after)
	if stopTrace != nil {
		if err := stopTrace(); err != nil {
			return fail(err)
		}
	}

	checked, inCalls := logCallAllocs(c.logger, wl, o.rate, o.goroutines, allocWindow)
	lr.AllocChecked, lr.CallAllocsPerEntry = checked, float64(inCalls)/float64(checked)

	total := lr.Warmup + n + checked
	deliverErr := c.deliver(total)
	r.Seconds = time.Since(start).Seconds()
	r.N, r.LogSeconds = total, logged.Seconds()
	// The rate achieved in the timed window: -rate, unless the loggers
	// fell behind their schedule.
	r.EntriesPerSec = float64(n) / logged.Seconds()
	r.LogCallsPerSec = r.EntriesPerSec
	r.MBPerSec = r.EntriesPerSec * float64(wl.Bytes) / 1e6
	r.CPUNsPerEntry = float64(cpu.Nanoseconds()) / float64(n)
	r.AllocsPerEntry = float64(after.Mallocs-before.Mallocs) / float64(n)
	r.AllocBytesPerEntry = float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	r.MinorFaultsPerEntry = float64(faults) / float64(n)

	s := summarizeLatency(rec, 10)
	lr.P50Ns, lr.P90Ns, lr.P99Ns, lr.P999Ns, lr.MaxNs, lr.MeanNs = s.P50, s.P90, s.P99, s.P999, s.Max, s.Mean
	lr.Over100us, lr.Over1ms, lr.Slowest, lr.Timed, lr.Usage = s.Over100us, s.Over1ms, s.Slowest, n, s.Usage
	for _, l := range rec.lag {
		lr.PacerLagNs = max(lr.PacerLagNs, int64(l))
	}
	lr.GCs = after.NumGC - before.NumGC
	for i := before.NumGC; i < after.NumGC && i < before.NumGC+uint32(len(after.PauseNs)); i++ {
		lr.GCPauseNs = max(lr.GCPauseNs, after.PauseNs[i%uint32(len(after.PauseNs))])
	}
	q := histogramQuantiles(sched0, sched1, 0.99, 0.999)
	lr.SchedP99Ns, lr.SchedP999Ns = q[0]*1e9, q[1]*1e9
	r.Latency = &lr

	stats, closeErr := c.close()
	r.Stats = stats
	if t != nil {
		if got, err := t.count(); err != nil {
			closeErr = errors.Join(closeErr, err)
		} else if got != total {
			r.Lost = total - got
			closeErr = errors.Join(closeErr, fmt.Errorf("the server holds %d logs of %d", got, total))
		}
	}
	r.PeakRSS = peakRSS()
	return fail(errors.Join(deliverErr, closeErr))
}

// allocWindow is how long the latency scenario logs, after its timed
// window, with every allocation profiled (logCallAllocs).
const allocWindow = 500 * time.Millisecond

// logCallAllocs logs as pace does for d with every allocation of the
// process profiled (runtime.MemProfileRate 1), and returns how many entries
// it logged and how many allocations were made inside their log calls:
// those whose stack passes through zap's Logger.Info, whatever the
// contender's other goroutines allocate meanwhile. The latency is not
// measured then: profiling every allocation slows the allocating
// goroutines.
func logCallAllocs(logger *zap.Logger, wl *benchkit.Workload, rate, goroutines int, d time.Duration) (n int, allocs int64) {
	before := allocsUnder(logCallFunc)
	prev := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	n = pace(logger, wl, rate, goroutines, d, nil)
	runtime.MemProfileRate = prev
	return n, allocsUnder(logCallFunc) - before
}

// logCallFunc is the function every timed log call goes through.
const logCallFunc = "go.uber.org/zap.(*Logger).Info"

// allocsUnder returns how many allocations the memory profile holds whose
// stack passes through function fn, after two GC cycles so that the
// profile is up to date (runtime.MemProfile).
func allocsUnder(fn string) int64 {
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	for {
		n, _ := runtime.MemProfile(nil, true)
		recs = make([]runtime.MemProfileRecord, n+64)
		if n, ok := runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	var total int64
	for _, rec := range recs {
		frames := runtime.CallersFrames(rec.Stack())
		for {
			f, more := frames.Next()
			if f.Function == fn {
				total += rec.AllocObjects
				break
			}
			if !more {
				break
			}
		}
	}
	return total
}

// startTrace starts a runtime/trace to path; the returned function stops
// it and closes the file.
func startTrace(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		trace.Stop()
		return f.Close()
	}, nil
}

// runLatency is -latency: the latency scenario for every contender, o.runs
// times, interleaved, each in a fresh process (the SLS contenders with a
// fresh slstest server process); then a table of medians and the targets.
func runLatency(o options) error {
	names, err := pickContenders(o.only)
	if err != nil {
		return err
	}
	results, closeResults, err := openResults(o.results)
	if err != nil {
		return err
	}
	defer closeResults()
	got := map[string][]result{}
	for run := 0; run < o.runs; run++ {
		for i := range names {
			c := names[(i+run)%len(names)] // vary the order between runs
			label := fmt.Sprintf("run %d/%d: %s, %s entries/s from %d goroutines for %s", run+1, o.runs, c,
				thousands(float64(o.rate)), o.goroutines, o.duration)
			fmt.Fprintf(os.Stderr, "%s... ", label)
			r, err := runChildArgs(o, c, []string{"-scenario", "latency", "-rate", strconv.Itoa(o.rate),
				"-goroutines", strconv.Itoa(o.goroutines), "-duration", o.duration.String(),
				"-warmup", o.warmup.String(), "-size", strconv.Itoa(o.size), "-faults=" + strconv.FormatBool(o.faults)})
			if err != nil {
				fmt.Fprintln(os.Stderr)
				return err
			}
			if r.Latency == nil {
				fmt.Fprintln(os.Stderr)
				return fmt.Errorf("%s: no latency measured: %s", c, r.Error)
			}
			l := r.Latency
			fmt.Fprintf(os.Stderr, "p50 %s, p99 %s, p99.9 %s, max %s µs\n", us(float64(l.P50Ns)), us(float64(l.P99Ns)), us(float64(l.P999Ns)), us(float64(l.MaxNs)))
			if r.Error != "" {
				fmt.Fprintf(os.Stderr, "  NOTE: %s\n", r.Error)
			}
			got[c] = append(got[c], r)
			line, _ := json.Marshal(r)
			fmt.Fprintln(results, string(line))
		}
	}
	printLatencyTable(o, got)
	return nil
}

// pickContenders returns the contenders named in list (comma-separated),
// in the order tables list them.
func pickContenders(list string) ([]string, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(contenders, name) {
			return nil, fmt.Errorf("-contenders: unknown contender %q (want some of %s)", name, strings.Join(contenders, ", "))
		}
		want[name] = true
	}
	var out []string
	for _, c := range contenders {
		if want[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// us formats nanoseconds as microseconds, with a precision that suits
// their size.
func us(ns float64) string {
	switch v := ns / 1e3; {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return thousands(v)
	}
}

func printLatencyTable(o options, got map[string][]result) {
	med := func(rs []result, f func(l *latencyResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r.Latency)
		}
		return median(v)
	}
	rng := func(rs []result, f func(l *latencyResult) float64) string {
		lo, hi := f(rs[0].Latency), f(rs[0].Latency)
		for _, r := range rs {
			lo, hi = min(lo, f(r.Latency)), max(hi, f(r.Latency))
		}
		return fmt.Sprintf("%s (%s-%s)", us(med(rs, f)), us(lo), us(hi))
	}
	medR := func(rs []result, f func(r result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	p50 := func(l *latencyResult) float64 { return float64(l.P50Ns) }
	p99 := func(l *latencyResult) float64 { return float64(l.P99Ns) }
	p999 := func(l *latencyResult) float64 { return float64(l.P999Ns) }
	pmax := func(l *latencyResult) float64 { return float64(l.MaxNs) }

	fmt.Printf("\n### Log-call latency: %s entries/s from %d goroutines for %s, µs, median (min-max) of %d runs\n\n%s\n\n",
		thousands(float64(o.rate)), o.goroutines, o.duration, o.runs, machineLine())
	var first result
	for _, c := range contenders {
		if rs := got[c]; len(rs) > 0 {
			first = rs[0]
			break
		}
	}
	fmt.Printf("The SDK's benchmark entry (%d bytes), paced; every call timed around the log call alone, after %s of untimed warm-up. "+
		"Allocations in the log call: over %s more with every allocation profiled (stacks through zap's Logger.Info).\n\n",
		first.EntryBytes, o.warmup, allocWindow)
	fmt.Println("| contender | p50 | p99 | p99.9 | max | calls > 100 µs | allocs/entry in the log call | allocs/entry, whole process | CPU µs/entry | GCs | longest GC pause µs | sched p99.9 µs | pacer lag µs | lost |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range contenders {
		rs := got[c]
		if len(rs) == 0 {
			continue
		}
		lost := 0
		for _, r := range rs {
			lost += r.Lost
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.0f | %.4f | %.3f | %.2f | %.0f | %s | %s | %s | %d |\n", c,
			rng(rs, p50), rng(rs, p99), rng(rs, p999), rng(rs, pmax),
			med(rs, func(l *latencyResult) float64 { return float64(l.Over100us) }),
			med(rs, func(l *latencyResult) float64 { return l.CallAllocsPerEntry }),
			medR(rs, func(r result) float64 { return r.AllocsPerEntry }),
			medR(rs, func(r result) float64 { return r.CPUNsPerEntry })/1e3,
			med(rs, func(l *latencyResult) float64 { return float64(l.GCs) }),
			us(med(rs, func(l *latencyResult) float64 { return float64(l.GCPauseNs) })),
			us(med(rs, func(l *latencyResult) float64 { return l.SchedP999Ns })),
			us(med(rs, func(l *latencyResult) float64 { return float64(l.PacerLagNs) })),
			lost)
	}

	if o.faults {
		printUsageTable(names(got), got)
	}

	z, f := got[contenderZapsls], got[contenderFile]
	if len(z) == 0 || len(f) == 0 {
		return
	}
	fmt.Println("\nTargets (issue: log-call latency at a paced 100,000 entries/s from 4 goroutines), on the medians:")
	for _, p := range []struct {
		name string
		f    func(l *latencyResult) float64
	}{{"p50", p50}, {"p99", p99}, {"p99.9", p999}} {
		zv, fv := med(z, p.f), med(f, p.f)
		fmt.Printf("- zapsls %s <= zap-file's: %s vs %s µs (%.2fx) -> %s\n", p.name, us(zv), us(fv), zv/fv, verdict(zv <= fv))
	}
	a := med(z, func(l *latencyResult) float64 { return l.CallAllocsPerEntry })
	fmt.Printf("- zapsls allocations per entry in the log call, 0 as today (below 0.01: none made per entry): %.4f -> %s\n", a, verdict(a < 0.01))
}

// names returns the contenders that got results, in the tables' order.
func names(got map[string][]result) []string {
	var out []string
	for _, c := range contenders {
		if len(got[c]) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// printUsageTable prints, for -faults, what happened to the calling
// threads during the calls, summed over the runs.
func printUsageTable(names []string, got map[string][]result) {
	fmt.Println("\nWhat the calling thread went through during the calls (getrusage RUSAGE_THREAD around each call), summed over the runs:")
	fmt.Println()
	fmt.Println("| contender | calls | with a page fault | switched out, no fault | slowest 1%: fault / switched / neither | slowest 0.1%: fault / switched / neither | p99 of neither, µs (median) | p99.9 of neither, µs (median) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, c := range names {
		var calls, faulted, switched int
		var top1, top01 [3]int
		var p99, p999 []float64
		for _, r := range got[c] {
			u := r.Latency.Usage
			if u == nil {
				continue
			}
			calls += r.Latency.Timed
			faulted += u.FaultCalls
			switched += u.SwitchCalls
			for k := range top1 {
				top1[k] += u.Slowest1[k]
				top01[k] += u.Slowest01[k]
			}
			p99, p999 = append(p99, float64(u.NeitherP99Ns)), append(p999, float64(u.NeitherP999Ns))
		}
		if calls == 0 {
			continue
		}
		pct := func(n int) string { return fmt.Sprintf("%d (%.3f%%)", n, 100*float64(n)/float64(calls)) }
		fmt.Printf("| %s | %d | %s | %s | %d / %d / %d | %d / %d / %d | %s | %s |\n", c, calls, pct(faulted), pct(switched),
			top1[callFaulted], top1[callSwitched], top1[callNeither], top01[callFaulted], top01[callSwitched], top01[callNeither],
			us(median(p99)), us(median(p999)))
	}
}
