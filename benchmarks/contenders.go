package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/internal/benchkit"
	"github.com/zapsls/zapsls/slstest"
)

// The contenders, in the order tables list them.
const (
	contenderZapsls = "zapsls"
	contenderSDK    = "sdk-producer"
	contenderFile   = "zap-file"
)

var contenders = []string{contenderZapsls, contenderSDK, contenderFile}

// Where every contender ships to.
const (
	project  = "bench-project"
	logstore = "bench-logstore"
	topic    = "topic-0"
	source   = "source-0"
)

// contender is one way of logging, set up and ready: logger takes the
// entries; deliver returns once the n entries logged are delivered
// (acknowledged by the server, or flushed to the file); close releases
// everything and reports what was lost.
type contender struct {
	logger  *zap.Logger
	deliver func(n int) error
	close   func() (stats string, err error)
	// bufferBytes is the memory bound the contender is configured with
	// (zapsls only).
	bufferBytes int
}

// target is the SLS endpoint a contender ships to: an slstest server in
// another process (whose -control address answers its log count) or in
// this one.
type target struct {
	endpoint string
	client   *http.Client
	count    func() (int, error)
}

// newTarget returns the target for -endpoint and -control, or starts an
// slstest server in this process when endpoint is empty (its CPU time is
// then counted as the contender's).
func newTarget(endpoint, control string) (t *target, stop func()) {
	if endpoint == "" {
		srv := slstest.NewServer(slstest.Options{DiscardLogs: true})
		return &target{
			endpoint: srv.Endpoint(),
			client:   srv.Client(),
			count:    func() (int, error) { return srv.LogCount(), nil },
		}, srv.Close
	}
	addr := strings.TrimPrefix(endpoint, "http://")
	client := benchkit.DialingClient(addr)
	controlClient := &http.Client{Timeout: 10 * time.Second}
	return &target{
		endpoint: endpoint,
		client:   client,
		count: func() (int, error) {
			resp, err := controlClient.Get("http://" + control + "/count")
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			var n int
			_, err = fmt.Fscan(resp.Body, &n)
			return n, err
		},
	}, client.CloseIdleConnections
}

// waitCount polls the server until it has stored n logs.
func (t *target) waitCount(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := t.count()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server stored %d logs of %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// newZapsls: zapsls.NewCore and a Writer with its defaults, shipping to
// logstore ls.
func newZapsls(t *target, bufferBytes int, ls string) (*contender, error) {
	var errs atomic.Int64
	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint:        t.endpoint,
		Project:         project,
		Logstore:        ls,
		Topic:           topic,
		Source:          source,
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient:      t.client,
		BufferBytes:     bufferBytes,
		OnError:         func(error) { errs.Add(1) },
	})
	if err != nil {
		return nil, err
	}
	if bufferBytes == 0 {
		bufferBytes = zapsls.DefaultBufferBytes
	}
	// The time travels in Log.Time and Log.TimeNs: no "ts" content.
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = ""
	core := zapsls.NewCore(zapsls.NewEncoder(ec), w, zap.InfoLevel)
	return &contender{
		// Drops are counted in Stats and reported in the result, not
		// printed by zap once per entry.
		logger:      zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard))),
		deliver:     func(int) error { return w.Sync() },
		bufferBytes: bufferBytes,
		close: func() (string, error) {
			err := w.Close()
			st := w.Stats()
			stats := fmt.Sprintf("delivered=%d dropped=%d failed=%d requests=%d retries=%d errors=%d",
				st.Delivered, st.Dropped, st.Failed, st.Requests, st.Retries, errs.Load())
			if err == nil && st.Dropped+st.Failed > 0 {
				err = errors.New(stats)
			}
			return stats, err
		},
	}, nil
}

// newSDKProducer: the SDK producer v0.1.127 (startSDKProducer) behind
// sdkCore, one core per logstore in a Tee: one producer serves them all.
func newSDKProducer(t *target, logstores []string) (*contender, error) {
	p, err := startSDKProducer(t.endpoint, t.client, slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret)
	if err != nil {
		return nil, err
	}
	cores := make([]zapcore.Core, len(logstores))
	for i, ls := range logstores {
		cores[i] = &sdkCore{LevelEnabler: zap.InfoLevel, Producer: p, Project: project, Logstore: ls, Topic: topic, Source: source}
	}
	closed := false
	return &contender{
		logger: zap.New(zapcore.NewTee(cores...)),
		deliver: func(n int) error {
			// No flush: SafeClose waits for every send to finish (after
			// the mover's linger sleep, up to LingerMs), then the server
			// must hold every entry, once per logstore.
			p.SafeClose()
			closed = true
			return t.waitCount(n*len(logstores), time.Minute)
		},
		close: func() (string, error) {
			if !closed {
				p.SafeClose()
			}
			n, err := t.count()
			return fmt.Sprintf("server holds %d logs", n), err
		},
	}, nil
}

// newZapFile: zap's JSON encoder and a BufferedWriteSyncer (its defaults:
// 256 KiB buffer, 30 s flush interval) on a file in dir. Delivered means
// Stop returned: flushed, and fsynced.
func newZapFile(dir string) (*contender, error) {
	f, err := os.CreateTemp(dir, "zapsls-bench-*.log")
	if err != nil {
		return nil, err
	}
	ws := &zapcore.BufferedWriteSyncer{WS: f}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), ws, zap.InfoLevel)
	return &contender{
		logger:  zap.New(core),
		deliver: func(int) error { return ws.Stop() },
		close: func() (string, error) {
			info, statErr := f.Stat()
			err := errors.Join(ws.Stop(), f.Close(), os.Remove(f.Name()), statErr)
			if info == nil {
				return "", err
			}
			return fmt.Sprintf("%s: %d bytes", filepath.Base(f.Name()), info.Size()), err
		},
	}, nil
}
