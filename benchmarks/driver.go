package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serverProcess is a -serve child of the driver.
type serverProcess struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	out      *bufio.Scanner
	endpoint string
	control  string
}

func startServer() (*serverProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProcess{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if p.out.Scan() {
		f := strings.Fields(p.out.Text())
		if len(f) == 3 && f[0] == "listening" {
			p.endpoint, p.control = f[1], f[2]
			return p, nil
		}
	}
	_ = stdin.Close()
	_ = cmd.Wait()
	return nil, errors.New("the slstest server process did not start")
}

// stop closes the child's stdin, its signal to stop, and returns its report.
func (p *serverProcess) stop() (serverReport, error) {
	_ = p.stdin.Close()
	var rep serverReport
	var err error
	if p.out.Scan() {
		err = json.Unmarshal(p.out.Bytes(), &rep)
	} else {
		err = errors.New("the slstest server process did not report")
	}
	return rep, errors.Join(err, p.cmd.Wait())
}

// runChild measures one contender in a fresh process, with a fresh slstest
// server process for the SLS contenders.
func runChild(o options, contender string, n, goroutines, size int) (result, error) {
	return runChildArgs(o, contender, []string{"-n", strconv.Itoa(n),
		"-goroutines", strconv.Itoa(goroutines), "-size", strconv.Itoa(size)})
}

// runChildArgs is runChild with the child's arguments beyond the
// contender, -buffer and -dir.
func runChildArgs(o options, contender string, extra []string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	args := append([]string{"-contender", contender, "-buffer", strconv.Itoa(o.buffer), "-dir", o.dir}, extra...)
	var srv *serverProcess
	if contender != contenderFile {
		if srv, err = startServer(); err != nil {
			return result{}, err
		}
		args = append(args, "-endpoint", srv.endpoint, "-control", srv.control)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, runErr := cmd.Output()
	var r result
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	parseErr := json.Unmarshal([]byte(lines[len(lines)-1]), &r)
	if srv != nil {
		rep, err := srv.stop()
		if err != nil {
			return r, fmt.Errorf("slstest server: %w", err)
		}
		r.ServerLogs = rep.Logs
		if r.N > 0 {
			r.ServerCPUNsPerEntry = float64(rep.CPUNs) / float64(r.N)
		}
	}
	if parseErr != nil {
		return r, fmt.Errorf("%s: %v (output %q)", contender, errors.Join(runErr, parseErr), out)
	}
	return r, nil // r.Error says what went wrong in a run that finished
}

// runAll is -all: every contender, o.runs times each in turn, then a table
// of medians, the targets of DESIGN.md, and the chart.
// runReported is runChild with a progress line on stderr: label, then the
// entries/s and any note of the child's.
func runReported(o options, label, contender string, n, goroutines, size int) (result, error) {
	fmt.Fprintf(os.Stderr, "%s... ", label)
	r, err := runChild(o, contender, n, goroutines, size)
	if err != nil {
		fmt.Fprintln(os.Stderr)
		return r, err
	}
	fmt.Fprintf(os.Stderr, "%s entries/s\n", thousands(r.EntriesPerSec))
	if r.Error != "" {
		fmt.Fprintf(os.Stderr, "  NOTE: %s\n", r.Error)
	}
	return r, nil
}

// openResults opens path for appending results as JSON lines; with an
// empty path, results go nowhere.
func openResults(path string) (w io.Writer, closeFn func(), err error) {
	if path == "" {
		return io.Discard, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func runAll(o options) error {
	results, closeResults, err := openResults(o.results)
	if err != nil {
		return err
	}
	defer closeResults()
	var all []result
	for run := 0; run < o.runs; run++ {
		for i := range contenders {
			c := contenders[(i+run)%len(contenders)] // vary the order between runs
			label := fmt.Sprintf("run %d/%d: %s, %d entries from %d goroutines", run+1, o.runs, c, o.n, o.goroutines)
			r, err := runReported(o, label, c, o.n, o.goroutines, o.size)
			if err != nil {
				return err
			}
			all = append(all, r)
			line, _ := json.Marshal(r)
			fmt.Fprintln(results, string(line))
		}
	}
	sums := summarize(all)
	printAllTable(os.Stdout, o, sums)
	if o.chart != "" {
		if err := drawChart(o.chart, sums); err != nil {
			return err
		}
		fmt.Printf("\nchart: %s\n", o.chart)
	}
	return nil
}

// summary is the median of each metric over a contender's runs.
type summary struct {
	result
	runs             int
	minRate, maxRate float64
}

// summarize groups results by contender, in the order of contenders, and
// takes the median of each metric separately.
func summarize(rs []result) []summary {
	var out []summary
	for _, name := range contenders {
		var group []result
		for _, r := range rs {
			if r.Contender == name {
				group = append(group, r)
			}
		}
		if len(group) == 0 {
			continue
		}
		s := summary{result: group[0], runs: len(group)}
		pick := func(f func(r result) float64) float64 {
			v := make([]float64, len(group))
			for i, r := range group {
				v[i] = f(r)
			}
			return median(v)
		}
		s.EntriesPerSec = pick(func(r result) float64 { return r.EntriesPerSec })
		s.LogCallsPerSec = pick(func(r result) float64 { return r.LogCallsPerSec })
		s.MBPerSec = pick(func(r result) float64 { return r.MBPerSec })
		s.Seconds = pick(func(r result) float64 { return r.Seconds })
		s.CPUNsPerEntry = pick(func(r result) float64 { return r.CPUNsPerEntry })
		s.AllocsPerEntry = pick(func(r result) float64 { return r.AllocsPerEntry })
		s.AllocBytesPerEntry = pick(func(r result) float64 { return r.AllocBytesPerEntry })
		s.MinorFaultsPerEntry = pick(func(r result) float64 { return r.MinorFaultsPerEntry })
		s.PeakRSS = int64(pick(func(r result) float64 { return float64(r.PeakRSS) }))
		s.ServerCPUNsPerEntry = pick(func(r result) float64 { return r.ServerCPUNsPerEntry })
		s.minRate, s.maxRate = group[0].EntriesPerSec, group[0].EntriesPerSec
		s.Lost = 0
		for _, r := range group {
			s.minRate = min(s.minRate, r.EntriesPerSec)
			s.maxRate = max(s.maxRate, r.EntriesPerSec)
			s.Lost += r.Lost
		}
		out = append(out, s)
	}
	return out
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func find(sums []summary, name string) *summary {
	for i := range sums {
		if sums[i].Contender == name {
			return &sums[i]
		}
	}
	return nil
}

func printAllTable(w io.Writer, o options, sums []summary) {
	fmt.Fprintf(w, "\n### End to end: %d entries of %d bytes from %d goroutines, median of %d runs\n\n",
		o.n, sums[0].EntryBytes, o.goroutines, sums[0].runs)
	fmt.Fprintln(w, machineLine())
	fmt.Fprintln(w)
	sdk, file := find(sums, contenderSDK), find(sums, contenderFile)
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	fmt.Fprintln(w, "| contender | entries/s (min-max) | MB/s | vs sdk-producer | vs zap-file | log calls/s | CPU µs/entry | CPU vs zap-file | allocs/entry | alloc B/entry | page faults/entry | peak RSS MiB | server CPU µs/entry | lost |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range sums {
		vsSDK, vsFile, cpuVsFile := "-", "-", "-"
		if sdk != nil {
			vsSDK = ratio(s.EntriesPerSec, sdk.EntriesPerSec)
		}
		if file != nil {
			vsFile = ratio(s.EntriesPerSec, file.EntriesPerSec)
			cpuVsFile = ratio(s.CPUNsPerEntry, file.CPUNsPerEntry)
		}
		server := "-"
		if s.ServerCPUNsPerEntry > 0 {
			server = fmt.Sprintf("%.2f", s.ServerCPUNsPerEntry/1e3)
		}
		fmt.Fprintf(w, "| %s | %s (%s-%s) | %.1f | %s | %s | %s | %.2f | %s | %.2f | %.0f | %.3f | %.1f | %s | %d |\n",
			s.Contender, thousands(s.EntriesPerSec), thousands(s.minRate), thousands(s.maxRate), s.MBPerSec,
			vsSDK, vsFile, thousands(s.LogCallsPerSec), s.CPUNsPerEntry/1e3, cpuVsFile,
			s.AllocsPerEntry, s.AllocBytesPerEntry, s.MinorFaultsPerEntry, mib(s.PeakRSS), server, s.Lost)
	}
	z := find(sums, contenderZapsls)
	if z == nil {
		return
	}
	fmt.Fprintln(w, "\nTargets (DESIGN.md):")
	if sdk != nil {
		x := z.EntriesPerSec / sdk.EntriesPerSec
		fmt.Fprintf(w, "- throughput >= 5x the SDK producer: %.2fx -> %s\n", x, verdict(x >= 5))
		fmt.Fprintf(w, "  (client CPU per entry, sdk-producer / zapsls: %.2fx: the throughput ratio where the client's CPUs are the limit;\n"+
			"  here the slstest server shares the machine's %d CPUs and costs zapsls %.2f µs, the SDK %.2f µs per entry)\n",
			sdk.CPUNsPerEntry/z.CPUNsPerEntry, runtime.NumCPU(), z.ServerCPUNsPerEntry/1e3, sdk.ServerCPUNsPerEntry/1e3)
	}
	if file != nil {
		fmt.Fprintf(w, "- CPU per entry <= zap JSON + BufferedWriteSyncer to a file: %.2f µs vs %.2f µs -> %s\n",
			z.CPUNsPerEntry/1e3, file.CPUNsPerEntry/1e3, verdict(z.CPUNsPerEntry <= file.CPUNsPerEntry))
	}
	limit := int64(z.BufferBytes) + 32<<20
	fmt.Fprintf(w, "- peak RSS <= BufferBytes + 32 MiB: %.1f MiB vs %.1f MiB -> %s\n",
		mib(z.PeakRSS), mib(limit), verdict(z.PeakRSS <= limit))
	fmt.Fprintf(w, "- nothing lost: %d entries not delivered over %d runs -> %s\n", z.Lost, z.runs, verdict(z.Lost == 0))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// runScaling is -scaling: zapsls by entry size and goroutine count.
func runScaling(o options) error {
	sizes, err := parseInts(o.sizes)
	if err != nil {
		return err
	}
	gcounts, err := parseInts(o.gcounts)
	if err != nil {
		return err
	}
	var rows []result
	for _, size := range sizes {
		for _, g := range gcounts {
			n := min(o.n, max(o.scalingBytes/size, 1000))
			label := fmt.Sprintf("scaling: %d B entries, %d goroutines, %d entries", size, g, n)
			r, err := runReported(o, label, contenderZapsls, n, g, size)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
	}
	fmt.Printf("\n### zapsls scaling: entry size x logging goroutines (one run each)\n\n%s\n\n", machineLine())
	fmt.Println("| entry B | goroutines | entries | entries/s | MB/s | log calls/s | CPU µs/entry | CPU ns/byte | allocs/entry | page faults/entry | peak RSS MiB | BufferBytes+32 MiB | within | server CPU µs/entry | lost |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		limit := int64(r.BufferBytes) + 32<<20
		fmt.Printf("| %d | %d | %d | %s | %.1f | %s | %.2f | %.2f | %.2f | %.3f | %.1f | %.0f | %s | %.2f | %d |\n",
			r.EntryBytes, r.Goroutines, r.N, thousands(r.EntriesPerSec), r.MBPerSec, thousands(r.LogCallsPerSec),
			r.CPUNsPerEntry/1e3, r.CPUNsPerEntry/float64(r.EntryBytes), r.AllocsPerEntry, r.MinorFaultsPerEntry,
			mib(r.PeakRSS), mib(limit), yesNo(r.PeakRSS <= limit), r.ServerCPUNsPerEntry/1e3, r.Lost)
	}
	return nil
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// thousands formats v rounded, with thousands separators: 1,234,567.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b bytes.Buffer
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machineLine names the Go version, the CPUs and the load when it is
// called: the numbers above mean little without it.
func machineLine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("%s %s/%s, %d CPUs (%s), GOMAXPROCS %d%s, %s",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model,
		runtime.GOMAXPROCS(0), load, time.Now().UTC().Format(time.RFC3339))
}
