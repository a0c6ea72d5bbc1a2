package zapsls

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zapsls/zapsls/slstest"
)

// retryErrors returns the RetryErrors among what OnError received.
func retryErrors(l *errorLog) []*RetryError {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*RetryError
	for _, e := range l.errs {
		var re *RetryError
		if errors.As(e, &re) {
			out = append(out, re)
		}
	}
	return out
}

// A keep-alive connection the server closed, reused for the next POST, is
// resent by net/http on a new connection, quietly (issue: every such reuse
// failed with EOF and was reported on OnError before zapsls's own retry).
// The request on the reused connection is received in full and never
// answered, the harder case of the two (the other, a connection closed
// before the request is written, net/http resends anyway).
func TestKeepAliveConnectionClosedByServerIsResentQuietly(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)

	_, err := w.Write([]byte(`{"msg":"opens the connection"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())

	srv.FailNext(1, slstest.Fault{CloseConnection: true})
	_, err = w.Write([]byte(`{"msg":"on the reused connection"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())

	assert.Equal(t, 2, srv.LogCount())
	rej := srv.Rejections()
	require.Len(t, rej, 1, "the reused connection was closed under the request")
	assert.Equal(t, 0, rej[0].Status)
	st := w.Stats()
	assert.Equal(t, uint64(0), st.Retries, "no retry of zapsls's own")
	assert.Equal(t, uint64(2), st.Requests)
	assert.Empty(t, retryErrors(errs), "nothing reported: %s", errs.text())
}

// Its neighbour: the same fault on a fresh connection is not net/http's to
// resend (nothing shows the server closed an idle connection): zapsls
// retries it, reported, and delivers it once the retry succeeds.
func TestConnectionClosedOnFirstRequestIsRetriedAndReported(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	srv.FailNext(1, slstest.Fault{CloseConnection: true})
	_, err := w.Write([]byte(`{"msg":"first"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	assert.Equal(t, 1, srv.LogCount())
	assert.Equal(t, uint64(1), w.Stats().Retries)
	require.Len(t, retryErrors(errs), 1)
	assert.Equal(t, 0, retryErrors(errs)[0].Err.Status)
}

// An error answer sent compressed to a client that did not ask for it is
// decoded, so its SLS code is seen (issue: a gzip-encoded 403
// WriteQuotaExceed was read as binary, treated as permanent, and its raw
// bytes reached the error text).
func TestCompressedErrorBodiesAreDecoded(t *testing.T) {
	noCompression := func(srv *slstest.Server) *http.Client {
		c := *srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.DisableCompression = true
		c.Transport = tr
		return &c
	}
	for _, tc := range []struct {
		name     string
		encoding string
		plain    bool // the transport asks for gzip and decodes it itself
	}{
		{"gzip, DisableCompression", "gzip", false},
		{"deflate, DisableCompression", "deflate", false},
		{"deflate, default transport", "deflate", true},
		{"gzip, default transport", "gzip", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, func(c *Config) {
				if !tc.plain {
					c.HTTPClient = noCompression(srv)
				}
			})

			// A quota error is retried, and the batch delivered.
			srv.FailNext(1, slstest.Fault{Status: 403, Code: "WriteQuotaExceed", Message: "project write quota exceeded", ContentEncoding: tc.encoding})
			_, err := w.Write([]byte(`{"msg":"quota"}`))
			require.NoError(t, err)
			require.NoError(t, w.Sync())
			assert.Equal(t, 1, srv.LogCount())
			retries := retryErrors(errs)
			require.Len(t, retries, 1, errs.text())
			assert.Equal(t, "WriteQuotaExceed", retries[0].Err.Code)
			assert.Equal(t, "project write quota exceeded", retries[0].Err.Message)

			// A permanent error names its code and message, not bytes.
			srv.FailNext(1, slstest.Fault{Status: 400, Code: "PostBodyInvalid", Message: "bad body", ContentEncoding: tc.encoding})
			_, err = w.Write([]byte(`{"msg":"refused"}`))
			require.NoError(t, err)
			err = w.Sync()
			var pe *PutLogsError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.Equal(t, "PostBodyInvalid", pe.Code)
			assert.Equal(t, "bad body", pe.Message)
			assert.False(t, strings.ContainsRune(err.Error(), '\uFFFD'))
		})
	}
}

func TestDecodeErrorBodyKeepsWhatDoesNotDecode(t *testing.T) {
	assert.Equal(t, []byte("not gzip"), decodeErrorBody("gzip", []byte("not gzip")))
	assert.Equal(t, []byte(`{"errorCode":"X"}`), decodeErrorBody("", []byte(`{"errorCode":"X"}`)))
	assert.Equal(t, []byte("br"), decodeErrorBody("br", []byte("br")))
}

// A redirect is not followed: the replayable body would go, with the
// security token, wherever Location points. The 3xx is reported at once,
// with a hint; the other host hears nothing.
func TestRedirectIsNotFollowed(t *testing.T) {
	target := slstest.NewServer(slstest.Options{RecordAttempts: true, SecurityToken: "t0k3n"})
	defer target.Close()
	for _, status := range []int{307, 308, 302} {
		for _, own := range []bool{true, false} {
			front := slstest.NewServer(slstest.Options{RecordAttempts: true, SecurityToken: "t0k3n"})
			w, errs := newTestWriter(t, front, func(c *Config) {
				c.SecurityToken = "t0k3n"
				if own {
					c.HTTPClient = nil // zapsls's own client, dialling front's address
				}
			})
			front.FailNext(1, slstest.Fault{Status: status, Location: target.Endpoint() + "/logstores/test-logstore/shards/lb"})
			_, err := w.Write([]byte(`{"msg":"redirected"}`))
			require.NoError(t, err)
			err = w.Sync()
			var pe *PutLogsError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.Equal(t, status, pe.Status)
			assert.Equal(t, 1, pe.Attempts, "reported at once")
			assert.Contains(t, err.Error(), "redirect, which zapsls does not follow")
			assert.Len(t, front.Attempts(), 1, "status %d, own client %v: not followed", status, own)
			assert.Empty(t, target.Attempts(), "status %d, own client %v: the other host heard nothing", status, own)
			assert.NotContains(t, errs.text(), "t0k3n")
			require.NoError(t, w.Close())
			front.Close()
		}
	}
}
