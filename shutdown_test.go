//go:build unix

package zapsls

// The shutdown suite: a child process (this test binary,
// TestShutdownChild) logs, then receives SIGTERM, as Kubernetes stops a
// pod. With README.md's recipe (signal.NotifyContext, then Close), every
// entry logged before the signal arrives; without it, Go exits at once and
// the buffered entries are lost.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

const (
	shutdownChildEnv    = "ZAPSLS_SHUTDOWN_CHILD" // "recipe" or "none"
	shutdownEndpointEnv = "ZAPSLS_SHUTDOWN_ENDPOINT"
	shutdownEntries     = 50
)

// TestShutdownChild is not a test: TestShutdownOnSIGTERM runs this binary
// again with ZAPSLS_SHUTDOWN_CHILD set. The child logs shutdownEntries
// entries over half a second, with a Linger of a minute so that they all
// wait in the buffer, prints "logged", and waits for SIGTERM.
func TestShutdownChild(t *testing.T) {
	mode := os.Getenv(shutdownChildEnv)
	if mode == "" {
		return
	}
	time.AfterFunc(60*time.Second, func() { os.Exit(3) }) // the parent went away
	ctx := context.Background()
	if mode == "recipe" {
		// README.md's recipe: catch SIGTERM (and Ctrl-C), so that the
		// deferred Close runs.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	w, err := NewWriter(Config{
		Endpoint: os.Getenv(shutdownEndpointEnv), Project: "proj", Logstore: "store",
		AccessKeyID: slstest.DefaultAccessKeyID, AccessKeySecret: slstest.DefaultAccessKeySecret,
		Linger: time.Minute,
	})
	require.NoError(t, err)
	defer w.Close()
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	for i := range shutdownEntries {
		logger.Info("entry", zap.Int("i", i))
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("logged")
	<-ctx.Done() // without the recipe, SIGTERM ends the process here
}

func TestShutdownOnSIGTERM(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		arrive int
	}{
		{"recipe", shutdownEntries}, // signal.NotifyContext and Close: all of them
		{"none", 0},                 // Go's default for SIGTERM: exit, no deferred calls
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestShutdownChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), shutdownChildEnv+"="+tc.mode, shutdownEndpointEnv+"="+srv.Endpoint())
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			lines := bufio.NewScanner(stdout)
			logged := false
			for lines.Scan() {
				if strings.TrimSpace(lines.Text()) == "logged" {
					logged = true
					break
				}
			}
			require.True(t, logged, "the child did not log")
			require.Zero(t, srv.LogCount(), "the entries wait in the buffer (Linger)")

			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			for lines.Scan() {
			}
			err = cmd.Wait()
			if tc.mode == "recipe" {
				require.NoError(t, err, "the child exits normally after Close")
			} else {
				require.Error(t, err, "the child is killed by the signal")
			}
			require.Equal(t, tc.arrive, srv.LogCount())
			seen := map[string]bool{}
			for _, l := range srv.Logs() {
				seen[l.Contents["i"]] = true
			}
			require.Len(t, seen, tc.arrive)
		})
	}
}
