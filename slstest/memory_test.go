package slstest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/require"
)

// requestLogGroup builds n logs shaped like cmd/zapsls-demo's request
// logs: twelve keys, about 250 bytes of protobuf each.
func requestLogGroup(n, seq int) *sls.LogGroup {
	now := time.Now()
	g := &sls.LogGroup{Topic: proto.String("demo"), Source: proto.String("10.0.0.1")}
	kv := func(k, v string) *sls.LogContent {
		return &sls.LogContent{Key: proto.String(k), Value: proto.String(v)}
	}
	for i := range n {
		g.Logs = append(g.Logs, &sls.Log{
			Time: proto.Uint32(uint32(now.Unix())), TimeNs: proto.Uint32(uint32(now.Nanosecond())),
			Contents: []*sls.LogContent{
				kv("level", "info"), kv("msg", "request served"), kv("service", "checkout"),
				kv("worker", "3"), kv("method", "GET"), kv("path", "/api/products?page=2"),
				kv("status", "200"), kv("latency", "1.234ms"), kv("user.id", "1001"),
				kv("user.name", "alice"), kv("user.plan", "pro"),
				kv("request_id", fmt.Sprintf("%016x", seq*n+i)),
			},
		})
	}
	return g
}

// TestKeptLogsAreCompact: what a server keeps per accepted log is about
// the log's protobuf size, not decoded maps (which cost about 4.7 KB per
// such log and made the demo take 4.2 GB for a million entries).
func TestKeptLogsAreCompact(t *testing.T) {
	const requests, perRequest = 20, 1000
	s := newServer(t, Options{})
	c := defaultClient(s)
	rawPerLog := float64(requestLogGroup(perRequest, 0).Size()) / perRequest

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range requests {
		require.NoError(t, c.PutLogs(testProject, testLogstore, requestLogGroup(perRequest, i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, requests*perRequest, s.LogCount())

	perLog := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (requests * perRequest)
	t.Logf("kept %.0f heap bytes per log of %.0f protobuf bytes", perLog, rawPerLog)
	require.Less(t, perLog, rawPerLog*1.25+64, "heap kept per log")

	// And everything is still there, decoded on demand.
	logs := s.Logs()
	require.Len(t, logs, requests*perRequest)
	require.Equal(t, fmt.Sprintf("%016x", requests*perRequest-1), logs[len(logs)-1].Contents["request_id"])
	reqs := s.Requests()
	require.Len(t, reqs, requests)
	require.Len(t, reqs[0].Group.Logs, perRequest)
	require.NotSame(t, reqs[0].Group, s.Requests()[0].Group, "each call decodes a Group of its own")
}

// TestKeepLogsSample: with KeepLogs, whole requests are kept until they
// hold KeepLogs logs; the rest are verified and counted only.
func TestKeepLogsSample(t *testing.T) {
	s := newServer(t, Options{KeepLogs: 15})
	c := defaultClient(s)
	for range 4 {
		require.NoError(t, c.PutLogs(testProject, testLogstore, group(10)))
	}
	require.True(t, s.WaitLogs(40, time.Second))
	require.Equal(t, 40, s.LogCount())
	require.Len(t, s.Requests(), 2)
	require.Len(t, s.Logs(), 20)

	// A rejected request is still refused: the sample only bounds storage.
	requireSLSError(t, sdkClient(s, DefaultAccessKeyID, "wrong", "").PutLogs(testProject, testLogstore, group(1)), 401, "SignatureNotMatch")
	require.Equal(t, 40, s.LogCount())

	s.Reset()
	require.NoError(t, c.PutLogs(testProject, testLogstore, group(10)))
	require.Len(t, s.Logs(), 10, "Reset empties the sample")
}
