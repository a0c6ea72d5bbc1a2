package zapsls

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/zapsls/zapsls/slstest"
)

// sinkURL is an sls:// URL for srv; the test's environment holds the keys.
func sinkURL(t *testing.T, srv *slstest.Server, query string) string {
	t.Helper()
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID)
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	u := srv.URL("proj", "store") + "&linger=20ms"
	if query != "" {
		u += "&" + query
	}
	return u
}

func TestZapConfigJSONEncoding(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	defer func() { require.NoError(t, CloseSinks()) }()

	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{sinkURL(t, srv, "topic=api&tag.env=prod")}
	logger, err := cfg.Build()
	require.NoError(t, err)
	logger.Info("through zap.Config", zap.Int("n", 1), zap.Object("o", address{City: "c"}))
	require.NoError(t, logger.Sync())

	logs := srv.Logs()
	require.Len(t, logs, 1)
	l := logs[0]
	assert.Equal(t, "proj", l.Project)
	assert.Equal(t, "store", l.Logstore)
	assert.Equal(t, "api", l.Topic)
	assert.Equal(t, "prod", l.Tags["env"])
	assert.Equal(t, "through zap.Config", l.Contents["msg"])
	assert.Equal(t, "1", l.Contents["n"])
	assert.Equal(t, `{"city":"c","geo":{"lat":30.25}}`, l.Contents["o"], "JSON encoding: nested objects stay JSON")
	assert.Contains(t, l.Contents["caller"], "sink_test.go")
}

func TestZapConfigNativeEncodingFromYAML(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	defer func() { require.NoError(t, CloseSinks()) }()
	u := sinkURL(t, srv, "compress=zstd&tag.team=infra")

	doc := `
level: info
encoding: sls
outputPaths: ["` + u + `"]
errorOutputPaths: ["stderr"]
encoderConfig:
  messageKey: message
  levelKey: level
  timeKey: ""
  nameKey: logger
  levelEncoder: lowercase
`
	var cfg zap.Config
	require.NoError(t, yaml.Unmarshal([]byte(doc), &cfg))
	logger, err := cfg.Build()
	require.NoError(t, err)
	logger.Named("svc").Info("native", zap.Object("o", address{City: "c"}), zap.Duration("d", time.Second))
	logger.Debug("below the level")
	require.NoError(t, logger.Sync())

	logs := srv.Logs()
	require.Len(t, logs, 1)
	c := logs[0].Contents
	assert.Equal(t, "native", c["message"])
	assert.Equal(t, "info", c["level"])
	assert.Equal(t, "svc", c["logger"])
	assert.Equal(t, "c", c["o.city"], "native encoding: objects are flattened")
	assert.Equal(t, "30.25", c["o.geo.lat"])
	assert.Equal(t, "1000000000", c["d"])
	assert.Equal(t, "infra", logs[0].Tags["team"])
	assert.Equal(t, "zstd", srv.Requests()[0].Compression)
}

func TestWriterConfigFromYAML(t *testing.T) {
	doc := `
endpoint: cn-hangzhou.log.aliyuncs.com
project: proj
logstore: store
topic: api
tags: {env: prod}
compression: zstd
linger: 250ms
blockTimeout: 2s
maxBatchBytes: 1048576
onFull: drop
`
	var c Config
	require.NoError(t, yaml.Unmarshal([]byte(doc), &c))
	assert.Equal(t, Config{
		Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store", Topic: "api",
		Tags: map[string]string{"env": "prod"}, Compression: "zstd", Linger: 250 * time.Millisecond,
		BlockTimeout: 2 * time.Second, MaxBatchBytes: 1 << 20, OnFull: "drop",
	}, c)
	require.Error(t, yaml.Unmarshal([]byte("linger: later"), &c))
}

func TestSinkURLErrors(t *testing.T) {
	t.Setenv(EnvAccessKeyID, "ak")
	t.Setenv(EnvAccessKeySecret, "sk")
	for _, tc := range []struct{ url, want string }{
		{"sls:///proj/store", "endpoint host: missing"},
		{"sls://host/proj", "want /PROJECT/LOGSTORE"},
		{"sls://host/proj/store/extra", "want /PROJECT/LOGSTORE"},
		{"sls://host/proj/store?colour=blue", `unknown parameter "colour"`},
		{"sls://host/proj/store?linger=soon", "parameter linger: want a duration"},
		{"sls://host/proj/store?bufferBytes=lots", "parameter bufferBytes: want a size"},
		{"sls://host/proj/store?maxBatchCount=x", "parameter maxBatchCount: want an integer"},
		{"sls://host/proj/store?protocol=ftp", "parameter protocol"},
		{"sls://host/proj/store?compress=gzip", `parameter compress: "gzip": want lz4, zstd or none`},
		{"sls://host/proj/store?maxInflight=100", "parameter maxInflight: 100: want 1 to 64"},
		{"sls://host/proj/store?signatureVersion=v4", "parameter region: required"},
		{"sls://host/proj/store?topic=a&topic=b", `"topic" given 2 times`},
		{"sls://host/proj/store?tag.=x", "empty tag key"},
		{"sls://host/Proj/store", "path /PROJECT/LOGSTORE: project: \"Proj\""},
	} {
		cfg := zap.NewProductionConfig()
		cfg.OutputPaths = []string{tc.url}
		_, err := cfg.Build()
		require.Error(t, err, tc.url)
		assert.Contains(t, err.Error(), tc.want, tc.url)
	}
	require.NoError(t, CloseSinks())

	// zap's own wrapping quotes the path as written, but nothing zapsls says
	// repeats the user info.
	for _, u := range []string{
		"sls://AKID:hunter2@host/proj/store?colour=x",
		"sls://AKID:hunter2@host/Proj/store",
		"sls://AKID:hunter2@host/proj/store?protocol=http&linger=-1s",
	} {
		_, err := openSink(mustParse(t, u))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
		assert.NotContains(t, err.Error(), "AKID")
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func TestConfigFromURL(t *testing.T) {
	c, err := ConfigFromURL("sls://cn-hangzhou.log.aliyuncs.com/proj/store?topic=t&source=s&tag.a=1&tag.b=2&compress=none&signatureVersion=v4&region=cn-hangzhou&onFull=drop&bufferBytes=128MiB&maxBatchBytes=1MiB&maxBatchCount=100&maxInflight=2&blockTimeout=1s&linger=10ms&requestTimeout=3s&retryTimeout=1m&syncTimeout=2s&closeTimeout=4s&credentials=ecs-ram-role&role=logger")
	require.NoError(t, err)
	assert.Equal(t, Config{
		Endpoint: "https://cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store",
		Topic: "t", Source: "s", Tags: map[string]string{"a": "1", "b": "2"},
		CredentialsFrom: "ecs-ram-role", RAMRole: "logger", SignatureVersion: "v4", Region: "cn-hangzhou",
		Compression: "none", OnFull: "drop", BufferBytes: 128 << 20, MaxBatchBytes: 1 << 20, MaxBatchCount: 100,
		MaxInflight: 2, BlockTimeout: time.Second, Linger: 10 * time.Millisecond, RequestTimeout: 3 * time.Second,
		RetryTimeout: time.Minute, SyncTimeout: 2 * time.Second, CloseTimeout: 4 * time.Second,
	}, c)
}

func TestSinkRegistrySharesAndCloses(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	u := sinkURL(t, srv, "")

	// The same URL in two outputs of one Build and in a second Build: one
	// Writer.
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{u}
	cfg.ErrorOutputPaths = []string{u}
	a, err := cfg.Build()
	require.NoError(t, err)
	b, err := cfg.Build()
	require.NoError(t, err)
	w, ok := SinkWriter(u)
	require.True(t, ok)

	a.Info("from a")
	b.Info("from b")
	require.NoError(t, a.Sync())
	assert.Equal(t, uint64(2), w.Stats().Delivered, "both loggers share the Writer")

	b.Info("delivered by CloseSinks")
	require.NoError(t, CloseSinks())
	assert.Equal(t, 3, srv.LogCount())
	_, ok = SinkWriter(u)
	assert.False(t, ok, "CloseSinks forgets the writers")
	_, err = w.Write([]byte(`{"msg":"late"}`))
	assert.ErrorIs(t, err, ErrClosed)
}
