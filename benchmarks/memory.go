package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/benchkit"
)

// The memory scenario (-memory) measures what each contender costs in
// resident memory, as a service sees it (/proc/self/status), each in a
// process of its own and the endpoint in another:
//
//   - idle: RSS right after construction (NewWriter; the SDK producer
//     started; the file opened), over the bare process: RSS after
//     runtime.GC() with nothing set up;
//   - steady: the peak RSS over the bare process while logging the SDK's
//     benchmark entry at a paced -rate (2,000 entries/s) for -duration (10 s)
//     from one goroutine, with 1 Writer and with 4 Writers to 4 logstores
//     through a Tee (the SDK producer: one producer, 4 logstores; the file:
//     4 files), every entry going to each;
//   - burst: the end-to-end measurement of -contender for -burst entries
//     (400,000) from 4 goroutines: peak RSS of the whole process, entries/s
//     and CPU per entry.
//
// Both are also split into anonymous memory (RssAnon: the Go heap, mapped
// buffers, stacks) and the rest, file-backed: mostly the pages of the
// program's own code that the contender runs, which the kernel may drop
// and read back, and which depend on where the linker put that code.
//
// The peak is VmHWM after the high-water mark was reset to the bare
// process's RSS (writing 5 to /proc/self/clear_refs); where that fails, it
// is the largest VmRSS sampled every 5 ms.

// steadyWriters are the Writer (logstore) counts of the steady scenario.
var steadyWriters = []int{1, 4}

// measureSteady is the -scenario steady child: o.writers destinations,
// o.rate entries/s for o.duration.
func measureSteady(o options) (r result) {
	r = result{Contender: o.contender, Scenario: "steady", Writers: o.writers, Rate: o.rate, Goroutines: 1,
		GoMaxProcs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	fail := func(err error) result {
		if err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		return r
	}
	wl := benchkit.NewWorkload(o.size)
	r.EntryBytes = wl.Bytes
	t, stop := contenderTarget(o, &r)
	defer stop()

	runtime.GC()
	r.BaseRSS, r.BaseAnon = currentRSS(), currentAnon()
	peak := newPeakMeter()
	defer peak.stop()
	c, err := newContenders(o.contender, t, o.buffer, o.dir, o.writers)
	if err != nil {
		return fail(err)
	}
	time.Sleep(100 * time.Millisecond) // the contender's goroutines start
	r.ConstructedRSS, r.ConstructedAnon = currentRSS(), currentAnon()

	cpu0 := cpuTime()
	start := time.Now()
	n := wl.Paced(c.logger, o.rate, o.duration)
	r.LogSeconds = time.Since(start).Seconds()
	deliverErr := c.deliver(n)
	r.Seconds = time.Since(start).Seconds()
	r.PeakRSS = max(peak.peak(), r.BaseRSS) // the base was measured in this interval too
	r.PeakAnon = max(peak.peakAnon(), r.BaseAnon)
	r.N = n
	r.EntriesPerSec = float64(n) / r.Seconds
	r.LogCallsPerSec = float64(n) / r.LogSeconds
	r.CPUNsPerEntry = float64((cpuTime() - cpu0).Nanoseconds()) / float64(n)

	stats, closeErr := c.close()
	r.Stats = stats
	if t != nil {
		if got, err := t.count(); err != nil {
			closeErr = errors.Join(closeErr, err)
		} else if want := n * o.writers; got != want {
			r.Lost = want - got
			closeErr = errors.Join(closeErr, fmt.Errorf("the server holds %d logs of %d", got, want))
		}
	}
	return fail(errors.Join(deliverErr, closeErr))
}

// peakMeter measures the peak RSS from its creation on.
type peakMeter struct {
	reset bool // VmHWM was reset to the RSS at creation
	done  chan struct{}
	max   chan int64
	anon  int64 // the largest RssAnon sampled; set before max is sent
}

func newPeakMeter() *peakMeter {
	m := &peakMeter{done: make(chan struct{}), max: make(chan int64, 1)}
	if f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0); err == nil {
		_, err = f.WriteString("5")
		m.reset = f.Close() == nil && err == nil
	}
	go func() {
		peak, anon := currentRSS(), currentAnon()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				peak, anon = max(peak, currentRSS()), max(anon, currentAnon())
			case <-m.done:
				m.anon = anon
				m.max <- peak
				return
			}
		}
	}()
	return m
}

// peak stops the meter and returns the peak RSS.
func (m *peakMeter) peak() int64 {
	m.stop()
	sampled := <-m.max
	m.max <- sampled
	if m.reset {
		return max(peakRSS(), sampled)
	}
	return sampled
}

// peakAnon stops the meter and returns the largest anonymous RSS sampled.
func (m *peakMeter) peakAnon() int64 {
	m.peak()
	return m.anon
}

func (m *peakMeter) stop() {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
}

// newContenders sets up writers destinations of one contender: zapsls,
// one Writer per logstore; the SDK producer, one producer for all; the
// file, one file each. Every entry goes to each, through a Tee. With one,
// it is the contender itself, shipping to logstore.
func newContenders(name string, t *target, bufferBytes int, dir string, writers int) (*contender, error) {
	logstores := make([]string, writers)
	for i := range logstores {
		logstores[i] = logstore
		if writers > 1 {
			logstores[i] = logstore + "-" + strconv.Itoa(i+1)
		}
	}
	if name == contenderSDK {
		return newSDKProducer(t, logstores)
	}
	var set []*contender
	closeAll := func() {
		for _, c := range set {
			_, _ = c.close()
		}
	}
	for _, ls := range logstores {
		var c *contender
		var err error
		switch name {
		case contenderZapsls:
			c, err = newZapsls(t, bufferBytes, ls)
		case contenderFile:
			c, err = newZapFile(dir)
		default:
			err = fmt.Errorf("unknown contender %q (want %v)", name, contenders)
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		set = append(set, c)
	}
	if len(set) == 1 {
		return set[0], nil
	}
	cores := make([]zapcore.Core, len(set))
	for i, c := range set {
		cores[i] = c.logger.Core()
	}
	return &contender{
		logger:      zap.New(zapcore.NewTee(cores...), zap.ErrorOutput(zapcore.AddSync(io.Discard))),
		bufferBytes: set[0].bufferBytes,
		deliver: func(n int) error {
			var errs []error
			for _, c := range set {
				errs = append(errs, c.deliver(n))
			}
			return errors.Join(errs...)
		},
		close: func() (string, error) {
			var stats []string
			var errs []error
			for _, c := range set {
				s, err := c.close()
				stats, errs = append(stats, s), append(errs, err)
			}
			return strings.Join(stats, "; "), errors.Join(errs...)
		},
	}, nil
}

// runMemory is -memory: the idle, steady and burst scenarios for every
// contender, o.runs times, each in fresh processes; then a table of medians
// and the targets.
func runMemory(o options) error {
	type key struct {
		contender string
		writers   int // 0: the burst
	}
	got := map[key][]result{}
	for run := 0; run < o.runs; run++ {
		for i := range contenders {
			c := contenders[(i+run)%len(contenders)] // vary the order between runs
			for _, w := range steadyWriters {
				label := fmt.Sprintf("run %d/%d: %s, %d entries/s for %s, %d writer(s)", run+1, o.runs, c, o.rate, o.duration, w)
				r, err := runMemoryChild(o, label, c, w)
				if err != nil {
					return err
				}
				got[key{c, w}] = append(got[key{c, w}], r)
			}
			label := fmt.Sprintf("run %d/%d: %s, burst of %d entries from 4 goroutines", run+1, o.runs, c, o.burst)
			r, err := runReported(o, label, c, o.burst, 4, benchkit.SDKEntryBytes)
			if err != nil {
				return err
			}
			got[key{c, 0}] = append(got[key{c, 0}], r)
		}
	}

	med := func(rs []result, f func(r result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	over := func(f func(r result) int64) func(r result) float64 {
		return func(r result) float64 { return mib(f(r)) }
	}
	constructed := over(func(r result) int64 { return r.ConstructedRSS - r.BaseRSS })
	peak := over(func(r result) int64 { return r.PeakRSS - r.BaseRSS })
	rng := func(rs []result, f func(r result) float64) string {
		lo, hi := f(rs[0]), f(rs[0])
		for _, r := range rs {
			lo, hi = min(lo, f(r)), max(hi, f(r))
		}
		return fmt.Sprintf("%.1f (%.1f-%.1f)", med(rs, f), lo, hi)
	}

	fmt.Printf("\n### Memory: RSS over the bare process, MiB, median (min-max) of %d runs\n\n%s\n\n", o.runs, machineLine())
	fmt.Printf("Steady: the SDK's benchmark entry (%d bytes) at %d entries/s for %s from one goroutine, to every Writer.\n", benchkit.SDKEntryBytes, o.rate, o.duration)
	fmt.Printf("Burst: %d entries from 4 goroutines, peak RSS of the whole process.\n\n", o.burst)
	fmt.Println("| contender | after construction, 1 Writer | peak, 1 Writer | after construction, 4 Writers | peak, 4 Writers | burst: peak RSS | burst: entries/s | burst: CPU µs/entry | lost |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, c := range contenders {
		one, four, burst := got[key{c, 1}], got[key{c, 4}], got[key{c, 0}]
		lost := 0
		for _, rs := range [][]result{one, four, burst} {
			for _, r := range rs {
				lost += r.Lost
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %.2f | %d |\n", c,
			rng(one, constructed), rng(one, peak), rng(four, constructed), rng(four, peak),
			rng(burst, over(func(r result) int64 { return r.PeakRSS })),
			thousands(med(burst, func(r result) float64 { return r.EntriesPerSec })),
			med(burst, func(r result) float64 { return r.CPUNsPerEntry })/1e3, lost)
	}

	constructedAnon := over(func(r result) int64 { return r.ConstructedAnon - r.BaseAnon })
	peakAnon := over(func(r result) int64 { return r.PeakAnon - r.BaseAnon })
	peakFile := over(func(r result) int64 { return (r.PeakRSS - r.PeakAnon) - (r.BaseRSS - r.BaseAnon) })
	fmt.Println("\nThe same RSS split: anonymous memory (RssAnon: heap, buffers, stacks; the peak is its largest sample every 5 ms) and, at the peak, the rest: file-backed, mostly the program's code the contender runs. Over the bare process, MiB:")
	fmt.Println()
	fmt.Println("| contender | anonymous after construction, 1 Writer | anonymous peak, 1 Writer | anonymous peak, 4 Writers | file-backed at the peak, 1 Writer | file-backed at the peak, 4 Writers |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range contenders {
		one, four := got[key{c, 1}], got[key{c, 4}]
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", c, rng(one, constructedAnon), rng(one, peakAnon), rng(four, peakAnon), rng(one, peakFile), rng(four, peakFile))
	}

	z1, z4, zb := got[key{contenderZapsls, 1}], got[key{contenderZapsls, 4}], got[key{contenderZapsls, 0}]
	s1, s4, sb := got[key{contenderSDK, 1}], got[key{contenderSDK, 4}], got[key{contenderSDK, 0}]
	fb := got[key{contenderFile, 0}]
	fmt.Println("\nTargets (issue: memory that follows the backlog), on the medians:")
	check := func(what string, v, limit float64) {
		fmt.Printf("- %s: %.1f vs %.1f MiB -> %s\n", what, v, limit, verdict(v <= limit))
	}
	check("zapsls after NewWriter <= +1 MiB", med(z1, constructed), 1)
	check("  its anonymous part", med(z1, constructedAnon), 1)
	check("zapsls peak at 2,000/s, 1 Writer <= +6 MiB", med(z1, peak), 6)
	check("  its anonymous part", med(z1, peakAnon), 6)
	check("  and below the SDK producer's", med(z1, peak), med(s1, peak))
	check("zapsls peak at 2,000/s, 4 Writers <= +10 MiB", med(z4, peak), 10)
	check("  its anonymous part", med(z4, peakAnon), 10)
	check("  and below the SDK producer's", med(z4, peak), med(s4, peak))
	burstPeak := over(func(r result) int64 { return r.PeakRSS })
	check("burst peak RSS <= half the SDK producer's", med(zb, burstPeak), med(sb, burstPeak)/2)
	check("burst peak RSS <= the file's + 40 MiB", med(zb, burstPeak), med(fb, burstPeak)+40)
	return nil
}

// runMemoryChild runs the steady scenario of contender with writers
// destinations in a fresh process, with a fresh slstest server process for
// the SLS contenders.
func runMemoryChild(o options, label, contender string, writers int) (result, error) {
	fmt.Fprintf(os.Stderr, "%s... ", label)
	args := []string{"-scenario", "steady", "-writers", strconv.Itoa(writers),
		"-rate", strconv.Itoa(o.rate), "-duration", o.duration.String()}
	r, err := runChildArgs(o, contender, args)
	if err != nil {
		fmt.Fprintln(os.Stderr)
		return r, err
	}
	fmt.Fprintf(os.Stderr, "peak +%.1f MiB\n", mib(r.PeakRSS-r.BaseRSS))
	if r.Error != "" {
		fmt.Fprintf(os.Stderr, "  NOTE: %s\n", r.Error)
	}
	return r, nil
}
