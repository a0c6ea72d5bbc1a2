//go:build unix

package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDeliversWhatWasLogged: SIGTERM stops the burst, and every
// entry logged before it is delivered (the README's shutdown recipe).
func TestSIGTERMDeliversWhatWasLogged(t *testing.T) {
	timer := time.AfterFunc(300*time.Millisecond, func() { _ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM) })
	defer timer.Stop()
	code, out, errOut := runDemo(t, nil, "-n", "100000000", "-goroutines", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	m := regexp.MustCompile(`Interrupted: delivering the (\d+) entries logged so far`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no interruption reported:\n%s", out)
	}
	for _, want := range []string{"Enqueued:      " + m[1] + "\n", "Delivered:     " + m[1] + "\n", "Received by the endpoint: " + m[1] + " entries"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// TestProgressWithoutCarriageReturns: stdout here is not a terminal, where
// \r would pile the progress prints onto one line.
func TestProgressWithoutCarriageReturns(t *testing.T) {
	timer := time.AfterFunc(1500*time.Millisecond, func() { _ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM) })
	defer timer.Stop()
	_, out, _ := runDemo(t, nil, "-n", "100000000", "-goroutines", "2")
	if strings.Contains(out, "\r") {
		t.Errorf("stdout has \\r:\n%q", out)
	}
	if got := strings.Count(out, "  logged "); got < 2 {
		t.Errorf("want a progress line a second and a last one, got %d:\n%s", got, out)
	}
}
