package zapsls

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zapsls/zapsls/slstest"
)

// deliveries collects what OnDelivered receives, and on which goroutine.
type deliveries struct {
	mu         sync.Mutex
	got        []Delivery
	goroutines map[uint64]bool
}

func (d *deliveries) add(x Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, x)
	if d.goroutines == nil {
		d.goroutines = map[uint64]bool{}
	}
	d.goroutines[goroutineID()] = true
}

func (d *deliveries) snapshot() ([]Delivery, map[uint64]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Delivery(nil), d.got...), d.goroutines
}

// OnDelivered hears of each acknowledged batch, with its destination,
// size, request id, attempts and latency, from a Writer goroutine, before
// the Sync that covers it returns.
func TestOnDeliveredPerBatch(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	var ds deliveries
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.OnDelivered = ds.add
		c.RetryBackoff, c.RetryBackoffMax = 10*time.Millisecond, 20*time.Millisecond
		c.Linger = time.Hour // one batch, sealed by Sync, however slow the writes
	})
	for i := 0; i < 3; i++ {
		_, err := w.Write([]byte(`{"msg":"one of three"}`))
		require.NoError(t, err)
	}
	require.NoError(t, w.Sync())
	got, goroutines := ds.snapshot()
	require.Len(t, got, 1, "called before Sync returned")
	req := srv.Requests()[0]
	d := got[0]
	assert.Equal(t, "test-project", d.Project)
	assert.Equal(t, "test-logstore", d.Logstore)
	assert.Equal(t, "topic-1", d.Topic)
	assert.Equal(t, "source-1", d.Source)
	assert.Equal(t, 3, d.Entries)
	assert.Equal(t, req.RawSize, d.RawBytes)
	assert.Equal(t, req.WireSize, d.WireBytes)
	assert.Equal(t, req.RequestID, d.RequestID)
	assert.NotEmpty(t, d.RequestID)
	assert.Equal(t, 1, d.Attempts)
	assert.Positive(t, d.Latency)
	assert.False(t, d.Replayed)
	assert.False(t, goroutines[goroutineID()], "never on the caller's goroutine")

	// A batch that needed retries: its attempts, and the request id of the
	// attempt that was stored.
	srv.FailNext(2, slstest.Fault{Status: 503})
	_, err := w.Write([]byte(`{"msg":"retried"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	got, _ = ds.snapshot()
	require.Len(t, got, 2)
	reqs := srv.Requests()
	assert.Equal(t, 3, got[1].Attempts)
	assert.Equal(t, 1, got[1].Entries)
	assert.Equal(t, reqs[len(reqs)-1].RequestID, got[1].RequestID)
	assert.GreaterOrEqual(t, got[1].Latency, 10*time.Millisecond, "two backoffs of at least 5ms")

	// A batch SLS refused is not delivered: no call.
	srv.FailNext(1, slstest.Fault{Status: 400, Code: "PostBodyInvalid"})
	_, err = w.Write([]byte(`{"msg":"refused"}`))
	require.NoError(t, err)
	require.Error(t, w.Sync())
	got, _ = ds.snapshot()
	assert.Len(t, got, 2)
	assert.Equal(t, uint64(4), w.Stats().Delivered)
}

// A batch replayed from the spool is reported as such.
func TestOnDeliveredReplayedBatch(t *testing.T) {
	dir := t.TempDir()
	down := slstest.NewServer(slstest.Options{})
	down.FailFor(time.Hour, slstest.Fault{Status: 503})
	w1, _ := newTestWriter(t, down, func(c *Config) { c.SpoolDir = dir; c.RetryTimeout = 200 * time.Millisecond })
	_, err := w1.Write([]byte(`{"msg":"spooled"}`))
	require.NoError(t, err)
	require.Error(t, w1.Sync())
	require.NoError(t, w1.Close())
	down.Close()

	up := slstest.NewServer(slstest.Options{})
	defer up.Close()
	var ds deliveries
	w2, _ := newTestWriter(t, up, func(c *Config) { c.SpoolDir = dir; c.OnDelivered = ds.add })
	require.True(t, up.WaitLogs(1, 10*time.Second))
	require.NoError(t, w2.Close())
	got, _ := ds.snapshot()
	require.Len(t, got, 1)
	assert.True(t, got[0].Replayed)
	assert.Equal(t, 1, got[0].Entries)
	assert.Equal(t, up.Requests()[0].RequestID, got[0].RequestID)
	assert.Equal(t, "test-project", got[0].Project)
}

// RetryBackoff and RetryBackoffMax set the schedule; quota errors keep
// their harder one relative to them.
func TestRetryBackoffSettings(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.RetryBackoff, c.RetryBackoffMax = 20*time.Millisecond, 40*time.Millisecond
	})
	srv.FailNext(3, slstest.Fault{Status: 503})
	srv.FailNext(1, slstest.Fault{Status: 403, Code: "WriteQuotaExceed"})
	_, err := w.Write([]byte(`{"msg":"backoff"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	retries := retryErrors(errs)
	require.Len(t, retries, 4)
	for i, want := range []struct{ lo, hi time.Duration }{
		{10 * time.Millisecond, 20 * time.Millisecond}, // RetryBackoff
		{20 * time.Millisecond, 40 * time.Millisecond}, // doubled
		{20 * time.Millisecond, 40 * time.Millisecond}, // RetryBackoffMax
		{40 * time.Millisecond, 80 * time.Millisecond}, // quota: 2 x RetryBackoffMax
	} {
		assert.GreaterOrEqual(t, retries[i].Delay, want.lo, i)
		assert.LessOrEqual(t, retries[i].Delay, want.hi, i)
	}
}

func TestBackoffSchedule(t *testing.T) {
	base, ceiling := 100*time.Millisecond, 5*time.Second
	for attempt := 1; attempt <= 70; attempt++ {
		d := min(base<<min(attempt-1, 16), ceiling)
		q := min(5*base<<min(attempt-1, 16), 2*ceiling)
		for range 20 {
			got := backoff(attempt, false, base, ceiling)
			assert.True(t, got >= d/2 && got <= d, "attempt %d: %v not in [%v, %v]", attempt, got, d/2, d)
			got = backoff(attempt, true, base, ceiling)
			assert.True(t, got >= q/2 && got <= q, "quota attempt %d: %v not in [%v, %v]", attempt, got, q/2, q)
		}
	}
	// A base too large to double stays at the ceiling.
	assert.LessOrEqual(t, backoff(60, false, time.Hour, 2*time.Hour), 2*time.Hour)
}

func TestRetryBackoffAndUserAgentConfig(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	for _, tc := range []struct {
		mutate      func(*Config)
		field, text string
	}{
		{func(c *Config) { c.RetryBackoff = -time.Second }, "RetryBackoff", "want a positive duration"},
		{func(c *Config) { c.RetryBackoffMax = -time.Second }, "RetryBackoffMax", "want a positive duration"},
		{func(c *Config) { c.RetryBackoff, c.RetryBackoffMax = time.Second, 500*time.Millisecond }, "RetryBackoffMax", "500ms: want at least RetryBackoff (1s)"},
		{func(c *Config) { c.UserAgent = "app\r\nX-Injected: 1" }, "UserAgent", "control characters"},
		{func(c *Config) { c.UserAgent = "app\x00" }, "UserAgent", "control characters"},
	} {
		cfg := testConfig(srv)
		tc.mutate(&cfg)
		_, err := NewWriter(cfg)
		requireConfigError(t, err, tc.field, tc.text)
	}

	cfg := testConfig(srv)
	c, _, err := cfg.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultRetryBackoff, c.RetryBackoff)
	assert.Equal(t, DefaultRetryBackoffMax, c.RetryBackoffMax)
	cfg.RetryBackoff = 10 * time.Second
	c, _, err = cfg.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, c.RetryBackoffMax, "a default maximum below the base takes the base")

	u, err := ConfigFromURL("sls://h/proj/store?retryBackoff=50ms&retryBackoffMax=2s&userAgent=app%2F1.0")
	require.NoError(t, err)
	assert.Equal(t, 50*time.Millisecond, u.RetryBackoff)
	assert.Equal(t, 2*time.Second, u.RetryBackoffMax)
	assert.Equal(t, "app/1.0", u.UserAgent)
}

// Every request carries the User-Agent: zapsls and its version by default,
// or the configured one.
func TestUserAgentOnTheWire(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	assert.True(t, strings.HasPrefix(DefaultUserAgent(), "zapsls-go/"), DefaultUserAgent())
	for _, tc := range []struct{ configured, want string }{
		{"", DefaultUserAgent()},
		{"checkout/2.3 (zapsls)", "checkout/2.3 (zapsls)"},
	} {
		srv.Reset()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.UserAgent = tc.configured })
		_, err := w.Write([]byte(`{"msg":"ua"}`))
		require.NoError(t, err)
		require.NoError(t, w.Sync())
		require.Len(t, srv.Requests(), 1)
		assert.Equal(t, tc.want, srv.Requests()[0].Header.Get("User-Agent"))
		require.NoError(t, w.Close())
	}
}
