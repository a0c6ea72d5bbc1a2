//go:build unix

package zapsls

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zapsls/zapsls/internal/benchkit"
)

// BenchmarkDestinations compares one Writer serving four logstores with
// four Writers, one per logstore, on the SDK's benchmark log from four
// goroutines (one per logstore), the slstest endpoint in a child process.
// It reports entries/s until delivered, this process's CPU per entry, and
// its peak resident memory (VmHWM): run each contender in a process of its
// own for that figure to be its own (README.md, "Many destinations"):
//
//	go test -run '^$' -bench 'Destinations/one-writer' -benchtime 400000x
//	go test -run '^$' -bench 'Destinations/four-writers' -benchtime 400000x
func BenchmarkDestinations(b *testing.B) {
	shape := benchkit.NewWorkload(benchkit.SDKEntryBytes)
	logstores := []string{"log-a", "log-b", "log-c", "log-d"}

	b.Run("one-writer", func(b *testing.B) {
		w, e, errs := newBenchChildWriter(b)
		var loggers []*zap.Logger
		for _, ls := range logstores {
			loggers = append(loggers, zap.New(NewCore(NewEncoder(benchE2EEncoderConfig("")), w, zap.InfoLevel, WithDestination(Destination{Logstore: ls}))))
		}
		benchDestinations(b, shape, loggers, func() {
			if err := w.Sync(); err != nil {
				b.Error(err)
			}
		})
		benchCloseWriter(b, w, e, errs)
	})

	b.Run("four-writers", func(b *testing.B) {
		e := newBenchChildEndpoint(b)
		var errs atomic.Int64
		var writers []*Writer
		var loggers []*zap.Logger
		for _, ls := range logstores {
			cfg := benchSLSConfig(e, &errs)
			cfg.Logstore = ls
			w, err := NewWriter(cfg)
			if err != nil {
				e.stop(b)
				b.Fatal(err)
			}
			writers = append(writers, w)
			loggers = append(loggers, zap.New(NewCore(NewEncoder(benchE2EEncoderConfig("")), w, zap.InfoLevel)))
		}
		benchDestinations(b, shape, loggers, func() {
			for _, w := range writers {
				if err := w.Sync(); err != nil {
					b.Error(err)
				}
			}
		})
		var delivered uint64
		for _, w := range writers {
			if err := w.Close(); err != nil {
				b.Error(err)
			}
			delivered += w.Stats().Delivered
		}
		if logs, _ := e.stop(b); uint64(logs) != delivered {
			b.Errorf("server stored %d logs, the Writers count %d delivered", logs, delivered)
		}
	})
}

func benchDestinations(b *testing.B, shape *benchkit.Workload, loggers []*zap.Logger, deliver func()) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := benchCPUTime(b)
	start := time.Now()
	shape.RunEach(loggers, b.N)
	deliver()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := benchCPUTime(b) - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/entry")
	if hwm, ok := benchPeakRSS(); ok {
		b.ReportMetric(hwm, "peak-rss-MiB")
	}
}

// benchPeakRSS is this process's peak resident memory (VmHWM), in MiB.
func benchPeakRSS() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024, err == nil
		}
	}
	return 0, false
}
