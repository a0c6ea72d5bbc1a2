package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// doctorLines runs "zapsls doctor" and returns its exit code and each
// check's verdict by name ("ok", "FAIL", "skip"), with the whole output.
func doctorLines(t *testing.T, env func(string) string, srv *slstest.Server, rawURL string, args ...string) (int, map[string]string, string) {
	t.Helper()
	return doctorLinesWith(t, env, srv.Client(), rawURL, args...)
}

// doctorLinesWith is doctorLines with the HTTP client hc (nil: the
// command's own, which trusts only the system's roots).
func doctorLinesWith(t *testing.T, env func(string) string, hc *http.Client, rawURL string, args ...string) (int, map[string]string, string) {
	t.Helper()
	res := runCmd(t, env, hc, append([]string{"doctor", "--url", rawURL, "--timeout", "3s"}, args...)...)
	verdicts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "ok" || f[0] == "FAIL" || f[0] == "skip") {
			require.NotContains(t, verdicts, f[1], "one line per check:\n%s", res.stdout)
			verdicts[f[1]] = f[0]
		}
	}
	return res.code, verdicts, res.stdout + res.stderr
}

// zapslsIndex gives srv the index zapsls index --apply would create for
// the URL of storeURL.
func zapslsIndex(t *testing.T, srv *slstest.Server) {
	idx, err := zapsls.NewIndexFor(zap.NewProductionEncoderConfig(), nil)
	require.NoError(t, err)
	srv.SetIndex("proj", "store", idx)
}

// requireVerdicts checks the named checks' verdicts, and that every other
// check is ok.
func requireVerdicts(t *testing.T, got map[string]string, out string, want map[string]string) {
	t.Helper()
	for _, check := range []string{"credentials", "resolve", "connect", "tls", "clock", "auth", "project", "logstore", "index", "write"} {
		w, ok := want[check]
		if !ok {
			w = "ok"
		}
		require.Equal(t, w, got[check], "check %s:\n%s", check, out)
	}
}

func TestDoctorAllGood(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	zapslsIndex(t, srv)
	code, got, out := doctorLines(t, credsEnv, srv, storeURL(srv))
	require.Equal(t, 0, code, out)
	requireVerdicts(t, got, out, nil)
	require.Equal(t, 1, srv.LogCount(), "one probe entry")
	probe := srv.Logs()[0]
	require.Equal(t, "write-probe", probe.Tags["zapsls_doctor"])
	require.Contains(t, probe.Contents["msg"], "zapsls doctor write probe")
	require.NotContains(t, out, slstest.DefaultAccessKeyID)
}

func TestDoctorNoWrite(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	zapslsIndex(t, srv)
	code, got, out := doctorLines(t, credsEnv, srv, storeURL(srv), "--no-write")
	require.Equal(t, 0, code, out)
	requireVerdicts(t, got, out, map[string]string{"write": "skip"})
	require.Zero(t, srv.LogCount())
}

func TestDoctorFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  slstest.Options
		setup func(*slstest.Server)
		env   func(string) string
		url   func(*slstest.Server) string
		// ownClient runs the command with its own HTTP client rather
		// than srv.Client (which trusts the server's certificate).
		ownClient bool
		want      map[string]string
		says      string // in the failing line
	}{
		{name: "no credentials", env: envOf(nil),
			want: map[string]string{"credentials": "FAIL", "auth": "skip", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "ALIBABA_CLOUD_ACCESS_KEY_ID"},
		{name: "wrong secret", env: envOf(map[string]string{zapsls.EnvAccessKeyID: slstest.DefaultAccessKeyID, zapsls.EnvAccessKeySecret: "wrong"}),
			want: map[string]string{"auth": "FAIL", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "SignatureNotMatch"},
		{name: "resolve", url: func(*slstest.Server) string { return "sls://no-such-endpoint.invalid/proj/store" },
			want: map[string]string{"resolve": "FAIL", "connect": "skip", "tls": "skip", "clock": "skip", "auth": "skip", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "does not resolve"},
		{name: "connect", setup: func(s *slstest.Server) { s.RefuseConnections() },
			want: map[string]string{"connect": "FAIL", "tls": "skip", "clock": "skip", "auth": "skip", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "connection refused"},
		{name: "https to an http endpoint", url: func(s *slstest.Server) string {
			return strings.Replace(storeURL(s), "protocol=http", "protocol=https", 1)
		},
			want: map[string]string{"tls": "FAIL", "clock": "skip", "auth": "skip", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "add protocol=http"},
		{name: "untrusted certificate", opts: slstest.Options{TLS: true}, ownClient: true,
			want: map[string]string{"tls": "FAIL", "clock": "skip", "auth": "skip", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "certificate"},
		{name: "clock skew", setup: func(s *slstest.Server) { s.SetClockOffset(20 * time.Minute) },
			// SLS then refuses every signed request as too skewed.
			want: map[string]string{"clock": "FAIL", "auth": "FAIL", "project": "skip", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "synchronise the clock"},
		{name: "no project", opts: slstest.Options{Projects: []string{"other"}},
			want: map[string]string{"auth": "skip", "project": "FAIL", "logstore": "skip", "index": "skip", "write": "skip"},
			says: "does not exist at this endpoint"},
		{name: "no logstore", opts: slstest.Options{Logstores: []string{"other"}},
			want: map[string]string{"auth": "skip", "logstore": "FAIL", "index": "skip", "write": "skip"},
			says: "create it"},
		{name: "no index", setup: func(*slstest.Server) {},
			want: map[string]string{"index": "FAIL"},
			says: "zapsls index --apply --url"},
		{name: "index lacks keys", setup: func(s *slstest.Server) {
			require.NoError(t, s.SetIndexJSON("proj", "store", []byte(`{"line":{"token":[" "]},"keys":{"msg":{"type":"text","token":[" "]}}}`)))
		},
			want: map[string]string{"index": "FAIL"},
			says: "lacks"},
		{name: "index types differ", setup: func(s *slstest.Server) {
			require.NoError(t, s.SetIndexJSON("proj", "store", []byte(`{"line":{"token":[" "]},"keys":{"pid":{"type":"text","token":[" "]}}}`)))
		},
			want: map[string]string{"index": "FAIL"},
			says: "--force"},
		{name: "write denied", setup: func(s *slstest.Server) {
			zapslsIndex(t, s)
			s.FailNext(1, slstest.Fault{Status: 403, Code: "Unauthorized", Message: "denied by RAM"})
		},
			want: map[string]string{"write": "FAIL"},
			says: "log:PostLogStoreLogs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.opts)
			if tc.setup != nil {
				tc.setup(srv)
			} else {
				zapslsIndex(t, srv)
			}
			env := tc.env
			if env == nil {
				env = credsEnv
			}
			u := storeURL(srv)
			if tc.url != nil {
				u = tc.url(srv)
			}
			hc := srv.Client()
			if tc.ownClient {
				hc = nil
			}
			code, got, out := doctorLinesWith(t, env, hc, u)
			require.Equal(t, 1, code, out)
			requireVerdicts(t, got, out, tc.want)
			var failing []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "FAIL") {
					failing = append(failing, line)
				}
			}
			require.Contains(t, strings.Join(failing, "\n"), tc.says, out)
			require.Regexp(t, regexp.MustCompile(`(?m)^\d+ checks? failed$`), out)
			require.NotContains(t, out, "wrong", "no secret in the output")
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	res := runCmd(t, credsEnv, nil, "doctor")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "zapsls doctor: give --url")
	res = runCmd(t, credsEnv, nil, "doctor", "--url", "sls://ak:hush@h/p/l")
	require.Equal(t, 2, res.code)
	require.NotContains(t, res.stderr, "hush")
	require.NotContains(t, res.stderr, "zapsls doctor: zapsls:", "the command names itself once")
}

// TestDoctorCheckOrder: the checks print in the order they depend on each
// other.
func TestDoctorCheckOrder(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	zapslsIndex(t, srv)
	res := runCmd(t, credsEnv, srv.Client(), "doctor", "--url", storeURL(srv))
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		names = append(names, strings.Fields(line)[1])
	}
	require.Equal(t, []string{"credentials", "resolve", "connect", "tls", "clock", "auth", "project", "logstore", "index", "write"}, names)
}

// TestDoctorIndexFollowsTheEncoderFlags: the index must cover the keys of
// the encoder the flags describe, as zapsls index derives them.
func TestDoctorIndexFollowsTheEncoderFlags(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	zapslsIndex(t, srv) // zap's production EncoderConfig and DefaultFieldSet
	code, got, out := doctorLines(t, credsEnv, srv, storeURL(srv), "--no-write", "--key", "user.id:long")
	require.Equal(t, 1, code, out)
	require.Equal(t, "FAIL", got["index"], out)
	require.Contains(t, out, "lacks 1 key zapsls writes: user.id")

	code, got, out = doctorLines(t, credsEnv, srv, storeURL(srv), "--no-write", "--pid-key", "")
	require.Equal(t, 0, code, out)
	require.Equal(t, "ok", got["index"], out)
}
