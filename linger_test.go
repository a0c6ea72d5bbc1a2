package zapsls

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// Linger bounds how long a batch's first entry waits for company (Config),
// whatever other routes hold open. The batcher, while a batch to one route
// is open, sleeps until that batch is due or drainBytes arrive: an entry to
// another route written meanwhile waits in the buffer, and its batch's
// Linger must count that wait too, not start again when it is drained.
func TestLingerBoundsEveryRoute(t *testing.T) {
	const linger = time.Second
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = linger })
	logger := newTestLogger(w)

	logger.Info("first", zap.String("g", "a"), zap.Int("i", 0), Topic("a"))
	time.Sleep(linger / 20) // the batcher opened a's batch and sleeps until it is due
	written := time.Now()
	logger.Info("second", zap.String("g", "b"), zap.Int("i", 0), Topic("b"))
	arrived := func() bool {
		for _, l := range srv.Logs() {
			if l.Topic == "b" {
				return true
			}
		}
		return false
	}
	// Linger, and half of it for a loaded machine; not Linger again (the
	// entry would wait nearly 2 × Linger: until a's batch was due, then a
	// Linger of its own).
	require.Eventually(t, arrived, linger+linger/2, 10*time.Millisecond,
		"an entry to b waited more than Linger after it was written")
	require.Less(t, time.Since(written), linger+linger/2)
}

// A batch that holds MaxBatchCount entries can take no more: it is sealed
// at once, not kept open until another entry or its Linger comes.
func TestLingerFullBatchIsNotHeld(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchCount = 2; c.Linger = time.Hour })
	logger := newTestLogger(w)
	logger.Info("one", zap.String("g", "c"), zap.Int("i", 0))
	logger.Info("two", zap.String("g", "c"), zap.Int("i", 1))
	require.Eventually(t, func() bool { return srv.LogCount() == 2 }, 10*time.Second, 10*time.Millisecond,
		"a batch of MaxBatchCount entries waited for its Linger (an hour)")
}
