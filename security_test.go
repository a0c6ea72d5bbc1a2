package zapsls

// The security suite: TLS verification, no secret in any output, huge
// answer bodies, slow-loris endpoints.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

func TestSecurityTLSVerifiesCertificates(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{TLS: true})
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.Endpoint(), "https://127.0.0.1:"))

	// The default client verifies against the system roots: the
	// self-signed certificate is refused, reported at once, not retried.
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.HTTPClient = nil
		c.RetryTimeout = 20 * time.Second
	})
	logger := newTestLogger(w)
	for i := 0; i < 5; i++ {
		logger.Info("tls", zap.String("g", "tls"), zap.Int("i", i))
	}
	start := time.Now()
	err := logger.Sync()
	elapsed := time.Since(start)
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 5, nd.Entries)
	assert.Contains(t, err.Error(), "certificate")
	var pe *PutLogsError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 1, pe.Attempts, "a certificate that does not verify is not retried")
	assert.False(t, pe.Retryable)
	assert.Less(t, elapsed, 5*time.Second, "reported at once, not after the retry budget")
	assert.Contains(t, errs.text(), "certificate")
	assert.Zero(t, srv.LogCount())
	assert.Equal(t, uint64(5), w.Stats().Failed)
	require.NoError(t, w.Close())

	// With a client that trusts the server's certificate, it works.
	w2, _ := newTestWriter(t, srv, nil) // testConfig uses srv.Client()
	logger2 := newTestLogger(w2)
	for i := 0; i < 5; i++ {
		logger2.Info("tls", zap.String("g", "tls"), zap.Int("i", i))
	}
	require.NoError(t, logger2.Sync())
	assert.Equal(t, 5, srv.LogCount())
}

func TestSecurityNoSecretInAnyOutput(t *testing.T) {
	const (
		secret = "S3CRET-b1f0c2d9e8a7"
		token  = "T0KEN-5e6f7a8b9c0d"
	)
	var outputs []string
	collect := func(what string, s ...string) {
		for _, x := range s {
			outputs = append(outputs, what+": "+x)
		}
	}
	printConfig := func(c Config) {
		collect("config", fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String(),
			fmt.Sprintf("%+v", &c))
	}
	printWriter := func(w *Writer) {
		printConfig(w.cfg)
		s := w.Stats()
		collect("stats", fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.LastError)
		collect("writer", fmt.Sprintf("%v", w), fmt.Sprintf("%+v", w))
	}
	printErr := func(what string, err error) {
		if err != nil {
			collect(what, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			var nd *NotDeliveredError
			if errors.As(err, &nd) {
				for _, c := range nd.Causes {
					collect(what+" cause", fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))
				}
			}
		}
	}
	reports := &relReports{}
	zapErrs := &relZapErrors{}
	dir := t.TempDir()

	// 1. The server knows the secret and wants another token: 401s with a
	// token are retried, then spooled.
	srv := slstest.NewServer(slstest.Options{AccessKeySecret: secret, SecurityToken: "the-right-token"})
	defer srv.Close()
	p := &tokenProvider{}
	p.token.Store(token)
	cfg1 := testConfig(srv)
	cfg1.AccessKeyID, cfg1.AccessKeySecret = "", ""
	cfg1.Credentials = sls.NewStaticCredentialsProvider(slstest.DefaultAccessKeyID, secret, token)
	cfg1.SpoolDir = dir
	cfg1.RetryTimeout = 500 * time.Millisecond // retried a while, then spooled
	cfg1.RetryBackoff, cfg1.RetryBackoffMax = 10*time.Millisecond, 50*time.Millisecond
	cfg1.OnError = reports.add
	printConfig(cfg1)
	w1, err := NewWriter(cfg1)
	require.NoError(t, err)
	// The first answer quotes every credential back.
	srv.FailNext(1, slstest.Fault{Status: 403, Code: "Unauthorized",
		Message: "key " + slstest.DefaultAccessKeyID + ", secret " + secret + ", token " + token})
	l1 := relLogger(w1, zapErrs)
	for i := 0; i < 20; i++ {
		l1.Info("wrong token", zap.String("g", "a"), zap.Int("i", i))
	}
	l1.DPanic("a DPanic syncs inside Write, and zap prints the error") // development off: no panic
	printErr("sync", l1.Sync())
	printWriter(w1)
	printErr("close", w1.Close())
	assert.NotZero(t, w1.Stats().Spooled)

	// 2. Static credentials with a wrong secret and a token: the signature
	// does not match; a spool replay fails the same way.
	cfg2 := testConfig(srv)
	cfg2.AccessKeySecret = secret + "-wrong"
	cfg2.SecurityToken = token
	cfg2.SpoolDir = dir
	cfg2.RetryTimeout = 500 * time.Millisecond // retried a while, then spooled
	cfg2.RetryBackoff, cfg2.RetryBackoffMax = 10*time.Millisecond, 50*time.Millisecond
	cfg2.OnError = reports.add
	printConfig(cfg2)
	w2, err := NewWriter(cfg2)
	require.NoError(t, err)
	l2 := relLogger(w2, zapErrs)
	for i := 0; i < 20; i++ {
		l2.Info("wrong secret", zap.String("g", "b"), zap.Int("i", i))
	}
	l2.DPanic("again")
	printErr("sync", l2.Sync())
	printWriter(w2)
	printErr("close", w2.Close())

	// 3. The right credentials: the spool is delivered.
	srv.SetCredentials("", "", token)
	cfg3 := testConfig(srv)
	cfg3.AccessKeySecret = secret
	cfg3.SecurityToken = token
	cfg3.SpoolDir = dir
	cfg3.OnError = reports.add
	w3, err := NewWriter(cfg3)
	require.NoError(t, err)
	require.True(t, srv.WaitLogs(int(w1.Stats().Spooled+w2.Stats().Spooled), 10*time.Second))
	printWriter(w3)
	printErr("close", w3.Close())

	// 4. Configuration errors with the secret in the Config.
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Endpoint = "https://ak:" + secret + "@host" },
		func(c *Config) { c.Endpoint = "ftp://" + secret },
		func(c *Config) { c.Project = "" },
		func(c *Config) { c.BufferBytes = 1 },
	} {
		c := testConfig(srv)
		c.AccessKeySecret, c.SecurityToken = secret, token
		mutate(&c)
		_, err := NewWriter(c)
		require.Error(t, err)
		printErr("NewWriter", err)
	}
	// The sink URL carries credentials in its user info.
	_, err = ConfigFromURL("sls://ak:" + secret + "@127.0.0.1:1/proj/store?bogus=1")
	require.Error(t, err)
	printErr("sink URL", err)
	_, err = ConfigFromURL("sls://ak:" + secret + "@127.0.0.1:1/proj/store?linger=soon")
	require.Error(t, err)
	printErr("sink URL", err)

	collect("OnError", reports.text())
	collect("zap ErrorOutput", zapErrs.text())
	require.NotEmpty(t, reports.text())
	require.Contains(t, reports.text(), "key ***, secret ***, token ***", "the quoting answer was reported")
	require.Contains(t, zapErrs.text(), "write error", "zap printed the DPanic's delivery error")
	for _, o := range outputs {
		assert.NotContains(t, o, secret)
		assert.NotContains(t, o, token)
	}
	// Nor the spool files.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	corrupt, _ := filepath.Glob(filepath.Join(dir, corruptDir, "*"))
	for _, f := range append(files, corrupt...) {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.NotContains(t, string(b), secret, f)
			assert.NotContains(t, string(b), token, f)
		}
	}
	t.Logf("checked %d outputs (%d bytes) for the secret and the token", len(outputs), len(strings.Join(outputs, "")))
}

// heapGrowth runs f and returns how many bytes it allocated.
func relAllocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestSecurityHugeResponseBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 64<<20)
	for _, status := range []int{200, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			srv.SetResponseBody(status, big)
			w, errs := newTestWriter(t, srv, func(c *Config) {
				c.RetryTimeout = time.Second
				c.MaxBatchCount = 10
			})
			logger := newTestLogger(w)
			var err error
			alloc := relAllocatedBy(func() {
				for i := 0; i < 50; i++ {
					logger.Info("huge answer", zap.String("g", "h"), zap.Int("i", i))
				}
				err = logger.Sync()
			})
			s := w.Stats()
			t.Logf("HTTP %d with a 64 MiB body: %d requests, %.1f MiB allocated in all, sync: %.200v", status, s.Requests, float64(alloc)/(1<<20), err)
			assert.Less(t, alloc, uint64(32<<20), "the 64 MiB body is not read")
			if status == 200 {
				require.NoError(t, err, "a 200 is stored, whatever its body")
				assert.Equal(t, 50, srv.LogCount())
				assert.Equal(t, uint64(50), s.Delivered)
			} else {
				var nd *NotDeliveredError
				require.ErrorAs(t, err, &nd)
				assert.Equal(t, 50, nd.Entries)
				assert.Less(t, len(err.Error()), 4<<10, "the error quotes a bounded part of the body")
				assert.Less(t, len(errs.text()), 64<<10*int(s.Requests), "reports are bounded")
				assert.Equal(t, uint64(50), s.Failed)
				assert.NotZero(t, s.Retries, "a 500 is retried")
			}
			// Back to normal answers: the writer works on.
			srv.SetResponseBody(0, nil)
			logger.Info("after", zap.String("g", "h"), zap.Int("i", 100))
			require.NoError(t, logger.Sync())
			require.NoError(t, w.Close())
		})
	}
}

func TestSecuritySlowLorisCannotHangClose(t *testing.T) {
	t.Run("delayed answers", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		srv.SetDelay(time.Minute) // far beyond every timeout below
		w, _ := newTestWriter(t, srv, func(c *Config) {
			// The default 15 s RequestTimeout: only Close's deadline
			// can cut the attempt short.
			c.CloseTimeout = time.Second
			c.SyncTimeout = 500 * time.Millisecond
		})
		logger := newTestLogger(w)
		for i := 0; i < 10; i++ {
			logger.Info("slow", zap.String("g", "s"), zap.Int("i", i))
		}
		start := time.Now()
		err := logger.Sync()
		assert.Less(t, time.Since(start), 2*time.Second, "Sync is bounded by SyncTimeout")
		var nd *NotDeliveredError
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Pending)

		start = time.Now()
		err = w.Close()
		elapsed := time.Since(start)
		assert.Less(t, elapsed, 2500*time.Millisecond, "Close is bounded by CloseTimeout")
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Entries)
		assert.Equal(t, uint64(10), w.Stats().Failed)
		t.Logf("Close returned after %v", elapsed.Round(time.Millisecond))
	})
	t.Run("trickling headers, default client", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var wg sync.WaitGroup
		done := make(chan struct{})
		defer func() {
			close(done)
			ln.Close()
			wg.Wait()
		}()
		wg.Add(1)
		go func() { // an endpoint that reads the request, then answers one byte a second
			defer wg.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer conn.Close()
					r := bufio.NewReader(conn)
					for { // the headers
						line, err := r.ReadString('\n')
						if err != nil || line == "\r\n" {
							break
						}
					}
					msg := "HTTP/1.1 200 OK\r\nX-Slow: " + strings.Repeat("z", 1000)
					for i := 0; i < len(msg); i++ {
						if _, err := conn.Write([]byte{msg[i]}); err != nil {
							return
						}
						select {
						case <-done:
							return
						case <-time.After(time.Second):
						}
					}
				}()
			}
		}()
		errs := &relReports{}
		w, err := NewWriter(Config{
			Endpoint: "http://" + ln.Addr().String(), Project: "proj", Logstore: "store",
			AccessKeyID: "ak", AccessKeySecret: "sk",
			CloseTimeout: time.Second, OnError: errs.add,
		})
		require.NoError(t, err)
		logger := newTestLogger(w)
		for i := 0; i < 10; i++ {
			logger.Info("slow", zap.Int("i", i))
		}
		start := time.Now()
		err = w.Close()
		elapsed := time.Since(start)
		assert.Less(t, elapsed, 2500*time.Millisecond, "Close is bounded by CloseTimeout")
		var nd *NotDeliveredError
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 10, nd.Entries)
		t.Logf("Close returned after %v: %v", elapsed.Round(time.Millisecond), err)
	})
}

// TestSecurityEveryCredentialScrubbedFromEveryOutput: whichever credential
// the service (or a proxy before it) quotes back, the key id, the secret or
// the STS token, static or from a provider, it appears in no output: the
// error Sync returns and its causes, in every verb; OnError; Stats and
// Stats.LastError; the printed Writer; zap's ErrorOutput.
func TestSecurityEveryCredentialScrubbedFromEveryOutput(t *testing.T) {
	const (
		keyID  = "LTAI-KEY-1d2c3b4a5e6f"
		secret = "SECRET-9f8e7d6c5b4a"
		token  = "STS-TOKEN-5a6b7c8d9e0f"
	)
	credentials := []struct{ name, value string }{{"key id", keyID}, {"secret", secret}, {"token", token}}
	answers := []struct {
		name  string
		fault func(quote string) slstest.Fault
	}{
		{"SLS error message", func(q string) slstest.Fault {
			return slstest.Fault{Status: 403, Code: "Unauthorized", Message: "denied for " + q + " (" + q + ")"}
		}},
		{"proxy body", func(q string) slstest.Fault {
			return slstest.Fault{Status: 400, Body: []byte("<html>bad request from " + q + "</html>")}
		}},
	}
	sources := []struct {
		name   string
		config func(*Config)
	}{
		{"static", func(c *Config) {
			c.AccessKeyID, c.AccessKeySecret, c.SecurityToken = keyID, secret, token
		}},
		{"provider", func(c *Config) {
			c.AccessKeyID, c.AccessKeySecret = "", ""
			c.Credentials = sls.NewStaticCredentialsProvider(keyID, secret, token)
		}},
	}
	for _, cred := range credentials {
		for _, answer := range answers {
			for _, source := range sources {
				t.Run(cred.name+"/"+answer.name+"/"+source.name, func(t *testing.T) {
					srv := slstest.NewServer(slstest.Options{})
					defer srv.Close()
					reports := &relReports{}
					w, _ := newTestWriter(t, srv, func(c *Config) {
						source.config(c)
						c.OnError = reports.add
					})
					zapErrs := &relZapErrors{}
					logger := relLogger(w, zapErrs)
					srv.FailNext(2, answer.fault(cred.value))
					logger.Info("quoted", zap.String("g", "q"), zap.Int("i", 0))
					syncErr := logger.Sync()
					require.Error(t, syncErr)
					logger.DPanic("zap prints the error of a synchronous flush") // the second fault
					s := w.Stats()
					require.Contains(t, s.LastError, "***", "the quoted credential was replaced")

					var outputs []string
					add := func(what string, v ...string) {
						for _, x := range v {
							outputs = append(outputs, what+": "+x)
						}
					}
					add("Sync", syncErr.Error(), fmt.Sprintf("%v", syncErr), fmt.Sprintf("%+v", syncErr), fmt.Sprintf("%#v", syncErr))
					var nd *NotDeliveredError
					require.ErrorAs(t, syncErr, &nd)
					for _, c := range nd.Causes {
						add("cause", c.Error(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c))
					}
					add("OnError", reports.text())
					add("Stats", s.LastError, fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s))
					add("Writer", fmt.Sprint(w), fmt.Sprintf("%+v", w), fmt.Sprintf("%#v", w))
					require.Contains(t, zapErrs.text(), "***", "zap printed the flush's error")
					add("zap ErrorOutput", zapErrs.text())
					closeErr := w.Close()
					if closeErr != nil {
						add("Close", closeErr.Error(), fmt.Sprintf("%+v", closeErr), fmt.Sprintf("%#v", closeErr))
					}
					for _, o := range outputs {
						for _, c := range credentials {
							assert.NotContains(t, o, c.value, "the %s", c.name)
						}
					}
				})
			}
		}
	}
}
