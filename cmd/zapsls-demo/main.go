// Command zapsls-demo shows zapsls at work: it logs a burst of realistic
// request logs through zap from several goroutines, ships every entry to
// Alibaba Cloud Log Service (SLS), and reports what arrived and how fast.
//
//	go run ./cmd/zapsls-demo                  # nothing to configure
//	go run ./cmd/zapsls-demo -n 1000000 -goroutines 4
//
// The logger tees two cores: a console core that prints a sample of the
// warnings and errors to stderr, and a zapsls core that ships every entry,
// Debug and up, to SLS. Logging only encodes the entry and copies it into
// the Writer's buffer; batching, compression and HTTP happen on the Writer's
// own goroutines. logger.Sync returns once SLS has acknowledged every entry.
//
// It runs in one of two modes. Without ZAPSLS_URL in the environment, it
// starts slstest's PutLogs endpoint in process, on loopback, ships the
// entries there, and prints a few of the entries it received, as the SLS
// console would show them. With ZAPSLS_URL, it ships to that logstore
// instead, with the credentials of the ALIBABA_CLOUD_* environment (or of
// the source its credentials parameter names, such as credentials=default);
// the URL grammar is that of zapsls.ConfigFromURL:
//
//	export ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=...
//	export ZAPSLS_URL='sls://cn-hangzhou.log.aliyuncs.com/my-project/my-logstore?topic=demo&tag.env=dev'
//	go run ./cmd/zapsls-demo
//
// The demo cannot read entries back from SLS: look for them in the SLS
// console.
//
// Either way it ends with the throughput, the compression ratio and the
// Writer's Stats. It exits 0 when every entry was delivered, 1 when some
// were not, and 2 for a bad flag or setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

func main() {
	// A soft memory limit, as GOMEMLIMIT sets (unless it is set): the GC
	// collects before the heap passes it. See run for the buffer.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(demoMemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole demo; env reads the environment (os.Getenv in main).
// The demo's report goes to stdout, the console log lines to stderr.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("zapsls-demo", flag.ContinueOnError)
	flags.SetOutput(stderr)
	n := flags.Int("n", 100_000, "number of entries to log")
	goroutines := flags.Int("goroutines", 8, "number of goroutines logging at once")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *n < 0 || *goroutines < 1 || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "zapsls-demo: want -n >= 0, -goroutines >= 1 and no arguments")
		return 2
	}

	// 1. Where the entries go: ZAPSLS_URL, or an endpoint of our own.
	var cfg zapsls.Config
	var srv *slstest.Server
	if rawURL := env("ZAPSLS_URL"); rawURL != "" {
		var err error
		cfg, err = zapsls.ConfigFromURL(rawURL) // errors never echo credentials
		if err != nil {
			fmt.Fprintln(stderr, "zapsls-demo:", err)
			return 2
		}
		// NewWriter would read these from the process environment itself;
		// reading them through env keeps run testable.
		if cfg.CredentialsFrom == "" {
			cfg.AccessKeyID = env(zapsls.EnvAccessKeyID)
			cfg.AccessKeySecret = env(zapsls.EnvAccessKeySecret)
			cfg.SecurityToken = env(zapsls.EnvSecurityToken)
		}
	} else {
		// The endpoint keeps a sample to show (keepLogs) and counts the
		// rest, so that the demo's memory does not grow with -n.
		srv = slstest.NewServer(slstest.Options{KeepLogs: keepLogs})
		defer srv.Close()
		cfg = zapsls.Config{
			Endpoint:        srv.Endpoint(),
			Project:         "demo-project",
			Logstore:        "demo-logstore",
			Topic:           "demo",
			Tags:            map[string]string{"env": "demo"},
			AccessKeyID:     slstest.DefaultAccessKeyID,
			AccessKeySecret: slstest.DefaultAccessKeySecret,
			HTTPClient:      srv.Client(),
		}
	}
	// Memory: in a burst the Writer's buffer fills up to its cap
	// (BufferBytes, 16 MiB by default), and the Go GC lets garbage grow to
	// about the live heap again before collecting: the soft memory limit
	// in main keeps the demo, endpoint included, under 100 MB at any -n;
	// see README.md.
	writer, err := zapsls.NewWriter(cfg) // a bad setting fails here, naming the field
	if err != nil {
		fmt.Fprintln(stderr, "zapsls-demo:", err)
		return 2
	}
	if srv != nil {
		fmt.Fprintf(stdout, "ZAPSLS_URL is not set: shipping to a local SLS endpoint at %s\n", srv.Endpoint())
	} else {
		fmt.Fprintf(stdout, "Shipping to SLS: endpoint %s, project %s, logstore %s\n", cfg.Endpoint, cfg.Project, cfg.Logstore)
	}

	// 2. The logger: every entry to SLS, a sample of Warn+ to the console.
	// struct{ io.Writer } hides (*os.File).Sync, which fails on terminals
	// and pipes and would make logger.Sync report an error.
	console := zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(struct{ io.Writer }{stderr})),
		zap.WarnLevel,
	)
	console = zapcore.NewSamplerWithOptions(console, time.Second, 2, 0) // 2 per message per second
	slsCore := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), writer, zap.DebugLevel)
	logger := zap.New(zapcore.NewTee(console, slsCore))

	// 3. The burst, with a progress line until it is delivered. SIGTERM
	// (how Kubernetes stops a pod) or Ctrl-C ends it early: Go's default
	// would exit at once and lose what is buffered; caught, the demo stops
	// logging and delivers it (logger.Sync, writer.Close), as a service
	// should (README.md, Quickstart).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "Logging %d entries from %d goroutines...\n", *n, *goroutines)
	var logged atomic.Int64
	terminal := isTerminal(stdout)
	stdout = zapcore.Lock(zapcore.AddSync(stdout)) // the progress goroutine prints too
	stopProgress := showProgress(stdout, terminal, &logged, writer)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range *goroutines {
		count := *n / *goroutines
		if g < *n%*goroutines {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handleRequests(ctx, logger, g, count, &logged)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintf(stdout, "\nInterrupted: delivering the %d entries logged so far.\n", logged.Load())
	}
	syncErr := logger.Sync() // returns once SLS has acknowledged every entry
	elapsed := time.Since(start)
	stopProgress()

	// 4. The report.
	stats := writer.Stats()
	if srv != nil {
		printReceived(stdout, srv.Logs(), srv.LogCount(), 5)
	} else {
		fmt.Fprintln(stdout, "\n(The entries went to the real service, which the demo cannot read back: look for them in the SLS console.)")
	}
	printStats(stdout, int(logged.Load()), elapsed, stats)
	if srv != nil {
		fmt.Fprintln(stdout, "\n(The local endpoint runs in this process and verifies every entry on the same CPUs,\n so entries/s here is a floor, not the library's throughput.)")
	}

	if syncErr != nil {
		// A *zapsls.NotDeliveredError: how many entries, and why. When Sync
		// timed out with entries still pending, the reason is in LastError.
		fmt.Fprintln(stderr, "zapsls-demo: logger.Sync:", syncErr)
		var nde *zapsls.NotDeliveredError
		if errors.As(syncErr, &nde) && nde.Pending > 0 && stats.LastError != "" {
			fmt.Fprintln(stderr, "zapsls-demo: the last error was:", stats.LastError)
		}
		_ = writer.Close() // gives pending entries up to CloseTimeout more; its error repeats Sync's
		return 1
	}
	if err := writer.Close(); err != nil {
		fmt.Fprintln(stderr, "zapsls-demo: writer.Close:", err)
		return 1
	}
	return 0
}

// showProgress prints how many entries were logged and how many SLS has
// acknowledged. On a terminal, it prints every 100 ms on one line that each
// print replaces: the line ends with \r rather than starting with it, so
// that a console log line printed meanwhile overwrites it instead of being
// appended to it. Elsewhere (a file, a pipe, CI), where \r would pile every
// print onto one line, it prints a line a second. The returned func prints
// the line a last time and stops.
func showProgress(w io.Writer, terminal bool, logged *atomic.Int64, writer *zapsls.Writer) (stop func()) {
	line := func() string {
		return fmt.Sprintf("  logged %8d   delivered %8d", logged.Load(), writer.Stats().Delivered)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		every, end := time.Second, "\n"
		if terminal {
			every, end = 100*time.Millisecond, "\r"
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprint(w, line()+end)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintln(w, line())
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// A simulated checkout service.
var (
	routes = []struct{ method, path string }{
		{"GET", "/api/cart"}, {"POST", "/api/cart/items"}, {"DELETE", "/api/cart/items/42"},
		{"GET", "/api/products?page=2"}, {"POST", "/api/checkout"}, {"GET", "/healthz"},
	}
	users = []user{
		{ID: 1001, Name: "alice", Plan: "pro"}, {ID: 1002, Name: "bob", Plan: "free"},
		{ID: 1003, Name: "carol", Plan: "enterprise"}, {ID: 1004, Name: "dave", Plan: "free"},
	}
	errUpstream = errors.New("payment provider: connection reset by peer")
)

type user struct {
	ID         int
	Name, Plan string
}

// MarshalLogObject makes user a zap.Object; zapsls flattens it to user.id,
// user.name and user.plan.
func (u user) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt("id", u.ID)
	enc.AddString("name", u.Name)
	enc.AddString("plan", u.Plan)
	return nil
}

// handleRequests logs count simulated HTTP requests, or fewer if ctx ends
// first: mostly Info, with the odd slow request (Warn) and upstream failure
// (Error).
func handleRequests(ctx context.Context, logger *zap.Logger, worker, count int, logged *atomic.Int64) {
	log := logger.With(zap.String("service", "checkout"), zap.Int("worker", worker))
	rng := rand.New(rand.NewPCG(uint64(worker), 1))
	for range count {
		if ctx.Err() != nil {
			return
		}
		route := routes[rng.IntN(len(routes))]
		status := 200
		latency := time.Duration(200+rng.IntN(3000)) * time.Microsecond
		switch r := rng.IntN(1000); {
		case r < 3:
			status = 502
		case r < 15:
			latency *= 100
		case r < 60:
			status = 404
		}
		fields := []zap.Field{
			zap.String("method", route.method),
			zap.String("path", route.path),
			zap.Int("status", status),
			zap.Duration("latency", latency),
			zap.Object("user", users[rng.IntN(len(users))]),
			zap.String("request_id", fmt.Sprintf("%016x", rng.Uint64())),
		}
		switch {
		case status >= 500:
			log.Error("request failed", append(fields, zap.Error(errUpstream))...)
		case latency > 100*time.Millisecond:
			log.Warn("slow request", fields...)
		default:
			log.Info("request served", fields...)
		}
		logged.Add(1)
	}
}

// demoMemoryLimit is the demo's soft memory limit (see run and main).
const demoMemoryLimit = 48 << 20

// keepLogs is how many of the entries the local endpoint keeps to show.
const keepLogs = 10_000

// printReceived prints up to max of the logs the local endpoint kept, as
// the SLS console shows them: the first entries, and the first of each level,
// so that a warning and an error show too; received is how many it
// received in all.
func printReceived(w io.Writer, logs []slstest.Log, received, max int) {
	var picked []int
	seen := map[string]bool{}
	for i, l := range logs {
		if level := l.Contents["level"]; len(picked) < max && !seen[level] {
			seen[level] = true
			picked = append(picked, i)
		}
	}
	for i := 0; i < len(logs) && len(picked) < max; i++ {
		if !slices.Contains(picked, i) {
			picked = append(picked, i)
		}
	}
	slices.Sort(picked)
	if len(picked) == 0 {
		fmt.Fprintln(w, "\nReceived by the endpoint: 0 entries.")
		return
	}

	fmt.Fprintf(w, "\nReceived by the endpoint: %d entries. %d of them, as SLS shows them:\n\n", received, len(picked))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\t__time__\t__topic__\t__source__\t__tag__:env\t__tag__:__pack_id__")
	for n, i := range picked {
		l := logs[i]
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", n+1, l.Time.Local().Format("2006-01-02 15:04:05.000000000"),
			l.Topic, l.Source, l.Tags["env"], l.Tags["__pack_id__"])
	}
	tw.Flush()
	for n, i := range picked {
		l := logs[i]
		keys := make([]string, 0, len(l.Contents))
		for k := range l.Contents {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var pairs []string
		for _, k := range keys {
			pairs = append(pairs, k+"="+truncate(l.Contents[k], 60))
		}
		fmt.Fprintf(w, "\n  #%d contents:\n", n+1)
		printWrapped(w, pairs, "      ", 100)
	}
}

func truncate(s string, max int) string {
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// printWrapped prints words separated by two spaces, in lines of at most
// width columns, each starting with indent.
func printWrapped(w io.Writer, words []string, indent string, width int) {
	line := indent
	for _, word := range words {
		if line != indent && len(line)+2+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if line != indent {
			line += "  "
		}
		line += word
	}
	if line != indent {
		fmt.Fprintln(w, line)
	}
}

// printStats prints the throughput, the compression ratio and every field
// of the Writer's Stats.
func printStats(w io.Writer, logged int, elapsed time.Duration, s zapsls.Stats) {
	fmt.Fprintf(w, "\nLogged %d entries in %v, first log call to logger.Sync returning:\n", logged, elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	if s.Delivered == uint64(logged) {
		fmt.Fprintf(tw, "  entries/s:\t%.0f\n", float64(logged)/elapsed.Seconds())
	} else {
		fmt.Fprintf(tw, "  entries/s:\t- (%d of %d delivered)\n", s.Delivered, logged)
	}
	if s.WireBytes > 0 {
		fmt.Fprintf(tw, "  compression:\t%.1fx (%d bytes raw, %d on the wire)\n",
			float64(s.RawBytes)/float64(s.WireBytes), s.RawBytes, s.WireBytes)
	}
	fmt.Fprintf(tw, "  requests:\t%d\n", s.Requests)
	tw.Flush()

	fmt.Fprintln(w, "\nwriter.Stats():")
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, f := range []struct {
		name  string
		value any
	}{
		{"Enqueued", s.Enqueued}, {"Delivered", s.Delivered}, {"Dropped", s.Dropped},
		{"Failed", s.Failed}, {"Repaired", s.Repaired}, {"Retries", s.Retries},
		{"Requests", s.Requests}, {"Batches", s.Batches}, {"RawBytes", s.RawBytes},
		{"WireBytes", s.WireBytes}, {"Inflight", s.Inflight}, {"Buffered", s.Buffered},
		{"LastError", s.LastError}, {"LastErrorTime", s.LastErrorTime},
	} {
		switch {
		case f.name == "LastError" && s.LastError == "",
			f.name == "LastErrorTime" && s.LastErrorTime.IsZero():
			f.value = "-"
		case f.name == "LastErrorTime":
			f.value = s.LastErrorTime.Local().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "  %s:\t%v\n", f.name, f.value)
	}
	tw.Flush()
}
