//go:build unix

package zapsls

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/benchkit"
)

// BenchmarkHotPath measures what an entry costs on the Go SDK's benchmark
// log (8 string fields of ~50 bytes; the entry of BenchmarkEndToEnd and of
// the benchmarks/ tool's burst), with the encoder configuration of that
// burst:
//
//   - encode: the native Encoder's encode of one entry (Core.Write's first
//     step), without zap's Logger; encode-utf8 the same with values in
//     Chinese (valid UTF-8, not ASCII);
//   - window: the batcher's check of an entry's time against the window
//     SLS accepts (appendTimeRepaired), paid once per entry by the
//     batcher's thread;
//   - log: zap's Logger.Info through NewCore into a Writer with its
//     defaults (encode and enqueue), whose sender posts to an slstest
//     server in a child process, from one goroutine and from four (the
//     burst's), which contend for the buffer and the Writer's counters.
//
// It reports the logging threads' CPU time per entry (cpu-ns/entry, on
// Linux): in "log" the batcher and the posters run on other threads and
// do not count (allocations are the whole process's); time spent descheduled on a loaded machine
// does not either. Compare two builds by running their test binaries
// alternately, several times each:
//
//	go test -run '^$' -bench HotPath -count 10 .
func BenchmarkHotPath(b *testing.B) {
	shape := benchkit.NewWorkload(benchkit.SDKEntryBytes)
	fields := make([]zapcore.Field, 8)
	ec := benchE2EEncoderConfig("")

	b.Run("encode", func(b *testing.B) {
		enc := NewEncoder(ec).(*encoder)
		ent := zapcore.Entry{Level: zapcore.InfoLevel, Message: benchkit.Message}
		benchThreadCPU(b, func(i int) {
			shape.Fields(i, fields)
			ent.Time = time.Now()
			final, _ := enc.encode(ent, fields)
			putEncoder(final)
		})
	})

	// The same entry in Chinese, as many SLS users log: values of valid,
	// non-ASCII UTF-8 of about the same length.
	b.Run("encode-utf8", func(b *testing.B) {
		enc := NewEncoder(ec).(*encoder)
		ent := zapcore.Entry{Level: zapcore.InfoLevel, Message: "订单已创建"}
		utf8Fields := make([][]zapcore.Field, 16)
		for v := range utf8Fields {
			shape.Fields(v, fields)
			for k := range fields {
				fields[k].String = "用户下单成功，订单号" + strconv.Itoa(1_000_000+v*7919+k) + "，支付渠道支付宝"
			}
			utf8Fields[v] = append([]zapcore.Field(nil), fields...)
		}
		benchThreadCPU(b, func(i int) {
			ent.Time = time.Now()
			final, _ := enc.encode(ent, utf8Fields[i%len(utf8Fields)])
			putEncoder(final)
		})
	})

	b.Run("window", func(b *testing.B) {
		enc := NewEncoder(ec).(*encoder)
		shape.Fields(0, fields)
		now := time.Now()
		final, frame := enc.encode(zapcore.Entry{Level: zapcore.InfoLevel, Time: now, Message: benchkit.Message}, fields)
		frame = append([]byte(nil), frame...)
		putEncoder(final)
		benchThreadCPU(b, func(int) {
			if _, ok := appendTimeRepaired(nil, frame, now); ok {
				b.Fatal("repaired an entry of now")
			}
		})
	})

	for _, goroutines := range []int{1, benchE2EGoroutines} {
		b.Run("log/goroutines="+strconv.Itoa(goroutines), func(b *testing.B) {
			w, e, errs := newBenchChildWriter(b)
			logger := zap.New(NewCore(NewEncoder(ec), w, zap.InfoLevel))
			benchThreadsCPU(b, goroutines, func(g, i int, fields []zapcore.Field) {
				shape.Fields(i+g*7, fields)
				logger.Info(benchkit.Message, fields...)
			})
			benchCloseWriter(b, w, e, errs)
		})
	}
}

// benchThreadCPU runs entry for 0 to b.N-1 on a locked thread and reports
// allocations and the thread's CPU time per entry (cpu-ns/entry).
func benchThreadCPU(b *testing.B, entry func(i int)) {
	benchThreadsCPU(b, 1, func(_, i int, _ []zapcore.Field) { entry(i) })
}

// benchThreadsCPU runs entry for b.N entries split among goroutines, each
// on a locked thread with fields of its own, and reports allocations and
// the sum of the threads' CPU time per entry (cpu-ns/entry).
func benchThreadsCPU(b *testing.B, goroutines int, entry func(g, i int, fields []zapcore.Field)) {
	b.ReportAllocs()
	var cpu atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lockThread()()
			fields := make([]zapcore.Field, 8)
			start := threadCPUClock()
			for i := g; i < b.N; i += goroutines {
				entry(g, i, fields)
			}
			cpu.Add(int64(threadCPUClock() - start))
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cpu.Load())/float64(b.N), "cpu-ns/entry")
}
