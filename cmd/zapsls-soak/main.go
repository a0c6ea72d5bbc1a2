// Command zapsls-soak runs a zapsls Writer for a long time against an
// endpoint that keeps failing, and checks that it stays healthy: memory and
// goroutines bounded, and every entry accounted for.
//
//	go run ./cmd/zapsls-soak                       # one minute
//	go run ./cmd/zapsls-soak -duration 2h -rate 5000 -goroutines 8
//
// It starts slstest's PutLogs endpoint in process (with DiscardLogs, so the
// endpoint keeps only counts) and logs through zap from -goroutines
// goroutines at a steady -rate (entries per second, all together). Meanwhile
// the endpoint misbehaves on a schedule: it refuses connections for
// -refuse-for every -refuse-every, answers a -fail-rate fraction of requests
// with 503 ServerBusy, and every -delay-every slows every answer by -delay
// for -delay-for. Every -status it prints a line: the rate achieved, the
// Writer's counters, the heap and the goroutines.
//
// At the end it stops the faults, closes the Writer and checks:
//
//   - memory: the peak live heap (runtime/metrics /gc/heap/live:bytes) and
//     the peak HeapInuse, sampled every 250 ms, stayed below the buffer's
//     cap (BufferBytes rounded up to a multiple of 8, as the Writer's
//     buffer is) plus -heap-slack MiB. The in-process endpoint's own
//     allocations count too. On Unix the buffer's memory is mapped outside
//     the Go heap, elsewhere it is heap memory; the bound holds either way.
//     Unless GOMEMLIMIT is set, the soak sets the Go memory limit to that
//     bound, as a deployment aiming at "buffer + N MiB" would, and the
//     check catches live memory that grows beyond it.
//   - goroutines: the peak stayed within -goroutine-slack of the count once
//     everything had started, and after Close the count is back to what it
//     was before the Writer and the endpoint started.
//   - accounting: written == delivered + dropped + failed + spooled (the
//     Writer's Stats), written == enqueued + dropped, and the endpoint
//     stored every delivered (and replayed) entry, and beyond them at most
//     the entries of batches retried after a network error: a request the
//     endpoint stored but whose answer was lost (a connection dropped as the
//     endpoint went away) is retried whole and stored twice. The endpoint
//     keeps counts only, so such duplicates are bounded, not identified.
//
// It exits 0 when every check passes, 1 when one fails, 2 for a bad flag.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}

type options struct {
	duration, status       time.Duration
	rate, goroutines       int
	bufferBytes            int
	onFull                 string
	spoolDir               string
	refuseEvery, refuseFor time.Duration
	failRate               float64
	delayEvery, delayFor   time.Duration
	delay                  time.Duration
	seed                   int64
	goroutineSlack         int
	heapSlackMiB           int
	closeTimeout           time.Duration
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("zapsls-soak", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.DurationVar(&o.duration, "duration", time.Minute, "how long to log (hours are fine: -duration 2h)")
	fs.DurationVar(&o.status, "status", 10*time.Second, "interval between status lines")
	fs.IntVar(&o.rate, "rate", 2000, "entries per second, all goroutines together")
	fs.IntVar(&o.goroutines, "goroutines", 4, "logging goroutines")
	fs.IntVar(&o.bufferBytes, "buffer", 16<<20, "the Writer's BufferBytes")
	fs.StringVar(&o.onFull, "onfull", zapsls.OnFullBlock, "the Writer's OnFull: block or drop")
	fs.StringVar(&o.spoolDir, "spool", "", "the Writer's SpoolDir (none by default)")
	fs.DurationVar(&o.refuseEvery, "refuse-every", 20*time.Second, "make the endpoint refuse connections this often (0: never)")
	fs.DurationVar(&o.refuseFor, "refuse-for", 3*time.Second, "for this long each time")
	fs.Float64Var(&o.failRate, "fail-rate", 0.10, "fraction of requests answered 503 ServerBusy")
	fs.DurationVar(&o.delayEvery, "delay-every", 45*time.Second, "slow the answers down this often (0: never)")
	fs.DurationVar(&o.delayFor, "delay-for", 5*time.Second, "for this long each time")
	fs.DurationVar(&o.delay, "delay", 2*time.Second, "by this much")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the random 503s")
	fs.IntVar(&o.goroutineSlack, "goroutine-slack", 32, "goroutines the peak may exceed the count at startup by")
	fs.IntVar(&o.heapSlackMiB, "heap-slack", 64, "MiB the peak HeapInuse may exceed the buffer by")
	fs.DurationVar(&o.closeTimeout, "close-timeout", 30*time.Second, "the Writer's CloseTimeout")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.duration <= 0:
		return o, fmt.Errorf("-duration must be positive")
	case o.status <= 0:
		return o, fmt.Errorf("-status must be positive")
	case o.rate <= 0 || o.goroutines <= 0:
		return o, fmt.Errorf("-rate and -goroutines must be positive")
	case o.failRate < 0 || o.failRate >= 1:
		return o, fmt.Errorf("-fail-rate must be in [0, 1)")
	case o.refuseEvery > 0 && o.refuseFor >= o.refuseEvery:
		return o, fmt.Errorf("-refuse-for must be shorter than -refuse-every")
	case o.delayEvery > 0 && o.delayFor >= o.delayEvery:
		return o, fmt.Errorf("-delay-for must be shorter than -delay-every")
	}
	return o, nil
}

// errorTally counts what the Writer reports through OnError, by kind.
type errorTally struct {
	mu      sync.Mutex
	counts  map[string]int
	lastErr string
	// netRetried sums the entries of batches retried after a network
	// error: the most the endpoint may have stored twice.
	netRetried int
}

func (e *errorTally) add(err error) {
	kind := "other"
	switch err.(type) {
	case *zapsls.DropError:
		kind = "dropped"
	case *zapsls.PutLogsError:
		kind = "failed"
	case *zapsls.SpoolError:
		kind = "spooled"
	default:
		if strings.Contains(err.Error(), "retrying in") {
			kind = "retrying"
		}
	}
	var pe *zapsls.PutLogsError
	netRetry := kind == "retrying" && errors.As(err, &pe) && pe.Status == 0
	e.mu.Lock()
	if netRetry {
		e.netRetried += pe.Entries
	}
	e.counts[kind]++
	e.lastErr = err.Error()
	e.mu.Unlock()
}

func (e *errorTally) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var parts []string
	for _, k := range []string{"retrying", "dropped", "failed", "spooled", "other"} {
		if n := e.counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// peaks samples the heap and the goroutines.
type peaks struct {
	heapInuse  atomic.Uint64
	heapLive   atomic.Uint64
	goroutines atomic.Int64
}

func storeMax[T uint64 | int64](v interface {
	Load() T
	CompareAndSwap(old, new T) bool
}, x T) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

func (p *peaks) sample() (heap, live uint64, goroutines int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		live = m[0].Value.Uint64()
	}
	g := runtime.NumGoroutine()
	storeMax(&p.heapInuse, ms.HeapInuse)
	storeMax(&p.heapLive, live)
	storeMax(&p.goroutines, int64(g))
	return ms.HeapInuse, live, g
}

// faultState describes what the endpoint is doing, for the status line.
type faultState struct {
	refusing, delaying atomic.Bool
	refusals, delays   atomic.Int64
}

func (f *faultState) String() string {
	var now []string
	if f.refusing.Load() {
		now = append(now, "refusing connections")
	}
	if f.delaying.Load() {
		now = append(now, "delaying answers")
	}
	if len(now) == 0 {
		return "503s only"
	}
	return strings.Join(now, " + ")
}

func run(args []string, stdout io.Writer) int {
	o, err := parseFlags(args, stdout)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stdout, "zapsls-soak:", err)
		}
		return 2
	}
	out := zapcore.Lock(zapcore.AddSync(stdout)) // status lines and the summary, from several goroutines
	goroutinesBefore := runtime.NumGoroutine()
	ring := ringSize(o.bufferBytes)
	heapBound := ring + uint64(o.heapSlackMiB)<<20
	memLimit := "GOMEMLIMIT=" + os.Getenv("GOMEMLIMIT")
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(heapBound)))
		memLimit = "Go memory limit " + mib(heapBound)
	}

	srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
	srvClosed := false
	defer func() {
		if !srvClosed {
			srv.Close()
		}
	}()
	if o.failRate > 0 {
		srv.FailRate(o.failRate, slstest.Fault{Status: 503, Code: "ServerBusy"}, o.seed)
	}

	tally := &errorTally{counts: map[string]int{}}
	cfg := zapsls.Config{
		Endpoint:        srv.Endpoint(),
		Project:         "soak",
		Logstore:        "soak",
		Topic:           "soak",
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		BufferBytes:     o.bufferBytes,
		OnFull:          o.onFull,
		SpoolDir:        o.spoolDir,
		CloseTimeout:    o.closeTimeout,
		OnError:         tally.add,
		// The default HTTP client: the transport a production Writer uses.
	}
	w, err := zapsls.NewWriter(cfg)
	if err != nil {
		fmt.Fprintln(out, "zapsls-soak:", err)
		return 2
	}
	writerClosed := false
	defer func() {
		if !writerClosed {
			_ = w.Close()
		}
	}()
	var zapErrors atomic.Int64
	logger := zap.New(
		zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zapcore.DebugLevel),
		zap.ErrorOutput(zapcore.AddSync(writeFunc(func(p []byte) (int, error) {
			zapErrors.Add(1)
			return len(p), nil
		}))),
	)

	fmt.Fprintf(out, "zapsls-soak: %v at %d entries/s from %d goroutines; buffer %s (%s); %s; endpoint %s: %.0f%% 503s",
		o.duration, o.rate, o.goroutines, mib(uint64(o.bufferBytes)), o.onFull, memLimit, srv.Endpoint(), o.failRate*100)
	if o.refuseEvery > 0 {
		fmt.Fprintf(out, ", refuses connections %v every %v", o.refuseFor, o.refuseEvery)
	}
	if o.delayEvery > 0 {
		fmt.Fprintf(out, ", answers %v late for %v every %v", o.delay, o.delayFor, o.delayEvery)
	}
	fmt.Fprintln(out)

	var (
		written atomic.Int64
		behind  atomic.Int64 // entries skipped because a goroutine fell more than a second behind
		pk      peaks
		faults  faultState
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	start := time.Now()

	// The loggers: each keeps its share of the rate, ticking every 10 ms.
	perGoroutine := float64(o.rate) / float64(o.goroutines)
	for g := 0; g < o.goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			l := logger.With(zap.Int("g", g), zap.String("service", "soak"))
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			done, skipped := 0, 0
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				target := int(time.Since(start).Seconds()*perGoroutine) - skipped
				if lag := target - done; lag > int(perGoroutine) {
					// More than a second behind (Write blocked on a full
					// buffer): let it go rather than burst.
					skip := lag - int(perGoroutine)
					skipped += skip
					target -= skip
					behind.Add(int64(skip))
				}
				for ; done < target; done++ {
					l.Info("soak entry",
						zap.Int("i", done),
						zap.String("user", "user-"+strconv.Itoa(done%1000)),
						zap.String("path", "/api/v1/items/"+strconv.Itoa(done%97)),
						zap.Duration("latency", time.Duration(done%5000)*time.Microsecond),
						zap.Bool("ok", done%10 != 0),
					)
					written.Add(1)
				}
			}
		}(g)
	}

	// The fault schedule.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		nextRefuse, nextDelay := start.Add(o.refuseEvery), start.Add(o.delayEvery)
		var refuseEnds, delayEnds time.Time
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				if o.refuseEvery > 0 && !now.Before(nextRefuse) {
					srv.RefuseFor(o.refuseFor)
					faults.refusing.Store(true)
					faults.refusals.Add(1)
					refuseEnds = now.Add(o.refuseFor)
					nextRefuse = nextRefuse.Add(o.refuseEvery)
				}
				if faults.refusing.Load() && !now.Before(refuseEnds) {
					faults.refusing.Store(false)
				}
				if o.delayEvery > 0 && !now.Before(nextDelay) {
					srv.SetDelay(o.delay)
					faults.delaying.Store(true)
					faults.delays.Add(1)
					delayEnds = now.Add(o.delayFor)
					nextDelay = nextDelay.Add(o.delayEvery)
				}
				if faults.delaying.Load() && !now.Before(delayEnds) {
					srv.SetDelay(0)
					faults.delaying.Store(false)
				}
			}
		}
	}()

	// The sampler and the status lines.
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := time.NewTicker(250 * time.Millisecond)
		defer sample.Stop()
		status := time.NewTicker(o.status)
		defer status.Stop()
		lastAt, lastWritten := start, int64(0)
		for {
			select {
			case <-stop:
				return
			case <-sample.C:
				pk.sample()
			case now := <-status.C:
				heap, live, g := pk.sample()
				n := written.Load()
				s := w.Stats()
				fmt.Fprintf(out, "[%7s] rate %5.0f/s  written %d  delivered %d  dropped %d  failed %d  spooled %d  buffered %s  inflight %d  heap %s (live %s, peak %s)  goroutines %d (peak %d)  endpoint: %s\n",
					now.Sub(start).Round(time.Second), float64(n-lastWritten)/now.Sub(lastAt).Seconds(),
					n, s.Delivered, s.Dropped, s.Failed, s.Spooled, mib(uint64(s.Buffered)), s.Inflight,
					mib(heap), mib(live), mib(pk.heapInuse.Load()), g, pk.goroutines.Load(), &faults)
				lastAt, lastWritten = now, n
			}
		}
	}()

	// The count once everything has started and the first connections are
	// open is the baseline; the peak may exceed it by the slack only.
	time.Sleep(min(time.Second, o.duration/4))
	pk.goroutines.Store(0)
	_, _, baseline := pk.sample()

	time.Sleep(time.Until(start.Add(o.duration)))
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)

	// The end: faults off, then Sync and Close must deliver the rest.
	srv.ClearFaults()
	srv.AcceptConnections()
	syncErr := logger.Sync()
	closeErr := w.Close()
	writerClosed = true
	pk.sample()
	s := w.Stats()
	stored := srv.LogCount()
	srv.Close()
	srvClosed = true

	n := uint64(written.Load())
	fmt.Fprintf(out, "\nafter %v: written %d (%.0f/s, %d skipped while behind), delivered %d, dropped %d, failed %d, spooled %d, replayed %d, stored by the endpoint %d\n",
		elapsed.Round(time.Millisecond), n, float64(n)/elapsed.Seconds(), behind.Load(), s.Delivered, s.Dropped, s.Failed, s.Spooled, s.Replayed, stored)
	fmt.Fprintf(out, "requests %d, retries %d, batches %d, %s raw / %s on the wire; endpoint refused connections %d times, delayed answers %d times\n",
		s.Requests, s.Retries, s.Batches, mib(s.RawBytes), mib(s.WireBytes), faults.refusals.Load(), faults.delays.Load())
	fmt.Fprintf(out, "reported through OnError: %s; zap write errors %d\n", tally, zapErrors.Load())
	if syncErr != nil {
		fmt.Fprintf(out, "final Sync: %v\n", syncErr)
	}
	if closeErr != nil {
		fmt.Fprintf(out, "Close: %v\n", closeErr)
	}
	rss := "n/a"
	if hwm, ok := peakRSS(); ok {
		rss = mib(hwm)
	}
	fmt.Fprintf(out, "peak live heap %s, peak HeapInuse %s, peak RSS %s, peak goroutines %d (baseline %d)\n\n",
		mib(pk.heapLive.Load()), mib(pk.heapInuse.Load()), rss, pk.goroutines.Load(), baseline)

	failed := false
	check := func(ok bool, format string, args ...any) {
		verdict := "PASS"
		if !ok {
			verdict, failed = "FAIL", true
		}
		fmt.Fprintf(out, "%s  %s\n", verdict, fmt.Sprintf(format, args...))
	}
	check(pk.heapLive.Load() < heapBound, "bounded memory: peak live heap %s < buffer %s + %d MiB",
		mib(pk.heapLive.Load()), mib(ring), o.heapSlackMiB)
	check(pk.heapInuse.Load() < heapBound, "bounded memory: peak HeapInuse %s < buffer %s + %d MiB",
		mib(pk.heapInuse.Load()), mib(ring), o.heapSlackMiB)
	check(pk.goroutines.Load() <= int64(baseline+o.goroutineSlack), "bounded goroutines: peak %d <= %d at startup + %d",
		pk.goroutines.Load(), baseline, o.goroutineSlack)
	after := settledGoroutines(goroutinesBefore)
	check(after <= goroutinesBefore, "no goroutine left behind: %d after Close, %d before the Writer started", after, goroutinesBefore)
	check(n == s.Delivered+s.Dropped+s.Failed+s.Spooled, "exact accounting: written %d == delivered %d + dropped %d + failed %d + spooled %d",
		n, s.Delivered, s.Dropped, s.Failed, s.Spooled)
	check(n == s.Enqueued+s.Dropped, "every entry enqueued or dropped: %d == %d + %d", n, s.Enqueued, s.Dropped)
	tally.mu.Lock()
	netRetried := uint64(tally.netRetried)
	tally.mu.Unlock()
	delivered := s.Delivered + s.Replayed
	// Beyond what was delivered, only entries whose answer may have been
	// lost: retried after a network error, or given up on (failed or
	// spooled) after one.
	mayBeStored := delivered + netRetried + s.Failed + s.Spooled
	check(uint64(stored) >= delivered && uint64(stored) <= mayBeStored,
		"the endpoint stored what was delivered: %d delivered (%d replayed from the spool) <= %d stored <= %d (+ retried after a network error, failed, spooled)",
		delivered, s.Replayed, stored, mayBeStored)
	if uint64(stored) > delivered {
		fmt.Fprintf(out, "      %d entries stored twice: batches whose answer was lost, retried whole (same __pack_id__)\n", uint64(stored)-delivered)
	}
	check(uint64(zapErrors.Load()) == s.Dropped, "every drop reported to zap's ErrorOutput: %d == %d", zapErrors.Load(), s.Dropped)
	if failed {
		fmt.Fprintln(out, "\nzapsls-soak: FAIL")
		return 1
	}
	fmt.Fprintln(out, "\nzapsls-soak: PASS")
	return 0
}

// ringSize is BufferBytes rounded up as the Writer's buffer rounds its cap:
// to a multiple of 8, at least 4 KiB.
func ringSize(bufferBytes int) uint64 {
	return max(uint64(bufferBytes+7)&^7, 4096)
}

// settledGoroutines waits up to 5 s for the goroutine count to fall to want
// (connections and timers wind down after Close) and returns the count.
func settledGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// peakRSS reads the process's peak resident set size (VmHWM) on Linux.
func peakRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type writeFunc func([]byte) (int, error)

func (f writeFunc) Write(p []byte) (int, error) { return f(p) }
