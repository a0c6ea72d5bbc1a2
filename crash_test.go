package zapsls

// The crash suite: a child process (this test binary, TestCrashChild) is
// SIGKILLed while spooling, or exits through logger.Fatal / logger.Panic.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

const (
	relCrashRoleEnv     = "ZAPSLS_CRASH_CHILD"
	relCrashEndpointEnv = "ZAPSLS_CRASH_ENDPOINT"
	relCrashSpoolEnv    = "ZAPSLS_CRASH_SPOOL"
)

// TestCrashChild is not a test: the crash tests run this binary again with
// ZAPSLS_CRASH_CHILD set, and this is what the child does. Without the
// variable it returns at once.
func TestCrashChild(t *testing.T) {
	role := os.Getenv(relCrashRoleEnv)
	if role == "" {
		return
	}
	// A child whose parent went away must not live on.
	time.AfterFunc(60*time.Second, func() { os.Exit(3) })
	cfg := Config{
		Endpoint:        os.Getenv(relCrashEndpointEnv),
		Project:         "test-project",
		Logstore:        "test-logstore",
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		BufferBytes:     8 << 20,
		Linger:          20 * time.Millisecond,
		OnError:         func(error) {},
	}
	switch role {
	case "spool":
		cfg.SpoolDir = os.Getenv(relCrashSpoolEnv)
		cfg.RetryTimeout = 200 * time.Millisecond
		cfg.MaxBatchCount = 50
		cfg.MaxInflight = 2
	case "fatal", "panic":
		cfg.Linger = time.Hour // only the synchronous flush can deliver
	default:
		fmt.Fprintf(os.Stderr, "unknown crash role %q\n", role)
		os.Exit(4)
	}
	w, err := NewWriter(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(NoFieldSet())), w, zapcore.DebugLevel))
	switch role {
	case "spool":
		// Log until killed.
		for i := 0; ; i++ {
			logger.Info("crash child", zap.String("g", "child"), zap.Int("i", i))
			if i%10 == 9 {
				time.Sleep(time.Millisecond)
			}
		}
	case "fatal":
		logger.Info("before fatal", zap.String("g", "fatal"), zap.Int("i", 0))
		logger.Fatal("fatal entry", zap.String("g", "fatal"), zap.Int("i", 1))
	case "panic":
		logger.Info("before panic", zap.String("g", "panic"), zap.Int("i", 0))
		logger.Panic("panic entry", zap.String("g", "panic"), zap.Int("i", 1))
	}
	os.Exit(6) // not reached
}

func relCrashChild(role, endpoint, spoolDir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), relCrashRoleEnv+"="+role, relCrashEndpointEnv+"="+endpoint, relCrashSpoolEnv+"="+spoolDir)
	return cmd
}

func TestCrashSIGKILLWhileSpooling(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections()
	dir := t.TempDir()

	cmd := relCrashChild("spool", srv.Endpoint(), dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	// Wait for the child to spool a few batches, then kill it mid-stream.
	deadline := time.Now().Add(30 * time.Second)
	for len(spoolFiles(t, dir)) < 5 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child spooled nothing in 30 s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "killed by a signal")
	assert.Equal(t, syscall.SIGKILL, ws.Signal())

	files := spoolFiles(t, dir)
	held := 0
	for _, f := range files {
		held += entriesIn(filepath.Base(f))
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	t.Logf("the killed child left %d spool files holding %d entries, and %d partial temporary files", len(files), held, len(tmps))
	require.NotZero(t, held)

	// A new writer on the same directory, against the endpoint now
	// accepting, delivers every entry the spool held.
	srv.AcceptConnections()
	w, errs := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	require.True(t, srv.WaitLogs(held, 30*time.Second), "replayed %d of %d", srv.LogCount(), held)
	require.NoError(t, w.Close())
	s := w.Stats()
	assert.Equal(t, uint64(held), s.Replayed)
	ids, dups := relIDs(srv)
	assert.Len(t, ids, held)
	assert.Zero(t, dups)
	assert.Empty(t, spoolFiles(t, dir), "every replayed file is deleted")
	assert.Empty(t, errs.text())
	for id := range ids {
		assert.True(t, strings.HasPrefix(id, "child-"), id)
	}
}

func TestCrashFatalAndPanicDeliverBeforeExit(t *testing.T) {
	for _, tc := range []struct {
		role     string
		exitCode int
	}{
		{"fatal", 1}, // zap's default fatal hook: os.Exit(1)
		{"panic", 2}, // an unrecovered panic: the runtime exits with 2
	} {
		t.Run(tc.role, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			cmd := relCrashChild(tc.role, srv.Endpoint(), "")
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "output:\n%s", out)
			assert.Equal(t, tc.exitCode, exitErr.ExitCode(), "output:\n%s", out)
			logs := srv.Logs()
			require.Len(t, logs, 2, "the entry before and the %s entry arrived", tc.role)
			// The two entries may ride in two batches posted side by
			// side, so they may be stored in either order.
			byI := map[string]map[string]string{}
			for _, l := range logs {
				byI[l.Contents["i"]] = l.Contents
			}
			require.Contains(t, byI, "0", "the entry before arrived")
			require.Contains(t, byI, "1", "the %s entry arrived", tc.role)
			assert.Equal(t, "before "+tc.role, byI["0"]["msg"])
			assert.Equal(t, tc.role+" entry", byI["1"]["msg"])
			assert.Equal(t, tc.role, byI["1"]["level"])
		})
	}
}
