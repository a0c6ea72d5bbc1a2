package slstest

import (
	"io"
	"net/http"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// withPackID is a LogGroup of one log tagged with the pack id.
func withPackID(id string) *sls.LogGroup {
	g := group(1)
	g.LogTags = append(g.LogTags, &sls.LogTag{Key: proto.String(packIDTag), Value: proto.String(id)})
	return g
}

// TestAttemptsRecordEveryFate: with RecordAttempts, every request whose
// body was read is kept with its body, its pack id and what it was
// answered, accepted, refused, faulted or dropped alike, before the client
// sees the answer.
func TestAttemptsRecordEveryFate(t *testing.T) {
	s := newServer(t, Options{RecordAttempts: true})
	s.FailNext(1, Fault{Status: 503})
	s.FailNext(1, Fault{Status: 502, Body: []byte("<html>bad gateway</html>")})
	s.FailNext(1, Fault{CloseConnection: true})

	type sent struct {
		body   []byte
		status int
		code   string
	}
	var want []sent
	send := func(hr handReq, status int, code string) {
		t.Helper()
		req := hr.build(t, s)
		body, err := req.GetBody()
		require.NoError(t, err)
		wire, err := io.ReadAll(body)
		require.NoError(t, err)
		resp, err := s.Client().Do(req)
		if status == 0 {
			require.Error(t, err, "the connection is dropped")
		} else {
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, status, resp.StatusCode)
		}
		want = append(want, sent{wire, status, code})
		// Recorded before the answer was written.
		a := s.Attempts()
		require.Len(t, a, len(want))
		require.Equal(t, status, a[len(a)-1].Status)
	}
	send(handReq{Group: withPackID("P-1")}, 503, "ServerBusy")
	send(handReq{Group: withPackID("P-1"), Compress: "lz4"}, 502, "") // a proxy's page is no SLS error
	send(handReq{Group: withPackID("P-1"), Compress: "zstd"}, 0, "")
	send(handReq{Group: withPackID("P-2"), Compress: "deflate", Secret: "wrong", AK: DefaultAccessKeyID}, 401, "SignatureNotMatch")
	send(handReq{Group: withPackID("P-3"), Compress: "lz4"}, 200, "")
	send(handReq{Raw: []byte("not a log group")}, 400, "PostBodyInvalid")

	attempts := s.Attempts()
	require.Len(t, attempts, len(want))
	for i, a := range attempts {
		require.Equal(t, want[i].body, a.Body, "attempt %d: the body as sent", i)
		require.Equal(t, want[i].status, a.Status, "attempt %d", i)
		require.Equal(t, want[i].code, a.Code, "attempt %d", i)
		require.Regexp(t, `^[0-9A-F]{24}$`, a.RequestID)
	}
	for i, id := range []string{"P-1", "P-1", "P-1", "P-2", "P-3", ""} {
		require.Equal(t, id, attempts[i].PackID, "attempt %d", i)
	}
	require.Equal(t, "lz4", attempts[1].Compression)
	require.Equal(t, attempts[4].RequestID, s.Requests()[0].RequestID)
	require.Len(t, s.Rejections(), 5)
	require.Equal(t, "ServerBusy", s.Rejections()[1].Code, "the Rejection keeps the derived code")

	s.Reset()
	require.Empty(t, s.Attempts())
}

// TestFaultBodyIsAnsweredVerbatim: a Fault with a Body answers as a proxy
// would, with no SLS error body.
func TestFaultBodyIsAnsweredVerbatim(t *testing.T) {
	s := newServer(t, Options{})
	s.FailNext(1, Fault{Status: 504, Body: []byte{}})
	s.FailNext(1, Fault{Status: 503, Body: []byte("<html>503 Service Temporarily Unavailable</html>")})
	resp, body := do(t, s, handReq{})
	require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	require.Empty(t, body)
	require.Empty(t, resp.Header.Get("Content-Type"))
	resp, body = do(t, s, handReq{})
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "<html>503 Service Temporarily Unavailable</html>", string(body))
	require.Empty(t, s.Attempts(), "attempts are kept only with RecordAttempts")
}
