// Package benchkit holds what the benchmarks share between the test
// benchmarks of package zapsls and the benchmarks/ module (its own module,
// so that what zapsls is compared against never reaches users' module
// graphs): the SDK's benchmark log and an HTTP client for an slstest server
// in another process.
package benchkit

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// SDKEntryBytes is the size of the Go SDK producer's benchmark log
// (producer/PERFORMANCE_TEST.md): eight keys content_key_1..8 whose values
// are "Nabcdefghijklmnopqrstuvwxyz!@#$%^&*()_0123456789-" and a per-entry
// suffix, about 550 bytes of keys and values.
const SDKEntryBytes = 550

// variants is how many distinct values each key cycles through. They are
// made before the measurement, so that the logging goroutines allocate
// nothing themselves and every contender is handed the same strings.
const variants = 256

// message is the zap message of every entry. The SDK's test also varied
// the topic (5 values) and source (10); here every entry has the same, since
// a zapsls Writer's topic and source belong to the Writer, not the entry.
const message = "sdk benchmark log"

// Workload is the entries the logging goroutines write: eight string
// fields per entry.
type Workload struct {
	keys   [8]string
	values [variants][8]string
	Bytes  int // keys and values of one entry
}

// NewWorkload returns entries of about size bytes of keys and values: for
// SDKEntryBytes exactly the SDK's log; otherwise the same eight keys (or
// k1..k8 when the values would be too short for them), with the SDK's
// value pattern repeated or cut to fit and a 7-digit suffix.
func NewWorkload(size int) *Workload {
	w := &Workload{}
	perPair := size / 8
	for k := range w.keys {
		if size == SDKEntryBytes || perPair >= len("content_key_1")+12 {
			w.keys[k] = "content_key_" + strconv.Itoa(k+1)
		} else {
			w.keys[k] = "k" + strconv.Itoa(k+1)
		}
	}
	for v := range w.values {
		suffix := strconv.Itoa(1_000_000 + v*7919) // seven digits, as from millions of sends
		for k, key := range w.keys {
			pattern := strconv.Itoa(k+1) + "abcdefghijklmnopqrstuvwxyz!@#$%^&*()_0123456789-"
			if size == SDKEntryBytes {
				w.values[v][k] = pattern + suffix
				continue
			}
			n := max(perPair-len(key)-len(suffix), 0)
			body := strings.Repeat(pattern, n/len(pattern)+1)[:n]
			w.values[v][k] = body + suffix
		}
	}
	for k := range w.keys {
		w.Bytes += len(w.keys[k]) + len(w.values[0][k])
	}
	return w
}

// Message is the zap message of every entry.
const Message = message

// Fields sets fields (of length 8) to the string fields of entry i.
func (w *Workload) Fields(i int, fields []zap.Field) {
	vals := &w.values[i%variants]
	for k := range fields {
		fields[k] = zap.String(w.keys[k], vals[k])
	}
}

// Run logs n entries through logger from goroutines goroutines, and returns
// when every log call has returned.
func (w *Workload) Run(logger *zap.Logger, n, goroutines int) {
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		count := n / goroutines
		if g < n%goroutines {
			count++
		}
		wg.Add(1)
		go func(g, count int) {
			defer wg.Done()
			fields := make([]zap.Field, len(w.keys)) // reused: no allocation per entry here
			for i := 0; i < count; i++ {
				w.Fields(i+g*7, fields)
				logger.Info(message, fields...)
			}
		}(g, count)
	}
	wg.Wait()
}

// RunEach is Run with one logger per goroutine: goroutine g logs its share
// of the n entries through loggers[g].
func (w *Workload) RunEach(loggers []*zap.Logger, n int) {
	var wg sync.WaitGroup
	for g, logger := range loggers {
		wg.Add(1)
		go func(g int, logger *zap.Logger) {
			defer wg.Done()
			w.Run(logger, n/len(loggers)+btoi(g < n%len(loggers)), 1)
		}(g, logger)
	}
	wg.Wait()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Paced logs rate entries per second through logger from one goroutine
// for d, a hundredth of the rate every 10 ms, and returns how many it
// logged.
func (w *Workload) Paced(logger *zap.Logger, rate int, d time.Duration) int {
	const tick = 10 * time.Millisecond
	perTick := max(rate/int(time.Second/tick), 1)
	fields := make([]zap.Field, len(w.keys))
	n := 0
	start := time.Now()
	for k := 1; ; k++ {
		for j := 0; j < perTick; j++ {
			w.Fields(n, fields)
			logger.Info(message, fields...)
			n++
		}
		next := start.Add(time.Duration(k) * tick)
		if next.Sub(start) >= d {
			return n
		}
		time.Sleep(time.Until(next))
	}
}
