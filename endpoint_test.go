package zapsls

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zapsls/zapsls/slstest"
)

// Every endpoint spelling that can never deliver is refused by NewWriter,
// naming Endpoint (issue: "127.0.0.1:PORT/" posted to //logstores/... and
// got 404 for ever; "localhost:99999" failed every batch for its budget).
func TestNewWriterRefusesEndpointsThatCannotDeliver(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	addr := srv.Addr()
	for _, tc := range []struct{ endpoint, text string }{
		{"", "required"},
		{addr + "/logstores", "has a path"},
		{"http://" + addr + "/api", "has a path"},
		{"http://" + addr + "//", "has a path"},
		{"localhost:99999", "port 99999: want 1 to 65535"},
		{"localhost:65536", "port 65536"},
		{"localhost:0", "port 0"},
		{"http://localhost:-1", "a port must be a number"},
		{"localhost:http", "a port must be a number"},
		{"localhost:", "empty port"},
		{"http://:8080", "no host"},
		{":8080", "no host"},
		{"https://", "no host"},
		{addr + "?x=1", "has a query"},
		{"https://" + addr + "?", "has a query"},
		{addr + "#top", "has a fragment"},
		{"AKID:hunter2@" + addr, "has user info"},
		{"https://AKID:hunter2@" + addr, "has user info"},
		{"ftp://" + addr, `scheme "ftp"`},
		{"sls://" + addr + "/proj/store", `scheme "sls"`},
		{"cn hangzhou.log.aliyuncs.com", "white space"},
		{" cn-hangzhou.log.aliyuncs.com", "white space"},
		{"cn-hangzhou..log.aliyuncs.com", "empty or over-long label"},
		{"-cn-hangzhou.log.aliyuncs.com", "starts or ends with a hyphen"},
		{"cn-hangzhou.log.aliyuncs!.com", "want letters, digits"},
		{"test-project.", "nothing after the project"},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			cfg := testConfig(srv)
			cfg.Endpoint = tc.endpoint
			_, err := NewWriter(cfg)
			requireConfigError(t, err, "Endpoint", tc.text)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), "AKID")
		})
	}
	assert.Empty(t, srv.Requests())
}

// Every spelling that can deliver is accepted and delivers: with and
// without a scheme (HTTPS then), with a trailing slash (dropped), an
// upper-case scheme, localhost, and an endpoint that already begins with
// the project, which is not added twice.
func TestNewWriterEndpointSpellingsThatDeliver(t *testing.T) {
	plain := slstest.NewServer(slstest.Options{})
	defer plain.Close()
	tls := slstest.NewServer(slstest.Options{TLS: true})
	defer tls.Close()
	port := func(s *slstest.Server) string { return s.Addr()[strings.LastIndex(s.Addr(), ":")+1:] }
	for _, tc := range []struct {
		srv      *slstest.Server
		endpoint string
		host     string // the Writer's host, as String prints it
	}{
		{plain, "http://" + plain.Addr(), plain.Addr()},
		{plain, "http://" + plain.Addr() + "/", plain.Addr()},
		{plain, "HTTP://" + plain.Addr(), plain.Addr()},
		{plain, "http://localhost:" + port(plain), "localhost:" + port(plain)},
		{plain, "http://test-project.localhost:" + port(plain), "localhost:" + port(plain)},
		{tls, tls.Addr(), tls.Addr()},
		{tls, tls.Addr() + "/", tls.Addr()},
		{tls, "https://" + tls.Addr() + "/", tls.Addr()},
		{tls, "localhost:" + port(tls), "localhost:" + port(tls)},
		{tls, "test-project.localhost:" + port(tls) + "/", "localhost:" + port(tls)},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			tc.srv.Reset()
			w, _ := newTestWriter(t, tc.srv, func(c *Config) { c.Endpoint = tc.endpoint })
			assert.Contains(t, w.String(), "://"+tc.host+"/test-project/")
			_, err := w.Write([]byte(`{"msg":"delivered"}`))
			require.NoError(t, err)
			require.NoError(t, w.Sync())
			logs := tc.srv.Logs()
			require.Len(t, logs, 1)
			assert.Equal(t, "test-project", logs[0].Project, "the project is in Host once")
			assert.Equal(t, "delivered", logs[0].Contents["msg"])
			require.NoError(t, w.Close())
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		raw, project                  string
		scheme, host, reqHost, dialTo string
	}{
		{"cn-hangzhou.log.aliyuncs.com", "my-project", "https", "cn-hangzhou.log.aliyuncs.com", "my-project.cn-hangzhou.log.aliyuncs.com", "my-project.cn-hangzhou.log.aliyuncs.com"},
		{"my-project.cn-hangzhou.log.aliyuncs.com", "my-project", "https", "cn-hangzhou.log.aliyuncs.com", "my-project.cn-hangzhou.log.aliyuncs.com", "my-project.cn-hangzhou.log.aliyuncs.com"},
		{"https://my-project.cn-hangzhou.log.aliyuncs.com:443/", "my-project", "https", "cn-hangzhou.log.aliyuncs.com:443", "my-project.cn-hangzhou.log.aliyuncs.com:443", "my-project.cn-hangzhou.log.aliyuncs.com:443"},
		{"My-Project.CN-Hangzhou.log.aliyuncs.com", "my-project", "https", "CN-Hangzhou.log.aliyuncs.com", "my-project.CN-Hangzhou.log.aliyuncs.com", "my-project.CN-Hangzhou.log.aliyuncs.com"},
		// Only the whole first label is the project.
		{"my-project2.cn-hangzhou.log.aliyuncs.com", "my-project", "https", "my-project2.cn-hangzhou.log.aliyuncs.com", "my-project.my-project2.cn-hangzhou.log.aliyuncs.com", "my-project.my-project2.cn-hangzhou.log.aliyuncs.com"},
		{"http://cn-hangzhou-intranet.log.aliyuncs.com", "p-1", "http", "cn-hangzhou-intranet.log.aliyuncs.com", "p-1.cn-hangzhou-intranet.log.aliyuncs.com", "p-1.cn-hangzhou-intranet.log.aliyuncs.com"},
		{"10.0.0.7:8080", "proj", "https", "10.0.0.7:8080", "proj.10.0.0.7:8080", "10.0.0.7:8080"},
		{"http://[::1]:8080/", "proj", "http", "[::1]:8080", "proj.[::1]:8080", "[::1]:8080"},
		{"[::1]", "proj", "https", "[::1]", "proj.[::1]", "[::1]"},
	} {
		ep, err := parseEndpoint(tc.raw, tc.project)
		require.Nil(t, err, tc.raw)
		assert.Equal(t, endpoint{scheme: tc.scheme, host: tc.host, reqHost: tc.reqHost, dialTo: tc.dialTo}, ep, tc.raw)
	}
	for _, raw := range []string{"::1", "http://::1:8080"} {
		_, err := parseEndpoint(raw, "proj")
		require.NotNil(t, err, raw)
		assert.Equal(t, "Endpoint", err.Field)
	}
}
