package zapsls

// Misconfiguration fails fast: an endpoint that cannot deliver is reported
// in a round trip, with a hint, and never eats Sync's or Close's timeout
// (README.md, "Delivery guarantees").

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

func TestMisconfiguredEndpointFailsFast(t *testing.T) {
	const syncTimeout = 10 * time.Second
	for _, tc := range []struct {
		name     string
		endpoint func(srv *slstest.Server) string
		opts     slstest.Options
		hint     string
	}{
		{
			name: "refused port",
			endpoint: func(srv *slstest.Server) string {
				srv.RefuseConnections()
				return srv.Endpoint()
			},
			hint: "nothing listens at the endpoint's host and port",
		},
		{
			name:     "HTTPS against an HTTP endpoint",
			endpoint: func(srv *slstest.Server) string { return "https://" + srv.Addr() },
			hint:     "the endpoint speaks HTTP: write http://",
		},
		{
			name:     "HTTP against an HTTPS endpoint",
			opts:     slstest.Options{TLS: true},
			endpoint: func(srv *slstest.Server) string { return "http://" + srv.Addr() },
			hint:     "the endpoint speaks HTTPS",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slstest.NewServer(tc.opts)
			defer srv.Close()
			endpoint := tc.endpoint(srv)
			dir := t.TempDir()
			w, errs := newTestWriter(t, srv, func(c *Config) {
				c.Endpoint = endpoint
				c.HTTPClient = nil // zapsls's own client, as a new user's
				c.SyncTimeout = syncTimeout
				c.CloseTimeout = syncTimeout
				c.SpoolDir = dir
			})
			logger := newTestLogger(w)
			for i := range 20 {
				logger.Info("entry", zap.Int("i", i))
			}
			start := time.Now()
			err := w.Sync()
			took := time.Since(start)
			var nd *NotDeliveredError
			require.ErrorAs(t, err, &nd)
			assert.Equal(t, 20, nd.Entries)
			assert.Contains(t, err.Error(), tc.hint)
			assert.Less(t, took, syncTimeout/4, "Sync said so in %v", took)
			assert.Contains(t, errs.text(), tc.hint, "OnError has the hint too")

			start = time.Now()
			closeErr := w.Close()
			assert.Less(t, time.Since(start), syncTimeout/4, "Close took %v", time.Since(start))
			assert.Equal(t, uint64(20), w.Stats().Spooled, "kept for a later Writer with a fixed endpoint: %v", closeErr)
		})
	}
}

// A Sync during a brief outage still waits for the endpoint to come back:
// the unreachable state ends with the first answer, and a Sync asks for
// the next attempt at once instead of waiting out the backoff.
func TestSyncAfterAnOutageWaitsForDelivery(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections()
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.RetryBackoff = time.Minute // only a Sync's request for an attempt brings it sooner
		c.RetryBackoffMax = time.Minute
		c.RetryTimeout = 5 * time.Minute
	})
	logN(newTestLogger(w), "outage", 10)
	var nd *NotDeliveredError
	require.ErrorAs(t, w.Sync(), &nd, "unreachable: said at once")
	assert.Equal(t, 10, nd.Pending)
	srv.AcceptConnections()
	start := time.Now()
	require.NoError(t, w.Sync(), "reachable again: the Sync asks for an attempt and it delivers")
	assert.Less(t, time.Since(start), 30*time.Second)
	assert.Len(t, logIDs(t, srv), 10)
}

func TestDiagnose(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "http://x/logstores/l/shards/lb", Err: err} }
	for _, tc := range []struct {
		err                      error
		hint                     string
		wrongScheme, unreachable bool
	}{
		{wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "cn-hangzou.log.aliyuncs.com", IsNotFound: true}}), "does not resolve", false, true},
		{wrap(&net.OpError{Op: "dial", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}), "nothing listens", false, true},
		{wrap(errors.New("http: server gave HTTP response to HTTPS client")), "speaks HTTP", true, false},
		{wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}}), "", false, false},
		{wrap(errors.New("EOF")), "", false, false},
	} {
		hint, wrongScheme, unreachable := diagnose(tc.err)
		if tc.hint == "" {
			assert.Empty(t, hint, tc.err.Error())
		} else {
			assert.True(t, strings.Contains(hint, tc.hint), "%v: %q", tc.err, hint)
		}
		assert.Equal(t, tc.wrongScheme, wrongScheme, tc.err.Error())
		assert.Equal(t, tc.unreachable, unreachable, tc.err.Error())
	}
}

// The same sls:// URL in OutputPaths and ErrorOutputPaths, the endpoint
// refusing connections, onFull=drop: zap syncs its ErrorOutput after every
// failed write, a full Writer.Sync, which must not turn each log call into
// a SyncTimeout wait.
func TestErrorOutputOnTheSameURLDoesNotStallLogCalls(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID)
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	srv.RefuseConnections()
	sink := srv.URL("my-project", "my-logstore") + "&onFull=drop&bufferBytes=128KiB&maxBatchBytes=64KiB&syncTimeout=10s&closeTimeout=1s"
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{sink}
	cfg.ErrorOutputPaths = []string{sink}
	cfg.Sampling = nil // every call writes
	logger, err := cfg.Build()
	require.NoError(t, err)
	defer func() { _ = CloseSinks() }()

	pad := strings.Repeat("p", 2000) // 4 MB in all: far beyond the buffer and the batches in flight
	start := time.Now()
	for i := range 2000 {
		logger.Info("entry", zap.Int("i", i), zap.String("pad", pad))
	}
	took := time.Since(start)
	w, ok := SinkWriter(sink)
	require.True(t, ok)
	s := w.Stats()
	require.Positive(t, s.Dropped, "the buffer overflowed, so zap synced its ErrorOutput")
	// Each such Sync costs a connection attempt, not SyncTimeout (10 s).
	assert.Less(t, took, 10*time.Second, "2,000 log calls, %d dropped, took %v", s.Dropped, took)
}
