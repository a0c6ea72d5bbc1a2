package zapsls

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/internal/ring"
	"github.com/zapsls/zapsls/slstest"
)

// TestBufferMemoryFollowsBacklog: through an outage (every request fails
// with 503 ServerBusy, so the posters keep retrying and the sender stops
// taking entries) the buffer fills to its cap, and after recovery it gives
// the memory back within a few seconds, but for its spare list of 1 MiB. Asserted on the buffer's own
// accounting, Stats.BufferMemory: before, at the cap, after recovery.
func TestBufferMemoryFollowsBacklog(t *testing.T) {
	const (
		bufferBytes = 8 << 20
		spare       = 1 << 20 // the buffer's spare list, at most
	)
	srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.BufferBytes = bufferBytes
		c.MaxBatchBytes = 1 << 20
		c.MaxInflight = 2
		c.OnFull = OnFullDrop
	})
	logger := newTestLogger(w)
	payload := zap.String("payload", strings.Repeat("p", 1000))

	before := w.Stats()
	require.Zero(t, before.BufferMemory, "no buffer memory before the first entry")

	srv.FailFor(time.Hour, slstest.Fault{Status: 503})
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; w.Stats().Dropped == 0; i++ {
		require.True(t, time.Now().Before(deadline), "the buffer never filled")
		logger.Info("outage", zap.Int("i", i), payload)
	}
	full := w.Stats()
	require.Greater(t, full.Buffered, bufferBytes-4<<10, "the outage fills the buffer to its cap")
	require.GreaterOrEqual(t, full.BufferMemory, full.Buffered, "the backlog is held")
	require.LessOrEqual(t, full.BufferMemory, bufferBytes+ring.SegmentSize+spare,
		"at the cap: the segments spanning the backlog, and the spare list at most")

	srv.ClearFaults()
	deadline = time.Now().Add(30 * time.Second)
	for s := w.Stats(); s.Buffered != 0 || s.Delivered != s.Enqueued; s = w.Stats() {
		require.True(t, time.Now().Before(deadline), "not delivered after recovery: %+v", s)
		time.Sleep(10 * time.Millisecond)
	}
	// The segments the backlog used stay spare for a trim period or two
	// (a second each), then all but 1 MiB of them are given back.
	deadline = time.Now().Add(10 * time.Second)
	for w.Stats().BufferMemory > ring.SegmentSize+spare {
		require.True(t, time.Now().Before(deadline), "buffer memory not given back after recovery: %+v", w.Stats())
		time.Sleep(10 * time.Millisecond)
	}
	after := w.Stats()
	require.LessOrEqual(t, after.BufferMemory, ring.SegmentSize+spare,
		"after recovery: the segment at the tail and the spare list at most")
	t.Logf("buffer memory: %d bytes before, %d at the cap (%d buffered), %d after recovery",
		before.BufferMemory, full.BufferMemory, full.Buffered, after.BufferMemory)
}

// TestDefaultBufferBytesFollowsMaxBatchBytes: the default cap is
// DefaultBufferBytes, or twice MaxBatchBytes when that is more, so that any
// valid MaxBatchBytes works without setting BufferBytes.
func TestDefaultBufferBytesFollowsMaxBatchBytes(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	for _, tc := range []struct{ maxBatch, want int }{
		{0, DefaultBufferBytes},
		{MaxBatchBytesLimit, 2 * MaxBatchBytesLimit},
	} {
		w, _ := newTestWriter(t, srv, func(c *Config) {
			c.BufferBytes = 0
			c.MaxBatchBytes = tc.maxBatch
		})
		require.Equal(t, tc.want-8, w.ring.MaxRecord(), "MaxBatchBytes %d", tc.maxBatch)
		require.Zero(t, w.Stats().BufferMemory, "a cap, not an allocation")
	}
}
