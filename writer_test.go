package zapsls

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

func TestWriterManyGoroutinesExactlyOnce(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	logger := newTestLogger(w)

	const goroutines, each = 16, 6250 // 100k entries
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			l := logger.With(zap.Int("g", g))
			for i := 0; i < each; i++ {
				l.Info("entry", zap.Int("i", i), zap.String("pad", "some realistic padding text"))
			}
		}(g)
	}
	wg.Wait()
	require.NoError(t, logger.Sync())

	ids := logIDs(t, srv)
	assert.Len(t, ids, goroutines*each)
	for _, r := range srv.Requests() {
		require.Equal(t, "test-project", r.Project)
		require.Equal(t, "test-logstore", r.Logstore)
		require.Equal(t, "/logstores/test-logstore/shards/lb", r.Path)
		require.Equal(t, "lz4", r.Compression)
		require.Equal(t, "topic-1", r.Group.GetTopic())
		require.Equal(t, "source-1", r.Group.GetSource())
		require.Regexp(t, `^[0-9A-F]{16}-[0-9A-F]+$`, r.PackID)
		tags := map[string]string{}
		for _, tag := range r.Group.LogTags {
			tags[tag.GetKey()] = tag.GetValue()
		}
		require.Equal(t, "test", tags["env"])
		require.Equal(t, "z1", tags["zone"])
	}
	s := w.Stats()
	assert.Equal(t, uint64(goroutines*each), s.Enqueued)
	assert.Equal(t, uint64(goroutines*each), s.Delivered)
	assert.Zero(t, s.Dropped+s.Failed)
	assert.Equal(t, uint64(len(srv.Requests())), s.Batches)
	assert.Less(t, s.WireBytes, s.RawBytes, "lz4 compresses")
	assert.Empty(t, errs.text())
}

func TestWriterCompressionAndSignatures(t *testing.T) {
	for _, tc := range []struct{ compression, sig string }{
		{"lz4", "v1"}, {"zstd", "v1"}, {"none", "v1"}, {"lz4", "v4"}, {"zstd", "v4"},
	} {
		t.Run(tc.compression+"-"+tc.sig, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, _ := newTestWriter(t, srv, func(c *Config) {
				c.Compression = tc.compression
				c.SignatureVersion = tc.sig
				c.Region = "cn-hangzhou"
			})
			logger := newTestLogger(w)
			for i := 0; i < 500; i++ {
				logger.Info("compressed", zap.Int("i", i), zap.String("g", "x"))
			}
			require.NoError(t, logger.Sync())
			assert.Len(t, logIDs(t, srv), 500)
			wantCompression := tc.compression
			if wantCompression == "none" {
				wantCompression = ""
			}
			wantSig := 1
			if tc.sig == "v4" {
				wantSig = 4
			}
			for _, r := range srv.Requests() {
				assert.Equal(t, wantCompression, r.Compression)
				assert.Equal(t, wantSig, r.SignatureVersion)
			}
		})
	}
}

func TestWriterIncompressibleLZ4(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	// Base64 of random bytes barely compresses; a tiny batch does not at all.
	_, err := w.Write([]byte(`{"k":"x"}` + "\n"))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	require.Equal(t, 1, srv.LogCount())
	assert.Equal(t, "x", srv.Logs()[0].Contents["k"])
}

func TestWriterSecurityTokenRotation(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{SecurityToken: "token-1"})
	defer srv.Close()
	p := &tokenProvider{}
	p.token.Store("token-1")
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.Credentials = p
		c.AccessKeyID, c.AccessKeySecret = "", ""
	})
	logger := newTestLogger(w)
	for i := 0; i < 100; i++ {
		logger.Info("before", zap.String("g", "a"), zap.Int("i", i))
	}
	require.NoError(t, logger.Sync())

	// The service starts refusing the old token before the provider has
	// the new one: the 401s are retried until the provider refreshes.
	srv.SetCredentials(slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret, "token-2")
	for i := 0; i < 100; i++ {
		logger.Info("after", zap.String("g", "b"), zap.Int("i", i))
	}
	time.AfterFunc(150*time.Millisecond, func() { p.token.Store("token-2") })
	require.NoError(t, logger.Sync())

	assert.Len(t, logIDs(t, srv), 200)
	reqs := srv.Requests()
	assert.Equal(t, "token-1", reqs[0].SecurityToken)
	assert.Equal(t, "token-2", reqs[len(reqs)-1].SecurityToken)
	assert.NotZero(t, w.Stats().Retries)
}

func TestWriterBatchLimits(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchCount = 100; c.Linger = time.Hour })
		logger := newTestLogger(w)
		for i := 0; i < 1050; i++ {
			logger.Info("counted", zap.Int("i", i), zap.String("g", "c"))
		}
		require.NoError(t, logger.Sync())
		assert.Len(t, logIDs(t, srv), 1050)
		for _, r := range srv.Requests() {
			assert.LessOrEqual(t, len(r.Group.Logs), 100)
		}
		assert.GreaterOrEqual(t, len(srv.Requests()), 11)
	})
	t.Run("bytes", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 << 10; c.Linger = time.Hour })
		logger := newTestLogger(w)
		big := strings.Repeat("x", 3000)
		for i := 0; i < 200; i++ {
			logger.Info("sized", zap.Int("i", i), zap.String("g", "b"), zap.String("big", big))
		}
		require.NoError(t, logger.Sync())
		assert.Len(t, logIDs(t, srv), 200)
		for _, r := range srv.Requests() {
			assert.LessOrEqual(t, r.RawSize, 64<<10)
		}
		assert.GreaterOrEqual(t, len(srv.Requests()), 10)
	})
	// Batches are sized to the traffic (batchLimit): a batch is sealed at
	// steadyBatchBytes when its route's last seal is minSealInterval old,
	// and otherwise grows towards MaxBatchBytes.
	t.Run("light traffic is sealed at the steady size", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })
		logger := newTestLogger(w)
		value := strings.Repeat("l", 1000)
		for chunk := 0; chunk < 3; chunk++ {
			for i := 0; i < 140; i++ { // about 140 KiB
				logger.Info("light", zap.Int("i", chunk*1000+i), zap.String("g", "l"), zap.String("v", value))
			}
			time.Sleep(6 * minSealInterval)
		}
		require.NoError(t, logger.Sync())
		assert.Len(t, logIDs(t, srv), 420)
		reqs := srv.Requests()
		require.GreaterOrEqual(t, len(reqs), 3)
		for _, r := range reqs {
			assert.LessOrEqual(t, r.RawSize, steadyBatchBytes+8<<10)
		}
	})
	t.Run("heavy traffic fills batches", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })
		logger := newTestLogger(w)
		value := strings.Repeat("h", 1300)
		for i := 0; i < 2000; i++ { // about 2.6 MiB, written within milliseconds
			logger.Info("heavy", zap.Int("i", i), zap.String("g", "h"), zap.String("v", value))
		}
		require.NoError(t, logger.Sync())
		assert.Len(t, logIDs(t, srv), 2000)
		// At steadyBatchBytes each, it would take 21 requests.
		assert.Less(t, len(srv.Requests()), 10)
	})
	t.Run("entry larger than a batch", func(t *testing.T) {
		srv := slstest.NewServer(slstest.Options{})
		defer srv.Close()
		w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 << 10 })
		logger := newTestLogger(w)
		logger.Info("before", zap.String("g", "x"), zap.Int("i", 1))
		logger.Info("huge", zap.String("big", strings.Repeat("y", 100<<10)))
		logger.Info("after", zap.String("g", "x"), zap.Int("i", 2))
		err := logger.Sync()
		var nd *NotDeliveredError
		require.ErrorAs(t, err, &nd)
		assert.Equal(t, 1, nd.Entries)
		assert.Contains(t, err.Error(), "entry too large")
		assert.Len(t, logIDs(t, srv), 2, "the neighbours arrive")
		assert.Equal(t, uint64(1), w.Stats().Dropped)
	})
}

func TestWriterSyncIsPrompt(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })

	start := time.Now()
	require.NoError(t, w.Sync(), "empty")
	logger := newTestLogger(w)
	for i := 0; i < 20000; i++ {
		logger.Info("queued", zap.Int("i", i), zap.String("g", "s"))
	}
	require.NoError(t, w.Sync(), "full ring, linger of an hour")
	assert.Len(t, logIDs(t, srv), 20000)
	// Not a timing assertion on speed, only that Sync did not wait for the
	// hour-long linger or its own 10 s timeout.
	assert.Less(t, time.Since(start), 9*time.Second)
}

func TestWriterWrongSecretFailsSync(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, func(c *Config) { c.AccessKeySecret = "wrong-secret-value" })
	logger := newTestLogger(w)
	for i := 0; i < 10; i++ {
		logger.Info("refused", zap.Int("i", i))
	}
	err := logger.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 10, nd.Entries)
	assert.Contains(t, err.Error(), "SignatureNotMatch")
	assert.Contains(t, err.Error(), "request id")
	var pe *PutLogsError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 401, pe.Status)
	assert.False(t, pe.Retryable)
	assert.Equal(t, 1, pe.Attempts, "bad credentials are not retried")
	s := w.Stats()
	assert.Equal(t, uint64(10), s.Failed)
	assert.Contains(t, s.LastError, "SignatureNotMatch")
	assert.Contains(t, errs.text(), "SignatureNotMatch")
	for _, text := range []string{err.Error(), errs.text(), fmt.Sprintf("%+v", s), fmt.Sprint(w.cfg), fmt.Sprintf("%#v", w.cfg)} {
		assert.NotContains(t, text, "wrong-secret-value")
	}
	// A failure is reported once: the next Sync has nothing to say.
	assert.NoError(t, w.Sync())
}

func TestWriterRetriesToSuccess(t *testing.T) {
	for _, f := range []slstest.Fault{
		{Status: 503, Code: "ServerBusy"},
		{Status: 403, Code: "WriteQuotaExceed"},
		{Status: 500},
		{CloseConnection: true},
	} {
		t.Run(fmt.Sprintf("%d-%s-%v", f.Status, f.Code, f.CloseConnection), func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, func(c *Config) { c.MaxBatchCount = 50 })
			srv.FailNext(4, f)
			logger := newTestLogger(w)
			for i := 0; i < 500; i++ {
				logger.Info("retried", zap.Int("i", i), zap.String("g", "r"))
			}
			require.NoError(t, logger.Sync())
			assert.Len(t, logIDs(t, srv), 500, "nothing lost, nothing duplicated")
			s := w.Stats()
			assert.Equal(t, uint64(4), s.Retries)
			assert.Equal(t, uint64(500), s.Delivered)
			assert.Contains(t, errs.text(), "retrying")
		})
	}
}

func TestWriterRetriedBatchIsByteIdentical(t *testing.T) {
	for _, compression := range []string{CompressLZ4, CompressZstd, CompressNone} {
		t.Run(compression, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{RecordAttempts: true})
			defer srv.Close()
			w, _ := newTestWriter(t, srv, func(c *Config) {
				c.Compression = compression
				c.Linger = time.Hour // one batch, sealed by Sync
			})
			srv.FailNext(1, slstest.Fault{Status: 503})
			srv.FailNext(1, slstest.Fault{CloseConnection: true})
			logger := newTestLogger(w)
			for i := 0; i < 20; i++ {
				logger.Info("once", zap.String("g", "x"), zap.Int("i", i))
			}
			require.NoError(t, logger.Sync())
			// Two refused attempts and the accepted one: the same body,
			// byte for byte, under the same pack id.
			attempts := srv.Attempts()
			var statuses []int
			for _, a := range attempts {
				statuses = append(statuses, a.Status)
			}
			require.Equal(t, []int{503, 0, 200}, statuses)
			first := attempts[0]
			require.NotEmpty(t, first.PackID, "the body decodes and carries a pack id")
			for i, a := range attempts[1:] {
				assert.True(t, bytes.Equal(first.Body, a.Body), "attempt %d is byte-identical to the first", i+2)
				assert.Equal(t, first.PackID, a.PackID, "attempt %d", i+2)
				assert.Equal(t, first.RawSize, a.RawSize)
				assert.Equal(t, first.Compression, a.Compression)
			}
			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, first.PackID, reqs[0].PackID)
			assert.Equal(t, 20, srv.LogCount())
		})
	}
}

func TestWriterDropPolicyAccounting(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.SetDelay(20 * time.Millisecond)
	reports := &relReports{}
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.BufferBytes = 256 << 10
		c.MaxBatchBytes = 64 << 10
		c.OnFull = OnFullDrop
		c.MaxInflight = 1
		c.OnError = reports.add
	})
	zapErrs := &relZapErrors{}
	logger := relLogger(w, zapErrs)
	const written = 20000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < written/4; i++ {
				if ce := logger.Check(zap.InfoLevel, "flood"); ce != nil {
					ce.Write(zap.Int("g", g), zap.Int("i", i), zap.String("pad", strings.Repeat("p", 100)))
				}
			}
		}(g)
	}
	wg.Wait()
	err := logger.Sync()
	s := w.Stats()
	require.NotZero(t, s.Dropped, "the flood must overflow a 256 KiB buffer")
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, int(s.Dropped), nd.Entries, "Sync reports every drop")
	dropped, failed, spooled, _ := reports.snapshot()
	assert.Equal(t, int(s.Dropped), dropped, "OnError reports every drop")
	assert.Equal(t, int(s.Dropped), zapErrs.count(), "zap's ErrorOutput reports every drop")
	assert.Zero(t, failed+spooled)
	assert.Equal(t, uint64(written), s.Enqueued+s.Dropped, "every entry is enqueued or dropped")
	assert.Equal(t, uint64(written), s.Delivered+s.Dropped)
	assert.Equal(t, int(s.Delivered), len(logIDs(t, srv)))
	assert.Zero(t, s.Failed)
}

func TestWriterBlockPolicyLosesNothing(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.SetDelay(10 * time.Millisecond)
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.BufferBytes = 256 << 10
		c.MaxBatchBytes = 64 << 10
		c.BlockTimeout = 30 * time.Second
	})
	logger := newTestLogger(w)
	for i := 0; i < 5000; i++ {
		logger.Info("blocked", zap.Int("i", i), zap.String("g", "b"), zap.String("pad", strings.Repeat("p", 100)))
	}
	require.NoError(t, logger.Sync())
	assert.Len(t, logIDs(t, srv), 5000)
	assert.Zero(t, w.Stats().Dropped)
}

func TestWriterCloseDeliversAndRefuses(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })
	logger := newTestLogger(w)
	for i := 0; i < 1000; i++ {
		logger.Info("closing", zap.Int("i", i), zap.String("g", "c"))
	}
	require.NoError(t, w.Close())
	assert.Len(t, logIDs(t, srv), 1000)
	assert.NoError(t, w.Close(), "idempotent")
	_, err := w.Write([]byte(`{"late":true}`))
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, uint64(1), w.Stats().Dropped)
}

func TestWriterCloseTimeoutReportsLoss(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.CloseTimeout = 300 * time.Millisecond })
	logger := newTestLogger(w)
	for i := 0; i < 10; i++ {
		logger.Info("lost", zap.Int("i", i))
	}
	start := time.Now()
	err := w.Close()
	assert.Less(t, time.Since(start), 5*time.Second, "Close is bounded")
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 10, nd.Entries)
	s := w.Stats()
	assert.Equal(t, uint64(10), s.Failed)
	assert.Equal(t, s.Enqueued, s.Delivered+s.Failed)
}

func TestWriterJSONLines(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	_, err := w.Write([]byte(`{"level":"info","msg":"hi \"there\"","n":1.5,"obj":{"a":[1,2]},"__topic__":"x","ok":true,"nil":null}` + "\n" +
		`{"msg":"second"}` + "\n"))
	require.NoError(t, err)
	_, err = w.Write([]byte("not json\n"))
	require.NoError(t, err, "a text line is shipped as one content")
	_, err = w.Write([]byte("\x00\x01binary\nmore\n"))
	var de *DropError
	require.ErrorAs(t, err, &de)
	err = w.Sync()
	require.ErrorAs(t, err, &de, "Sync reports the dropped binary too")
	assert.Equal(t, 1, de.Entries)
	logs := srv.Logs()
	require.Len(t, logs, 3)
	assert.Equal(t, map[string]string{"content": "not json"}, logs[2].Contents)
	assert.Equal(t, map[string]string{
		"level": "info", "msg": `hi "there"`, "n": "1.5", "obj": `{"a":[1,2]}`,
		"field___topic__": "x", "ok": "true", "nil": "null",
	}, logs[0].Contents)
	assert.Equal(t, "second", logs[1].Contents["msg"])
	assert.Equal(t, uint64(1), w.Stats().Dropped)
	assert.Equal(t, uint64(1), w.Stats().Repaired)
}

func TestWriterRejectsBadFrames(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	enc := NewEncoder(testEncoderConfig())
	buf, err := enc.EncodeEntry(zapcore.Entry{Message: "good"}, nil)
	require.NoError(t, err)
	good := append([]byte(nil), buf.Bytes()...)
	buf.Free()

	for name, bad := range map[string][]byte{
		"truncated":    good[:len(good)-3],
		"wrong tag":    append([]byte{0x12}, good[1:]...),
		"reserved key": {0x0A, 0x14, 0x08, 0x01, 0x12, 0x10, 0x0A, 0x08, '_', '_', 't', 'i', 'm', 'e', '_', '_', 0x12, 0x04, 'a', 'b', 'c', 'd'},
	} {
		_, err := w.Write(bad)
		assert.Error(t, err, name)
	}
	_, err = w.Write(good)
	require.NoError(t, err)
	err = w.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 3, nd.Entries)
	assert.Equal(t, 1, srv.LogCount())
}

func TestNewWriterConfigErrors(t *testing.T) {
	base := Config{Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store", AccessKeyID: "ak", AccessKeySecret: "sk"}
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Endpoint = "" }, "Config.Endpoint: required"},
		{func(c *Config) { c.Endpoint = "ftp://x" }, "Config.Endpoint"},
		{func(c *Config) { c.Endpoint = "https://host/path" }, "Config.Endpoint"},
		{func(c *Config) { c.Project = "" }, "Config.Project: required"},
		{func(c *Config) { c.Project = "Bad_Name" }, "Config.Project"},
		{func(c *Config) { c.Logstore = "" }, "Config.Logstore: required"},
		{func(c *Config) { c.Topic = strings.Repeat("t", 129) }, "Config.Topic"},
		{func(c *Config) { c.Compression = "gzip" }, "Config.Compression"},
		{func(c *Config) { c.SignatureVersion = "v4" }, "Config.Region"},
		{func(c *Config) { c.SignatureVersion = "v9" }, "Config.SignatureVersion"},
		{func(c *Config) { c.MaxBatchBytes = 11 << 20; c.BufferBytes = 64 << 20 }, "Config.MaxBatchBytes"},
		{func(c *Config) { c.MaxBatchCount = 5000 }, "Config.MaxBatchCount"},
		{func(c *Config) { c.BufferBytes = 1 << 20 }, "Config.BufferBytes"},
		{func(c *Config) { c.MaxInflight = -1 }, "Config.MaxInflight"},
		{func(c *Config) { c.OnFull = "wait" }, "Config.OnFull"},
		{func(c *Config) { c.Linger = -time.Second }, "Config.Linger"},
		{func(c *Config) { c.AccessKeyID, c.AccessKeySecret = "", "" }, "no credentials"},
	} {
		cfg := base
		tc.mutate(&cfg)
		if cfg.AccessKeyID == "" {
			t.Setenv(EnvAccessKeyID, "")
			t.Setenv(EnvAccessKeySecret, "")
		}
		_, err := NewWriter(cfg)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "sk")
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID)
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	w, _ := newTestWriter(t, srv, func(c *Config) { c.AccessKeyID, c.AccessKeySecret = "", "" })
	_, err := w.Write([]byte(`{"msg":"from env"}`))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	assert.Equal(t, 1, srv.LogCount())
}

func TestStatsStringHasNoSecret(t *testing.T) {
	c := Config{AccessKeyID: "LTAIkeyid", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n"}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		assert.NotContains(t, s, "s3cr3t")
		assert.NotContains(t, s, "t0k3n")
		assert.NotContains(t, s, "LTAIkeyid", "the key id is scrubbed from printed Configs as from errors")
	}
}

func TestWriterScrubsCredentialsFromServiceMessages(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	const token = "sts-token-quoted-back"
	w, errs := newTestWriter(t, srv, func(c *Config) { c.SecurityToken = token })
	// 403: refused at once (a 401 with a token is retried for a while).
	srv.FailNext(1, slstest.Fault{Status: 403, Code: "Unauthorized",
		Message: "AccessKeyId " + slstest.DefaultAccessKeyID + " is disabled; secret " + slstest.DefaultAccessKeySecret + "; token " + token})
	_, err := w.Write([]byte(`{"msg":"x"}`))
	require.NoError(t, err)
	err = w.Sync()
	require.Error(t, err)
	for _, text := range []string{err.Error(), errs.text(), w.Stats().LastError} {
		assert.Contains(t, text, "AccessKeyId *** is disabled; secret ***; token ***")
		assert.NotContains(t, text, slstest.DefaultAccessKeySecret)
		assert.NotContains(t, text, token)
	}
}

func TestWriterSyncTimeoutSaysWhy(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.RefuseConnections()
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.SyncTimeout = 500 * time.Millisecond
		c.CloseTimeout = 200 * time.Millisecond
	})
	logN(newTestLogger(w), "p", 10)
	err := w.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 10, nd.Pending)
	assert.Equal(t, 10, nd.Entries)
	var pe *PutLogsError
	require.ErrorAs(t, err, &pe, "the last failure of the batch still retrying")
	assert.True(t, pe.Pending)
	assert.Contains(t, err.Error(), "refused")
	assert.Contains(t, err.Error(), "still retrying")

	// OnError saw the retries as RetryErrors, without a doubled prefix.
	errs.mu.Lock()
	var re *RetryError
	require.ErrorAs(t, errs.errs[0], &re)
	errs.mu.Unlock()
	assert.NotContains(t, re.Error(), "zapsls: PutLogs")
	assert.Positive(t, re.Delay)
}

func TestWriterJSONLinesAfterANewline(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	// A leading newline is the frame tag's byte: still JSON.
	_, err := w.Write([]byte("\n{\"msg\":\"one\"}\n\n{\"msg\":\"two\"}\n"))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	assert.Equal(t, 2, srv.LogCount())
}

func TestConcurrentSyncsBothReportAFailure(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.SetDelay(200 * time.Millisecond)
	srv.FailNext(1, slstest.Fault{Status: 400, Code: "PostBodyInvalid"})
	w, _ := newTestWriter(t, srv, nil)
	_, err := w.Write([]byte(`{"msg":"refused"}`))
	require.NoError(t, err)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- w.Sync() }()
	}
	for i := 0; i < 2; i++ {
		var nd *NotDeliveredError
		require.ErrorAs(t, <-errs, &nd, "every Sync covering the failed entry reports it")
		assert.Equal(t, 1, nd.Entries)
	}
	assert.NoError(t, w.Sync(), "and a later Sync does not")
}
