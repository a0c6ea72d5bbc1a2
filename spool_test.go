package zapsls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

func TestSpoolKeepsWhatTheEndpointRefusedAndReplays(t *testing.T) {
	dir := t.TempDir()
	down := slstest.NewServer(slstest.Options{})
	down.FailFor(time.Hour, slstest.Fault{Status: 503}) // reachable: retried until the budget runs out
	w1, errs := newTestWriter(t, down, func(c *Config) {
		c.SpoolDir = dir
		c.RetryTimeout = 300 * time.Millisecond
		c.MaxBatchCount = 40
	})
	logN(newTestLogger(w1), "a", 100)
	err := w1.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 100, nd.Entries)
	assert.Equal(t, 100, nd.Spooled)
	assert.Contains(t, err.Error(), "kept in spool")
	var se *SpoolError
	require.ErrorAs(t, err, &se)
	s := w1.Stats()
	assert.Equal(t, uint64(100), s.Spooled)
	assert.Zero(t, s.Failed)
	assert.Len(t, spoolFiles(t, dir), 3)
	assert.Contains(t, errs.text(), "kept in spool")
	require.NoError(t, w1.Close(), "nothing left to report at Close")
	down.Close()

	// The next Writer on the same directory delivers the spooled batches.
	up := slstest.NewServer(slstest.Options{})
	defer up.Close()
	w2, _ := newTestWriter(t, up, func(c *Config) { c.SpoolDir = dir })
	require.True(t, up.WaitLogs(100, 10*time.Second))
	require.NoError(t, w2.Close())
	assert.Len(t, logIDs(t, up), 100)
	assert.Equal(t, uint64(100), w2.Stats().Replayed)
	assert.Empty(t, spoolFiles(t, dir))
	for _, r := range up.Requests() {
		assert.Equal(t, "topic-1", r.Group.GetTopic(), "spooled bodies are whole LogGroups")
	}
}

func TestSpoolOnBadCredentialsAndOnCloseDeadline(t *testing.T) {
	dir := t.TempDir()
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w1, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir; c.AccessKeySecret = "rotated-away" })
	logN(newTestLogger(w1), "cred", 10)
	err := w1.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 10, nd.Spooled)
	assert.Contains(t, err.Error(), "SignatureNotMatch")
	require.NoError(t, w1.Close())

	// Close's deadline passes while the endpoint stalls: what is in flight
	// goes to the spool, with numbers.
	srv.SetDelay(5 * time.Second)
	w2, _ := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = filepath.Join(dir, "second")
		c.CloseTimeout = 300 * time.Millisecond
	})
	logN(newTestLogger(w2), "late", 20)
	start := time.Now()
	err = w2.Close()
	assert.Less(t, time.Since(start), 3*time.Second)
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, 20, nd.Entries)
	assert.Equal(t, 20, nd.Spooled)
	assert.Equal(t, uint64(20), w2.Stats().Spooled)
	srv.SetDelay(0)

	// Both are replayed by Writers with working settings.
	srv.Reset()
	w3, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	w4, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = filepath.Join(dir, "second") })
	require.True(t, srv.WaitLogs(30, 10*time.Second))
	require.NoError(t, w3.Close())
	require.NoError(t, w4.Close())
	assert.Len(t, logIDs(t, srv), 30)
}

func TestSpoolCorruptAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.FailFor(time.Hour, slstest.Fault{Status: 503})
	w1, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir; c.RetryTimeout = 200 * time.Millisecond })
	logN(newTestLogger(w1), "ok", 5)
	_ = w1.Sync()
	require.NoError(t, w1.Close())
	// Usually one file; two when the batcher took the first entry before
	// the others arrived and sealed it apart (a Sync or Linger between).
	good := spoolFiles(t, dir)
	require.NotEmpty(t, good)
	body, err := os.ReadFile(good[0])
	require.NoError(t, err)

	// A truncated copy, a file of garbage, a body SLS refuses, and a file
	// of another logstore.
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	write("00000000000000000001-AA-1.batch", body[:len(body)-10])
	write("00000000000000000002-BB-1.batch", []byte("not a spool file"))
	refused := append([]byte(nil), body...)
	refused[len(refused)-1] ^= 0xff // breaks the CRC
	write("00000000000000000003-CC-5.batch", refused)
	// Another Writer's file: its owner (and here its logstore) differ.
	foreign := strings.ReplaceAll(string(body), `test-logstore"`, `othr-logstore"`)
	write("00000000000000000004-DD-5.batch", []byte(foreign))

	srv.ClearFaults()
	w2, errs := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	require.True(t, srv.WaitLogs(5, 10*time.Second))
	require.NoError(t, w2.Close())
	assert.Len(t, logIDs(t, srv), 5, "the good file is delivered")
	corrupt, _ := filepath.Glob(filepath.Join(dir, corruptDir, "*"))
	assert.Len(t, corrupt, 3)
	assert.Equal(t, 3, strings.Count(errs.text(), "corrupt spool file"))
	left := spoolFiles(t, dir)
	require.Len(t, left, 1, "another logstore's file stays for its own writer")
	assert.Contains(t, left[0], "-DD-")
}

func TestSpoolBoundEvictsOldest(t *testing.T) {
	dir := t.TempDir()
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	srv.FailFor(time.Hour, slstest.Fault{Status: 404, Code: "LogStoreNotExist"})
	w, _ := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.MaxBatchBytes = 64 << 10
		c.SpoolMaxBytes = 200 << 10
		c.Compression = CompressNone
		c.MaxInflight = 1
	})
	logger := newTestLogger(w)
	pad := strings.Repeat("x", 1000)
	for i := 0; i < 400; i++ { // ~400 KB: twice the spool
		logger.Info("big", zap.Int("i", i), zap.String("pad", pad))
	}
	_ = logger.Sync()
	require.NoError(t, w.Close())
	s := w.Stats()
	assert.NotZero(t, s.SpoolEvicted)
	var total int64
	kept := 0
	for _, f := range spoolFiles(t, dir) {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		total += fi.Size()
		kept += entriesIn(filepath.Base(f))
	}
	assert.LessOrEqual(t, total, int64(200<<10))
	assert.Equal(t, int(s.Spooled-s.SpoolEvicted), kept, "every spooled entry is kept or counted as evicted")
}

func TestSpoolLockOneReplayer(t *testing.T) {
	dir := t.TempDir()
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w1, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	w2, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	assert.NotNil(t, w1.spool.lock)
	assert.Nil(t, w2.spool.lock, "the second writer does not replay")
	require.NoError(t, w1.Close())
	w3, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	assert.NotNil(t, w3.spool.lock, "released at Close")
}

func TestSpoolRemovesAbandonedTempFiles(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ".tmp-123")
	fresh := filepath.Join(dir, ".tmp-456")
	require.NoError(t, os.WriteFile(old, []byte("half a batch"), 0o600))
	require.NoError(t, os.WriteFile(fresh, []byte("being written"), 0o600))
	long := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(old, long, long))
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.SpoolDir = dir })
	require.NoError(t, w.Close())
	assert.NoFileExists(t, old)
	assert.FileExists(t, fresh, "another writer may be saving it now")
}
