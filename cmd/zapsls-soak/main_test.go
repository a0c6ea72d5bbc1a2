package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSoakShort runs the soak for ZAPSLS_SOAK (a duration, default 5s, so
// that go test ./... stays quick; CI sets 60s). Under a minute, the fault
// schedule is compressed so that every kind of fault still happens.
func TestSoakShort(t *testing.T) {
	d := 5 * time.Second
	if s := os.Getenv("ZAPSLS_SOAK"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("ZAPSLS_SOAK=%q: %v", s, err)
		}
	}
	args := []string{"-duration", d.String(), "-status", max(time.Second, min(10*time.Second, d/6)).String()}
	if d < time.Minute {
		args = append(args,
			"-refuse-every", (d / 3).String(), "-refuse-for", min(3*time.Second, d/10).String(),
			"-delay-every", (d / 2).String(), "-delay-for", min(5*time.Second, d/10).String(),
			"-delay", min(2*time.Second, d/20).String(),
		)
	}
	var out bytes.Buffer
	code := run(args, &out)
	t.Logf("zapsls-soak %s\n%s", strings.Join(args, " "), out.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	goleak.VerifyNone(t)
}

func TestSoakFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0s"},
		{"-rate", "-1"},
		{"-fail-rate", "1.5"},
		{"-refuse-every", "1s", "-refuse-for", "2s"},
		{"-nosuchflag"},
		{"extra"},
	} {
		var out bytes.Buffer
		if code := run(args, &out); code != 2 {
			t.Errorf("run(%q) = %d, want 2; output:\n%s", args, code, out.String())
		}
	}
}
