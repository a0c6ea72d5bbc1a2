package slstest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	s := newServer(t, Options{})
	require.Equal(t, "sls://"+s.Addr()+"/proj/store?protocol=http", s.URL("proj", "store"))
	tlsServer := newServer(t, Options{TLS: true})
	require.Equal(t, "sls://"+tlsServer.Addr()+"/p/l?protocol=https", tlsServer.URL("p", "l"))
}

// TestSetClockOffset: the Date of answers and the skew check follow the
// server's clock.
func TestSetClockOffset(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	s.SetClockOffset(20 * time.Minute)
	requireSLSError(t, c.PutLogs(testProject, testLogstore, group(1)), 400, "RequestTimeTooSkewed")
	resp, err := s.Client().Get(s.Endpoint() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	require.NoError(t, err)
	require.InDelta(t, 20*time.Minute.Seconds(), time.Until(date).Seconds(), 5)

	s.SetClockOffset(0)
	require.NoError(t, c.PutLogs(testProject, testLogstore, group(1)))
}
