package zapsls

// Destinations: many logstores, topics, shard keys and processors on one
// Writer (DESIGN.md, "Destinations").

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// destLogger is a logger on w whose core sends to d.
func destLogger(w *Writer, d Destination) *zap.Logger {
	return zap.New(NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel, WithDestination(d)))
}

func TestDestinationsOneWriterThreeLogstores(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	loggers := map[string]*zap.Logger{
		"access-log": destLogger(w, Destination{Logstore: "access-log", Topic: "http"}),
		"audit-log":  destLogger(w, Destination{Logstore: "audit-log", Topic: "payments", Source: "pay-1"}),
		"app-log":    destLogger(w, Destination{Logstore: "app-log", Topic: "app"}),
	}
	for i := range 300 {
		for name, l := range loggers {
			l.Info("entry", zap.String("to", name), zap.Int("i", i))
		}
	}
	require.NoError(t, w.Sync())
	assert.Empty(t, errs.text())

	want := map[string][2]string{"access-log": {"http", "source-1"}, "audit-log": {"payments", "pay-1"}, "app-log": {"app", "source-1"}}
	count := map[string]int{}
	for _, l := range srv.Logs() {
		to := l.Contents["to"]
		require.Equal(t, to, l.Logstore, "an entry arrives in the logstore its logger names")
		assert.Equal(t, want[to][0], l.Topic)
		assert.Equal(t, want[to][1], l.Source)
		assert.Equal(t, "test-project", l.Project)
		assert.Equal(t, "test", l.Tags["env"], "the Writer's tags go with every destination")
		count[to]++
	}
	assert.Equal(t, map[string]int{"access-log": 300, "audit-log": 300, "app-log": 300}, count)
	for _, r := range srv.Requests() {
		assert.Len(t, map[string]bool{r.Logstore: true}, 1)
		for _, l := range r.Group.Logs {
			for _, c := range l.Contents {
				if c.GetKey() == "to" {
					assert.Equal(t, r.Logstore, c.GetValue(), "a batch holds one destination's entries")
				}
			}
		}
	}
	s := w.Stats()
	assert.Equal(t, uint64(900), s.Delivered)
	require.Len(t, s.Destinations, 3)
	for _, d := range s.Destinations {
		assert.Equal(t, uint64(300), d.Delivered, d.Destination.String())
		assert.Equal(t, "test-project", d.Destination.Project)
	}
	assert.Equal(t, "access-log", s.Destinations[0].Destination.Logstore, "rows sorted by destination")
}

func TestDestinationRoutingFieldsReRouteOnlyTheChild(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	var console bytes.Buffer
	consoleCore := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&console), zapcore.DebugLevel)
	slsCore := NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel)
	parent := zap.New(zapcore.NewTee(consoleCore, slsCore))

	child := parent.With(Topic("payments"), Logstore("audit-log"), zap.String("k", "v"))
	child.Info("from the child")
	parent.Info("from the parent")
	grandchild := child.With(Topic(""))
	grandchild.Info("from the grandchild")
	parent.Info("one entry re-routed", Logstore("once-log"))
	require.NoError(t, w.Sync())

	where := map[string][2]string{}
	for _, l := range srv.Logs() {
		where[l.Contents["msg"]] = [2]string{l.Logstore, l.Topic}
	}
	assert.Equal(t, map[string][2]string{
		"from the child":      {"audit-log", "payments"},
		"from the parent":     {"test-logstore", "topic-1"},
		"from the grandchild": {"audit-log", "topic-1"},
		"one entry re-routed": {"once-log", "topic-1"},
	}, where)
	for _, l := range srv.Logs() {
		for _, k := range l.Keys {
			assert.NotEqual(t, "", k, "a routing field leaves no content behind")
		}
	}

	out := console.String()
	assert.Equal(t, 4, strings.Count(out, "\n"), out)
	assert.Contains(t, out, `{"k": "v"}`, "the console prints the child's ordinary field")
	for _, leak := range []string{"payments", "audit-log", "once-log", "routing"} {
		assert.NotContains(t, out, leak, "the console core ignores routing fields")
	}
}

func TestDestinationShardKeysInOrderPerKey(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, func(c *Config) {
		c.ShardHashBuckets = 8
		c.MaxBatchCount = 256 // many batches per key range, posted side by side but for order
	})
	core := NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel)
	logger := zap.New(core)
	const keys, total = 64, 10000
	perKey := make([]*zap.Logger, keys)
	for k := range perKey {
		perKey[k] = logger.With(ShardKey("user-"+strconv.Itoa(k)), zap.Int("key", k))
	}
	for i := range total {
		perKey[i%keys].Info("ordered", zap.Int("seq", i/keys))
	}
	require.NoError(t, w.Sync())
	assert.Empty(t, errs.text())

	logs := srv.Logs()
	require.Len(t, logs, total)
	next := make([]int, keys)
	buckets := map[string]bool{}
	for _, l := range logs {
		k, err := strconv.Atoi(l.Contents["key"])
		require.NoError(t, err)
		seq, err := strconv.Atoi(l.Contents["seq"])
		require.NoError(t, err)
		require.Equal(t, next[k], seq, "key %d: entries arrive in order", k)
		next[k]++
		require.Equal(t, shardHashWant("user-"+strconv.Itoa(k), 8), l.HashKey)
		buckets[l.HashKey] = true
	}
	assert.LessOrEqual(t, len(buckets), 8, "keys rounded to 8 ranges")
	assert.Greater(t, len(buckets), 1)
	for _, r := range srv.Requests() {
		assert.True(t, strings.HasSuffix(r.Path, "/shards/route"), r.Path)
		assert.Len(t, r.HashKey, 32)
	}
}

// shardHashWant computes the SDK producer's AdjustHash independently:
// the MD5's leading log2(buckets) bits, then zeros, as 32 hex digits.
func shardHashWant(key string, buckets int) string {
	sum := md5.Sum([]byte(key))
	bits := 0
	for b := buckets; b > 1; b >>= 1 {
		bits++
	}
	var v [16]byte
	for i := 0; i < bits; i++ {
		if sum[i/8]&(0x80>>(i%8)) != 0 {
			v[i/8] |= 0x80 >> (i % 8)
		}
	}
	return hex.EncodeToString(v[:])
}

func TestShardHashMatchesTheSDK(t *testing.T) {
	// What the SDK producer's AdjustHash (producer/adjusthash.go, v0.1.127)
	// returns for these keys and bucket counts, computed with it: a key
	// lands on the shard the producer would send it to.
	for _, tc := range []struct {
		key     string
		buckets int
		want    string
	}{
		{"user-1", 1, "00000000000000000000000000000000"},
		{"user-1", 2, "80000000000000000000000000000000"},
		{"user-1", 8, "c0000000000000000000000000000000"},
		{"order-42", 64, "4c000000000000000000000000000000"},
		{"order-42", 256, "4f000000000000000000000000000000"},
		{"", 16, "d0000000000000000000000000000000"},
		{"user-7", 32, "40000000000000000000000000000000"},
		{"user-7", 4, "40000000000000000000000000000000"},
	} {
		assert.Equal(t, tc.want, shardHash(tc.key, tc.buckets), "%q over %d", tc.key, tc.buckets)
		assert.Equal(t, tc.want, shardHashWant(tc.key, tc.buckets), "the test's own oracle agrees")
	}
}

func TestDestinationFailingLogstoreNeverBlocksTheOthers(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{Logstores: []string{"test-logstore"}})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	good := destLogger(w, Destination{})
	bad := destLogger(w, Destination{Logstore: "missing-log"})
	for i := range 500 {
		good.Info("good", zap.Int("i", i))
		bad.Info("bad", zap.Int("i", i))
	}
	err := w.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 500, nd.Entries)
	assert.Contains(t, err.Error(), "test-project/missing-log")
	assert.Contains(t, err.Error(), "LogStoreNotExist")
	var pe *PutLogsError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "missing-log", pe.Logstore)
	assert.Contains(t, errs.text(), "test-project/missing-log", "OnError names the logstore")

	delivered := 0
	for _, l := range srv.Logs() {
		require.Equal(t, "test-logstore", l.Logstore)
		delivered++
	}
	assert.Equal(t, 500, delivered, "the healthy logstore delivers everything")
	s := w.Stats()
	assert.Equal(t, uint64(500), s.Delivered)
	assert.Equal(t, uint64(500), s.Failed)
	require.Len(t, s.Destinations, 2)
	assert.Equal(t, "missing-log", s.Destinations[0].Destination.Logstore)
	assert.Equal(t, uint64(500), s.Destinations[0].Failed)
	assert.Equal(t, uint64(500), s.Destinations[1].Delivered)
}

func TestDestinationSpoolReplaysEachBatchToItsOwn(t *testing.T) {
	dir := t.TempDir()
	down := slstest.NewServer(slstest.Options{})
	down.FailFor(time.Hour, slstest.Fault{Status: 503})
	w1, _ := newTestWriter(t, down, func(c *Config) {
		c.SpoolDir = dir
		c.RetryTimeout = 200 * time.Millisecond
		c.ShardHashBuckets = 4
	})
	destLogger(w1, Destination{}).Info("default")
	destLogger(w1, Destination{Logstore: "audit-log", Topic: "payments"}).Info("audit")
	destLogger(w1, Destination{Logstore: "keyed-log", ShardKey: "k1", Processor: "proc-1"}).Info("keyed")
	err := w1.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 3, nd.Spooled)
	require.NoError(t, w1.Close())
	down.Close()
	require.Len(t, spoolFiles(t, dir), 3)

	up := slstest.NewServer(slstest.Options{})
	defer up.Close()
	w2, _ := newTestWriter(t, up, func(c *Config) { c.SpoolDir = dir })
	require.True(t, up.WaitLogs(3, 10*time.Second))
	require.NoError(t, w2.Close())
	got := map[string]slstest.Log{}
	for _, l := range up.Logs() {
		got[l.Contents["msg"]] = l
	}
	require.Len(t, got, 3)
	assert.Equal(t, "test-logstore", got["default"].Logstore)
	assert.Equal(t, "topic-1", got["default"].Topic)
	assert.Equal(t, "audit-log", got["audit"].Logstore)
	assert.Equal(t, "payments", got["audit"].Topic)
	assert.Equal(t, "keyed-log", got["keyed"].Logstore)
	assert.Equal(t, shardHashWant("k1", 4), got["keyed"].HashKey)
	assert.Equal(t, "proc-1", got["keyed"].Processor)
	assert.Empty(t, spoolFiles(t, dir))
}

func TestDestinationProcessorAndPaths(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.Processor = "default-proc" })
	destLogger(w, Destination{}).Info("a")
	destLogger(w, Destination{Logstore: "other-log", Processor: "p2"}).Info("b")
	destLogger(w, Destination{Logstore: "third-log", ShardKey: "x"}).Info("c")
	require.NoError(t, w.Sync())
	paths := map[string]string{}
	for _, r := range srv.Requests() {
		paths[r.Logstore] = r.Path + " " + r.Processor
	}
	assert.Equal(t, map[string]string{
		"test-logstore": "/logstores/test-logstore default-proc",
		"other-log":     "/logstores/other-log p2",
		"third-log":     "/logstores/third-log/shards/route default-proc",
	}, paths)
}

func TestDestinationRefusedAtTheCoreNamesTheField(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	l := destLogger(w, Destination{Logstore: "Bad Name!"})
	l.Info("kept")
	require.NoError(t, w.Sync())
	assert.Contains(t, errs.text(), "Destination.Logstore")
	require.Len(t, srv.Logs(), 1)
	assert.Equal(t, "test-logstore", srv.Logs()[0].Logstore, "the core keeps the Writer's destination")
	destLogger(w, Destination{}).With(Topic(string([]byte{0xd6, 0xd0}))).Info("kept too")
	require.NoError(t, w.Sync())
	assert.Contains(t, errs.text(), "Destination.Topic")
	assert.Len(t, srv.Logs(), 2)
}

func TestSinkURLsOnOneEndpointShareOneEngine(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID)
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	base := fmt.Sprintf("sls://%s/test-project/", strings.TrimPrefix(srv.Endpoint(), "http://"))
	app := base + "app-log?protocol=http&topic=app"
	audit := base + "audit-log?protocol=http&topic=audit&hashKey=user-9&processor=p1"
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{app}
	appLogger, err := cfg.Build()
	require.NoError(t, err)
	cfg.OutputPaths = []string{audit}
	auditLogger, err := cfg.Build()
	require.NoError(t, err)
	defer func() { require.NoError(t, CloseSinks()) }()

	w1, ok1 := SinkWriter(app)
	w2, ok2 := SinkWriter(audit)
	require.True(t, ok1)
	require.True(t, ok2)
	assert.Same(t, w1, w2, "one engine for both URLs")

	appLogger.Info("to app")
	auditLogger.Info("to audit")
	require.NoError(t, appLogger.Sync())
	got := map[string]slstest.Log{}
	for _, l := range srv.Logs() {
		got[l.Contents["msg"]] = l
	}
	require.Len(t, got, 2)
	assert.Equal(t, "app-log", got["to app"].Logstore)
	assert.Equal(t, "app", got["to app"].Topic)
	assert.Equal(t, "", got["to app"].HashKey)
	assert.Equal(t, "audit-log", got["to audit"].Logstore)
	assert.Equal(t, "audit", got["to audit"].Topic)
	assert.Equal(t, shardHashWant("user-9", DefaultShardHashBuckets), got["to audit"].HashKey)
	assert.Equal(t, "p1", got["to audit"].Processor)
	host, _ := os.Hostname()
	assert.Equal(t, host, got["to audit"].Source)
}
