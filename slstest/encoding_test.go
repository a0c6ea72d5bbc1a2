package slstest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fault.ContentEncoding sends the SLS error body compressed, with its
// Content-Encoding, to a client that did not ask for it.
func TestFaultContentEncoding(t *testing.T) {
	for _, tc := range []struct {
		encoding string
		decode   func(io.Reader) (io.Reader, error)
	}{
		{"gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"deflate", func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
	} {
		t.Run(tc.encoding, func(t *testing.T) {
			s := newServer(t, Options{})
			client := *s.Client()
			tr := client.Transport.(*http.Transport).Clone()
			tr.DisableCompression = true
			client.Transport = tr
			s.FailNext(1, Fault{Status: 403, Code: "WriteQuotaExceed", Message: "quota", ContentEncoding: tc.encoding})

			resp, err := client.Do(handReq{}.build(t, s))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, 403, resp.StatusCode)
			assert.Equal(t, tc.encoding, resp.Header.Get("Content-Encoding"))
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.False(t, json.Valid(raw), "the body is compressed")
			r, err := tc.decode(bytes.NewReader(raw))
			require.NoError(t, err)
			var answer struct{ ErrorCode, ErrorMessage string }
			require.NoError(t, json.NewDecoder(r).Decode(&answer))
			assert.Equal(t, "WriteQuotaExceed", answer.ErrorCode)
			assert.Equal(t, "quota", answer.ErrorMessage)

			// The next request, without the fault, is answered plainly.
			resp2, body := do(t, s, handReq{})
			assert.Equal(t, 200, resp2.StatusCode, string(body))
			assert.Empty(t, resp2.Header.Get("Content-Encoding"))
		})
	}
}
