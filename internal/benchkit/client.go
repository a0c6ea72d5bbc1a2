package benchkit

import (
	"context"
	"net"
	"net/http"
	"time"
)

// DialingClient returns an HTTP client that connects to addr whatever host
// a URL names, as slstest.Server.Client does, for a server in another
// process: SLS clients address it as "PROJECT.127.0.0.1:PORT".
func DialingClient(addr string) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		Timeout: time.Minute,
	}
}
