package zapsls

// Fixtures shared by the package's tests: TestMain, the test Writer and
// logger on an slstest.Server, and the accounting helpers of the
// reliability suites, each in its own file:
//
//   - faults_test.go: TestReliabilityFaults, a steady stream while slstest
//     injects a fault; every entry is accounted for.
//   - crash_test.go: TestCrash*, a child process killed while spooling or
//     exiting through Fatal/Panic.
//   - badinput_test.go: TestBadInput*, bad entries repaired or reported and
//     counted, never harming their neighbours.
//   - security_test.go: TestSecurity*, TLS, no credential in any output,
//     huge answer bodies, slow-loris endpoints.

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// TestMain checks that no test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errorLog collects what a Writer reports through OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

func testConfig(srv *slstest.Server) Config {
	return Config{
		Endpoint:        srv.Endpoint(),
		Project:         "test-project",
		Logstore:        "test-logstore",
		Topic:           "topic-1",
		Source:          "source-1",
		Tags:            map[string]string{"env": "test", "zone": "z1"},
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient:      srv.Client(),
		BufferBytes:     8 << 20,
		Linger:          50 * time.Millisecond,
	}
}

func newTestWriter(t *testing.T, srv *slstest.Server, mutate func(*Config)) (*Writer, *errorLog) {
	t.Helper()
	cfg := testConfig(srv)
	errs := &errorLog{}
	cfg.OnError = errs.add
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := NewWriter(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w, errs
}

// newTestLogger logs through w; zap's reports of failed writes go nowhere,
// since the tests read them from Stats and Sync.
func newTestLogger(w *Writer) *zap.Logger {
	cfg := zap.NewProductionEncoderConfig()
	return zap.New(NewCore(NewEncoder(cfg, WithFieldSet(NoFieldSet())), w, zapcore.DebugLevel),
		zap.ErrorOutput(zapcore.AddSync(io.Discard)))
}

// logIDs returns the "g-i" ids of the stored logs, failing on duplicates.
func logIDs(t *testing.T, srv *slstest.Server) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, l := range srv.Logs() {
		id := l.Contents["g"] + "-" + l.Contents["i"]
		require.False(t, ids[id], "duplicate entry %s", id)
		ids[id] = true
	}
	return ids
}

// tokenProvider hands out an STS token that the test can rotate.
type tokenProvider struct {
	token atomic.Value
}

func (p *tokenProvider) GetCredentials() (sls.Credentials, error) {
	return sls.Credentials{
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		SecurityToken:   p.token.Load().(string),
	}, nil
}

// spoolFiles lists the spool files (not temporary or corrupt ones) in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	require.NoError(t, err)
	return names
}

func logN(logger *zap.Logger, group string, n int) {
	for i := 0; i < n; i++ {
		logger.Info("spooled entry", zap.String("g", group), zap.Int("i", i))
	}
}

func testEncoderConfig() zapcore.EncoderConfig {
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = ""
	return cfg
}

// Accounting helpers of the reliability suites.

// relReports tallies what a Writer reports through OnError, by kind: the
// entries of every loss must show up here ("nothing is lost silently").
type relReports struct {
	mu                       sync.Mutex
	dropped, failed, spooled int // entries in *DropError, *PutLogsError, *SpoolError
	retries, other           int // reports that are not losses
	texts                    []string
}

func (r *relReports) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := err.(type) {
	case *DropError:
		r.dropped += e.Entries
	case *PutLogsError:
		r.failed += e.Entries
	case *SpoolError:
		r.spooled += e.Entries
	case *CoalescedError: // reports OnError received only as counts
		r.dropped += e.Dropped
		r.failed += e.Failed
		r.spooled += e.Spooled
	default:
		if strings.Contains(err.Error(), "retrying in") {
			r.retries++
		} else {
			r.other++
		}
	}
	if len(r.texts) < 10000 {
		r.texts = append(r.texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
}

func (r *relReports) snapshot() (dropped, failed, spooled, retries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped, r.failed, r.spooled, r.retries
}

func (r *relReports) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.texts, "\n")
}

// relZapErrors is a zap ErrorOutput that counts zap's "write error" lines
// (one per entry a Core.Write refused) and keeps the text.
type relZapErrors struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (z *relZapErrors) Write(p []byte) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if bytes.Contains(p, []byte("write error")) {
		z.writes++
	}
	if z.buf.Len() < 1<<20 {
		z.buf.Write(p)
	}
	return len(p), nil
}

func (z *relZapErrors) Sync() error { return nil }

func (z *relZapErrors) count() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.writes
}

func (z *relZapErrors) text() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.buf.String()
}

func relLogger(w *Writer, errOut zapcore.WriteSyncer) *zap.Logger {
	return zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(NoFieldSet())), w, zapcore.DebugLevel),
		zap.ErrorOutput(errOut))
}

// relIDs counts the "g-i" ids at the server: unique ids, and how many
// arrived more than once (sum of extra copies).
func relIDs(srv *slstest.Server) (ids map[string]int, dups int) {
	ids = map[string]int{}
	for _, l := range srv.Logs() {
		id := l.Contents["g"] + "-" + l.Contents["i"]
		ids[id]++
		if ids[id] > 1 {
			dups++
		}
	}
	return ids, dups
}

// relCheckDuplicates checks that every duplicate at the server is a retry
// of a stored batch whose answer was lost: all copies of an entry came in
// requests with the same __pack_id__ (a retried batch is byte-identical),
// and that pack id was stored more than once. It returns the number of
// batches stored more than once.
func relCheckDuplicates(t *testing.T, srv *slstest.Server) (batches int) {
	t.Helper()
	packs := map[string]map[string]bool{} // id -> pack ids it came in
	for _, l := range srv.Logs() {
		id := l.Contents["g"] + "-" + l.Contents["i"]
		if packs[id] == nil {
			packs[id] = map[string]bool{}
		}
		packs[id][l.PackID] = true
	}
	stored := map[string]int{}
	for _, r := range srv.Requests() {
		stored[r.PackID]++
	}
	for id, p := range packs {
		assert.Len(t, p, 1, "entry %s arrived in different batches: %v", id, p)
	}
	for _, n := range stored {
		if n > 1 {
			batches++
		}
	}
	return batches
}

// notDelivered returns the Entries and Spooled of a *NotDeliveredError, 0
// for nil.
func relNotDelivered(t *testing.T, err error) (entries, spooled int) {
	t.Helper()
	if err == nil {
		return 0, 0
	}
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	return nd.Entries, nd.Spooled
}
