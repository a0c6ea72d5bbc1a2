package examples_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSlogArrives: what an slog.Logger on zapslog and a zapsls core logs
// arrives at SLS with its attributes, groups as dotted keys, With
// attributes, levels and source location.
func TestSlogArrives(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint: srv.Endpoint(), Project: "proj", Logstore: "store",
		AccessKeyID: slstest.DefaultAccessKeyID, AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	defer w.Close()
	core := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.DebugLevel)
	logger := slog.New(zapslog.NewHandler(core, zapslog.WithCaller(true), zapslog.WithName("api")))

	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, file, line, _ := runtime.Caller(0)
	logger.Info("attrs", "s", "x", "n", 42, "f", 1.5, "b", true, "d", 1500*time.Millisecond,
		"t", when, "err", errors.New("boom"), slog.Any("list", []int{1, 2}))
	logger.With("request_id", "r-1").WithGroup("http").With("method", "GET").
		Warn("grouped", slog.Group("user", "id", 7, slog.Group("org", "name", "acme")))
	logger.Debug("debug")
	logger.Error("error")
	logger.Log(context.Background(), slog.LevelWarn+2, "between warn and error")
	require.NoError(t, w.Sync())

	logs := srv.Logs()
	require.Len(t, logs, 5)
	byMsg := map[string]map[string]string{}
	for _, l := range logs {
		byMsg[l.Contents["msg"]] = l.Contents
	}

	a := byMsg["attrs"]
	require.NotNil(t, a)
	assert.Equal(t, "info", a["level"])
	assert.Equal(t, "api", a["logger"])
	assert.Equal(t, "x", a["s"])
	assert.Equal(t, "42", a["n"])
	assert.Equal(t, "1.5", a["f"])
	assert.Equal(t, "true", a["b"])
	assert.Equal(t, "1.5", a["d"], "zap's production config writes durations in seconds")
	assert.Equal(t, "1767323045", a["t"], "zap's production config writes times as epoch seconds")
	assert.Equal(t, "boom", a["err"])
	assert.Equal(t, "[1,2]", a["list"])
	wantCaller := fmt.Sprintf("examples/%s:%d", baseName(file), line+1)
	assert.Equal(t, wantCaller, a["caller"], "source location of the log call")

	g := byMsg["grouped"]
	require.NotNil(t, g)
	assert.Equal(t, "warn", g["level"])
	assert.Equal(t, "r-1", g["request_id"], "With before WithGroup stays at the top")
	assert.Equal(t, "GET", g["http.method"], "With after WithGroup is in the group")
	assert.Equal(t, "7", g["http.user.id"])
	assert.Equal(t, "acme", g["http.user.org.name"])

	assert.Equal(t, "debug", byMsg["debug"]["level"])
	assert.Equal(t, "error", byMsg["error"]["level"])
	assert.Equal(t, "warn", byMsg["between warn and error"]["level"], "slog levels between zap's map down")
}

func baseName(path string) string { return path[strings.LastIndex(path, "/")+1:] }
