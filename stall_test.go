package zapsls

// Stalls: what a stalled endpoint costs the callers (README.md, "Config
// reference", OnFull).

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// With OnFull "block", a stalled endpoint costs the callers one
// BlockTimeout per stall, not one per call; once the sender moves again,
// Writes block (and succeed) as before.
func TestBlockPolicyStallCostsOneTimeoutPerStall(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections() // a stalled endpoint: nothing is delivered
	const blockTimeout = 300 * time.Millisecond
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.BufferBytes = 128 << 10
		c.MaxBatchBytes = 64 << 10
		c.MaxInflight = 1
		c.BlockTimeout = blockTimeout
		c.RetryBackoff = 20 * time.Millisecond
		c.RetryBackoffMax = 50 * time.Millisecond
	})
	logger := newTestLogger(w)
	big := strings.Repeat("x", 8<<10)
	const calls = 60 // ~480 KiB: far beyond the buffer and the batches in flight
	start := time.Now()
	for i := range calls {
		logger.Info("fill", zap.String("v", big), zap.Int("i", i))
	}
	elapsed := time.Since(start)
	dropped := w.Stats().Dropped
	require.Greater(t, dropped, uint64(10), "the stall dropped entries")
	// Per call, the drops would cost dropped × BlockTimeout (at least 3 s);
	// per stall, one BlockTimeout and the time to log.
	assert.Less(t, elapsed, 4*blockTimeout, "%d drops took %v", dropped, elapsed)

	// The endpoint recovers: the sender frees space, the stall ends, and
	// Writes that find the buffer full wait for space again instead of
	// dropping: nothing more is lost.
	srv.AcceptConnections()
	var nd *NotDeliveredError
	require.ErrorAs(t, w.Sync(), &nd, "the stall's drops are reported once")
	assert.Equal(t, int(dropped), nd.Entries)
	assert.Contains(t, errs.text(), "buffer full", "and OnError had them before Sync returned")
	for i := range calls {
		logger.Info("after", zap.String("v", big), zap.Int("i", i))
	}
	require.NoError(t, w.Sync())
	assert.Equal(t, dropped, w.Stats().Dropped, "no drop once the sender moves")
	after := 0
	for _, l := range srv.Logs() {
		if l.Contents["msg"] == "after" {
			after++
		}
	}
	assert.Equal(t, calls, after)
}
