package zapsls

import (
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zapsls/zapsls/slstest"
)

func TestCoreTeeWithObserver(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)

	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	obsCore, observed := observer.New(zap.DebugLevel)
	slsCore := NewCore(NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(NoFieldSet())), w, level)
	assert.Equal(t, zap.InfoLevel, zapcore.LevelOf(slsCore))

	logger := zap.New(zapcore.NewTee(obsCore, slsCore), zap.AddCaller(), zap.AddStacktrace(zap.ErrorLevel)).Named("api")
	logger.Debug("filtered by the atomic level")
	logger.Info("info", zap.String("k", "v"))
	level.SetLevel(zap.DebugLevel)
	assert.Equal(t, zap.DebugLevel, zapcore.LevelOf(slsCore))
	logger.Debug("now enabled")
	logger.Named("db").Error("failed", zap.Error(io.ErrUnexpectedEOF))
	require.NoError(t, logger.Sync())

	assert.Equal(t, 4, observed.Len(), "the observer sees every entry")
	logs := srv.Logs()
	require.Len(t, logs, 3)
	assert.Equal(t, "info", logs[0].Contents["msg"])
	assert.Equal(t, "v", logs[0].Contents["k"])
	assert.Equal(t, "api", logs[0].Contents["logger"])
	assert.Regexp(t, `/core_test\.go:\d+$`, logs[0].Contents["caller"])
	assert.Equal(t, "now enabled", logs[1].Contents["msg"])
	assert.Equal(t, "debug", logs[1].Contents["level"])
	assert.Equal(t, "api.db", logs[2].Contents["logger"])
	assert.Equal(t, "unexpected EOF", logs[2].Contents["error"])
	assert.Contains(t, logs[2].Contents["stacktrace"], "TestCoreTeeWithObserver")
	assert.NotContains(t, logs[0].Contents, "stacktrace")
}

func TestCoreWithChainsConcurrently(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	root := newTestLogger(w).With(zap.String("svc", "api"))

	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			l := root.With(zap.Int("g", g), zap.Namespace("req"))
			for i := 0; i < each; i++ {
				// Each entry derives a new child from a shared parent.
				l.With(zap.Int("i", i)).Info("chained", zap.String("path", "/p"))
			}
		}(g)
	}
	root.Info("root untouched")
	wg.Wait()
	require.NoError(t, root.Sync())

	logs := srv.Logs()
	require.Len(t, logs, goroutines*each+1)
	seen := map[string]bool{}
	for _, l := range logs {
		assert.Equal(t, "api", l.Contents["svc"])
		if l.Contents["msg"] == "root untouched" {
			assert.NotContains(t, l.Contents, "g")
			assert.NotContains(t, l.Contents, "req.i")
			continue
		}
		id := l.Contents["g"] + "/" + l.Contents["req.i"]
		assert.False(t, seen[id], id)
		seen[id] = true
		assert.Equal(t, "/p", l.Contents["req.path"])
	}
	assert.Len(t, seen, goroutines*each)
}

func TestCoreSampling(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	core := zapcore.NewSamplerWithOptions(
		NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.DebugLevel),
		time.Minute, 3, 0)
	logger := zap.New(core)
	for i := 0; i < 10; i++ {
		logger.Info("same message", zap.Int("i", i))
	}
	require.NoError(t, logger.Sync())
	assert.Equal(t, 3, srv.LogCount(), "the sampler passes the first 3")
}

func TestCoreFatalIsDeliveredBeforeExit(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.DebugLevel),
		zap.WithFatalHook(zapcore.WriteThenGoexit))

	done := make(chan struct{})
	go func() {
		defer close(done)
		logger.Info("before")
		logger.Fatal("fatal", zap.String("why", "test"))
	}()
	<-done
	// Nobody called Sync: the core flushed synchronously inside Write.
	logs := srv.Logs()
	require.Len(t, logs, 2)
	assert.Equal(t, "fatal", logs[1].Contents["level"])
	assert.Equal(t, "test", logs[1].Contents["why"])
}

func TestCorePanicIsDeliveredBeforePanicking(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour })
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.DebugLevel))
	assert.Panics(t, func() { logger.Panic("panic entry") })
	require.Equal(t, 1, srv.LogCount())
	assert.Equal(t, "panic", srv.Logs()[0].Contents["level"])
}

func TestCoreWithForeignEncoder(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	// zap's JSON encoder: the Writer maps the JSON keys to contents.
	logger := zap.New(NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	logger.With(zap.Int("n", 7)).Info("json path", zap.Bool("ok", true))
	require.NoError(t, logger.Sync())
	require.Equal(t, 1, srv.LogCount())
	c := srv.Logs()[0].Contents
	assert.Equal(t, "json path", c["msg"])
	assert.Equal(t, "7", c["n"])
	assert.Equal(t, "true", c["ok"])
	_, err := strconv.ParseFloat(c["ts"], 64)
	assert.NoError(t, err)
}

func TestCoreWithZapcoreNewCore(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	// The Encoder and the Writer also work through zapcore.NewCore, with the
	// repair count carried to the Writer after each frame.
	logger := zap.New(zapcore.NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	logger.Info("plain zapcore", zap.String("__source__", "renamed"))
	require.NoError(t, logger.Sync())
	require.Equal(t, 1, srv.LogCount())
	assert.Equal(t, "renamed", srv.Logs()[0].Contents["field___source__"])
	assert.Equal(t, uint64(1), w.Stats().Repaired)
}
