package slstest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	s := newServer(t, Options{})
	require.Equal(t, "sls://"+s.Addr()+"/proj/store?protocol=http", s.URL("proj", "store"))
	tlsServer := newServer(t, Options{TLS: true})
	require.Equal(t, "sls://"+tlsServer.Addr()+"/p/l?protocol=https", tlsServer.URL("p", "l"))
}
