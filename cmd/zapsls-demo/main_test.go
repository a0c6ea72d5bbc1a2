package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runDemo runs the demo with args and the environment vars, and returns its
// exit code, stdout and stderr.
func runDemo(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	// NewWriter falls back to the process environment when the Config has
	// no credentials; keep the tests independent of the machine's.
	t.Setenv(zapsls.EnvAccessKeyID, "")
	t.Setenv(zapsls.EnvAccessKeySecret, "")
	t.Setenv(zapsls.EnvSecurityToken, "")
	var stdout, stderr bytes.Buffer
	code := run(args, func(k string) string { return vars[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestLocalEndpoint(t *testing.T) {
	code, out, errOut := runDemo(t, nil, "-n", "3000", "-goroutines", "3")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"shipping to a local SLS endpoint",
		"Received by the endpoint: 3000 entries",
		"__time__", "__topic__", "__source__", "__tag__:env", "__tag__:__pack_id__",
		"service=checkout", "user.name=", "msg=request served",
		"entries/s:", "compression:", "requests:",
		"writer.Stats():", "Enqueued:      3000", "Delivered:     3000", "Failed:        0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// TestLocalEndpointCountsBeyondItsSample: the endpoint keeps keepLogs
// entries to show, and the demo reports every entry it received.
func TestLocalEndpointCountsBeyondItsSample(t *testing.T) {
	code, out, errOut := runDemo(t, nil, "-n", "30000", "-goroutines", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if want := "Received by the endpoint: 30000 entries"; !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
}

func TestBadURL(t *testing.T) {
	code, out, errOut := runDemo(t, map[string]string{
		"ZAPSLS_URL":              "sls://cn-hangzhou.log.aliyuncs.com/proj/store?bogus=1",
		zapsls.EnvAccessKeyID:     "AK",
		zapsls.EnvAccessKeySecret: "s3cret",
	}, "-n", "10")
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, `"bogus"`) {
		t.Errorf("stderr does not name the parameter:\n%s", errOut)
	}
	if strings.Contains(out+errOut, "s3cret") {
		t.Errorf("output shows the secret:\n%s\n%s", out, errOut)
	}
}

func TestMissingCredentials(t *testing.T) {
	code, out, errOut := runDemo(t, map[string]string{
		"ZAPSLS_URL": "sls://cn-hangzhou.log.aliyuncs.com/proj/store",
	}, "-n", "10")
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "AccessKeyID") {
		t.Errorf("stderr does not name the missing setting:\n%s", errOut)
	}
}

func TestBadFlag(t *testing.T) {
	if code, _, _ := runDemo(t, nil, "-goroutines", "0"); code != 2 {
		t.Errorf("-goroutines 0: exit %d, want 2", code)
	}
	if code, _, _ := runDemo(t, nil, "-n", "many"); code != 2 {
		t.Errorf("-n many: exit %d, want 2", code)
	}
}

// sinkURL is a ZAPSLS_URL for srv.
func sinkURL(srv *slstest.Server) string {
	return "sls://" + srv.Addr() + "/proj/store?protocol=http&topic=t&tag.env=test"
}

func TestURL(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	code, out, errOut := runDemo(t, map[string]string{
		"ZAPSLS_URL":              sinkURL(srv),
		zapsls.EnvAccessKeyID:     slstest.DefaultAccessKeyID,
		zapsls.EnvAccessKeySecret: slstest.DefaultAccessKeySecret,
	}, "-n", "2000")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if got := srv.LogCount(); got != 2000 {
		t.Errorf("server received %d logs, want 2000", got)
	}
	logs := srv.Logs()
	if l := logs[0]; l.Project != "proj" || l.Logstore != "store" || l.Topic != "t" || l.Tags["env"] != "test" {
		t.Errorf("first log: project %q, logstore %q, topic %q, tags %v", l.Project, l.Logstore, l.Topic, l.Tags)
	}
	for _, want := range []string{"cannot read back", "Delivered:     2000"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "__pack_id__") {
		t.Errorf("stdout shows the received-entries table in URL mode:\n%s", out)
	}
	if strings.Contains(out+errOut, slstest.DefaultAccessKeySecret) {
		t.Errorf("output shows the secret:\n%s\n%s", out, errOut)
	}
}

func TestNotDelivered(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{AccessKeySecret: "another-secret"})
	defer srv.Close()
	code, out, errOut := runDemo(t, map[string]string{
		"ZAPSLS_URL":              sinkURL(srv),
		zapsls.EnvAccessKeyID:     slstest.DefaultAccessKeyID,
		zapsls.EnvAccessKeySecret: slstest.DefaultAccessKeySecret,
	}, "-n", "100")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"logger.Sync: zapsls: 100 entries not delivered", "SignatureNotMatch"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, slstest.DefaultAccessKeySecret) {
		t.Errorf("output shows the secret:\n%s\n%s", out, errOut)
	}
}
