package zapsls

// Reports: OnError runs on a goroutine of its own, so an OnError that logs
// into the same Writer, a natural thing to write, never hangs the program
// (DESIGN.md, "Reports").

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// Under every fault the reliability suite injects, an OnError that logs
// into the Writer it reports on: the log calls finish, OnError never runs on
// a logging goroutine, and the entries it logs never wait for the buffer.
func TestOnErrorLoggingIntoTheSameWriter(t *testing.T) {
	const blockTimeout = 500 * time.Millisecond
	for _, f := range relFaults {
		t.Run(f.name, func(t *testing.T) {
			run := f.setup()
			srv := slstest.NewServer(run.opts)
			defer srv.Close()

			var logger atomic.Pointer[zap.Logger]
			var callers sync.Map // goroutine ids of log calls
			var slowest atomic.Int64
			var calls atomic.Int64
			onError := func(err error) {
				calls.Add(1)
				if _, ok := callers.Load(goroutineID()); ok {
					t.Errorf("OnError ran on a logging goroutine: %v", err)
				}
				start := time.Now()
				logger.Load().Error("shipping", zap.Error(err))
				if d := time.Since(start); d > time.Duration(slowest.Load()) {
					slowest.Store(int64(d))
				}
			}
			w, _ := newTestWriter(t, srv, func(c *Config) {
				if run.config != nil {
					run.config(c)
				}
				c.BufferBytes = 256 << 10
				c.MaxBatchBytes = 64 << 10
				c.OnFull = OnFullBlock
				c.BlockTimeout = blockTimeout
				c.RetryTimeout = time.Second
				c.RetryBackoffMax = 100 * time.Millisecond
				c.CloseTimeout = time.Second
				c.OnError = onError
			})
			logger.Store(zap.New(NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel)))

			run.inject(srv)
			pad := strings.Repeat("p", 500)
			var wg sync.WaitGroup
			start := time.Now()
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					callers.Store(goroutineID(), true)
					for i := range 500 {
						logger.Load().Info("entry", zap.Int("g", g), zap.Int("i", i), zap.String("pad", pad))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			if run.clear != nil {
				run.clear(srv)
			}
			_ = w.Close()
			// 2,000 calls, each of which may wait for space once: with
			// the recursion through OnError they did not finish in 40 s.
			assert.Less(t, elapsed, 5*blockTimeout, "2,000 log calls took %v", elapsed)
			assert.Less(t, time.Duration(slowest.Load()), blockTimeout/2, "an entry OnError logs never waits for the buffer")
			s := w.Stats()
			t.Logf("%v: %d OnError calls, %d reports coalesced, %d suppressed, dropped=%d delivered=%d",
				elapsed.Round(time.Millisecond), calls.Load(), s.ReportsCoalesced, s.ReportsSuppressed, s.Dropped, s.Delivered)
		})
	}
}

// Reports beyond the queue's bound reach OnError as one *CoalescedError
// that counts them, entries by fate; none is lost.
func TestOnErrorCoalescesAndCounts(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	release := make(chan struct{})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	defer releaseAll() // before the Writer's Close, which waits for OnError
	reports := &relReports{}
	var coalesced atomic.Pointer[CoalescedError]
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.MaxBatchBytes = 64 << 10
		c.OnError = func(err error) {
			<-release // OnError falls behind
			var ce *CoalescedError
			if errors.As(err, &ce) {
				coalesced.Store(ce)
			}
			reports.add(err)
		}
	})
	const n = maxQueuedReports + 100
	tooLarge := []byte(`{"big":"` + strings.Repeat("y", 100<<10) + `"}` + "\n")
	for range n {
		_, err := w.Write(tooLarge)
		require.Error(t, err)
	}
	releaseAll()
	var nd *NotDeliveredError
	require.ErrorAs(t, w.Sync(), &nd)
	assert.Equal(t, n, nd.Entries)
	dropped, _, _, _ := reports.snapshot()
	assert.Equal(t, n, dropped, "every drop reached OnError, one by one or counted")
	ce := coalesced.Load()
	require.NotNil(t, ce)
	s := w.Stats()
	assert.Equal(t, uint64(ce.Reports), s.ReportsCoalesced)
	assert.Equal(t, ce.Reports, ce.Dropped)
	assert.Positive(t, ce.Reports)
	assert.Contains(t, ce.Error(), "not reported one by one")
}
