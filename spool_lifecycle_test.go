package zapsls

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// The spool's states, each asserted on the files themselves: written (a
// whole *.batch file, no temporary left), replayed and delivered (deleted,
// its entries at the server, oldest file first), kept (still there, byte
// for byte), quarantined (moved to corrupt/), evicted (the oldest deleted to
// make room).

// recordingFS is a spoolFS that records each operation, with paths
// relative to the spool directory and temporary names shortened to ".tmp",
// and can fail one kind of operation.
type recordingFS struct {
	osFS
	dir string

	mu     sync.Mutex
	ops    []string
	failOn string // an operation name ("sync", "rename", ...) that fails
}

func (r *recordingFS) note(op string, paths ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range paths {
		if rel, err := filepath.Rel(r.dir, p); err == nil {
			p = rel
		}
		if strings.HasPrefix(p, ".tmp-") {
			p = ".tmp"
		}
		op += " " + p
	}
	r.ops = append(r.ops, op)
	if r.failOn != "" && strings.HasPrefix(op, r.failOn+" ") {
		return errors.New("injected " + r.failOn + " failure")
	}
	return nil
}

func (r *recordingFS) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *recordingFS) CreateTemp(dir, pattern string) (spoolFile, error) {
	f, err := r.osFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := r.note("create", f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return &recordingFile{spoolFile: f, fs: r}, nil
}

func (r *recordingFS) Rename(oldpath, newpath string) error {
	if err := r.note("rename", oldpath, newpath); err != nil {
		return err
	}
	return r.osFS.Rename(oldpath, newpath)
}

func (r *recordingFS) Remove(path string) error {
	if err := r.note("remove", path); err != nil {
		return err
	}
	return r.osFS.Remove(path)
}

func (r *recordingFS) SyncDir(dir string) error {
	if err := r.note("syncdir", dir); err != nil {
		return err
	}
	return r.osFS.SyncDir(dir)
}

type recordingFile struct {
	spoolFile
	fs *recordingFS
}

func (f *recordingFile) Write(p []byte) (int, error) {
	if err := f.fs.note("write", f.Name()); err != nil {
		return 0, err
	}
	return f.spoolFile.Write(p)
}

func (f *recordingFile) Sync() error {
	if err := f.fs.note("sync", f.Name()); err != nil {
		return err
	}
	return f.spoolFile.Sync()
}

func (f *recordingFile) Close() error {
	if err := f.fs.note("close", f.Name()); err != nil {
		f.spoolFile.Close()
		return err
	}
	return f.spoolFile.Close()
}

// newRecordedSpool opens a spool on a new directory with a recording FS.
func newRecordedSpool(t *testing.T, maxBytes int) (*spool, *recordingFS) {
	t.Helper()
	dir := t.TempDir()
	s, err := openSpool(Config{SpoolDir: dir, SpoolMaxBytes: maxBytes, Project: "test-project", Logstore: "test-logstore"})
	require.NoError(t, err)
	t.Cleanup(s.close)
	rec := &recordingFS{dir: dir}
	s.fs = rec
	return s, rec
}

// testBatch is a batch for the Writer's default destination in
// testConfig.
func testBatch(packID string, count int, body string) *batch {
	r := &route{dest: Destination{Project: "test-project", Logstore: "test-logstore"}}
	return &batch{route: r, count: count, rawSize: len(body), body: []byte(body), packID: packID, compression: CompressNone}
}

// TestSpoolFileOperationOrder: a save creates a temporary file, writes it,
// syncs it, closes it, renames it into place, then syncs the directory;
// delivering removes it and syncs the directory; quarantining moves it to
// corrupt/; eviction removes the oldest before the new file is created.
func TestSpoolFileOperationOrder(t *testing.T) {
	s, rec := newRecordedSpool(t, 1<<20)
	_, err := s.save(testBatch("PACK-1", 3, "body one"))
	require.NoError(t, err)
	names, err := s.list()
	require.NoError(t, err)
	require.Len(t, names, 1)
	first := names[0]
	assert.Equal(t, []string{
		"create .tmp",
		"write .tmp", // header
		"write .tmp", // body
		"sync .tmp",
		"close .tmp",
		"rename .tmp " + first,
		"syncdir .",
	}, rec.take(), "written: the file is durable before it has its name, and its name is durable")

	s.remove(first)
	assert.Equal(t, []string{"remove " + first, "syncdir ."}, rec.take(), "delivered")

	_, err = s.save(testBatch("PACK-2", 1, "body two"))
	require.NoError(t, err)
	rec.take()
	names, _ = s.list()
	s.quarantine(names[0])
	assert.Equal(t, []string{"rename " + names[0] + " " + filepath.Join(corruptDir, names[0])}, rec.take(), "quarantined")

	// Eviction: a spool with room for two and a half files.
	s2, rec2 := newRecordedSpool(t, 1<<20)
	for i, id := range []string{"PACK-A", "PACK-B", "PACK-C"} {
		evicted, err := s2.save(testBatch(id, 10+i, strings.Repeat("x", 60)))
		require.NoError(t, err)
		if i == 0 {
			s2.maxBytes = s2.bytes * 5 / 2
		}
		ops := rec2.take()
		names, _ := s2.list()
		if i < 2 {
			assert.Zero(t, evicted)
			assert.Equal(t, "create .tmp", ops[0])
			continue
		}
		assert.Equal(t, 10, evicted, "the oldest file's entries are evicted")
		require.Len(t, names, 2)
		assert.Contains(t, names[0], "-PACK-B-", "the oldest is gone, the newer kept")
		assert.Contains(t, names[1], "-PACK-C-")
		require.NotEmpty(t, ops)
		assert.True(t, strings.HasPrefix(ops[0], "remove ") && strings.Contains(ops[0], "-PACK-A-"),
			"the oldest is removed before the new file is written: %v", ops)
		assert.Equal(t, "create .tmp", ops[1])
	}
}

// TestSpoolSaveFailureLeavesNoFile: whichever step of a save fails, no
// *.batch file appears and no temporary file is left.
func TestSpoolSaveFailureLeavesNoFile(t *testing.T) {
	for _, step := range []string{"write", "sync", "close", "rename"} {
		t.Run(step, func(t *testing.T) {
			s, rec := newRecordedSpool(t, 1<<20)
			rec.failOn = step
			_, err := s.save(testBatch("PACK-1", 3, "body"))
			require.ErrorContains(t, err, "injected "+step)
			ops := rec.take()
			assert.Equal(t, "remove .tmp", ops[len(ops)-1], "the temporary file is removed: %v", ops)
			assert.NotContains(t, ops, "syncdir .")
			entries, err := os.ReadDir(s.dir)
			require.NoError(t, err)
			for _, e := range entries {
				assert.True(t, e.IsDir() || e.Name() == ".lock", "left behind: %s", e.Name())
			}
			assert.Zero(t, s.bytes)
		})
	}
}

// spoolSnapshot returns the SHA-256 and size of every *.batch file in dir,
// by name.
func spoolSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range spoolFiles(t, dir) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = fmt.Sprintf("%x, %d bytes", sha256.Sum256(b), len(b))
	}
	return out
}

// spoolOne makes w spool one batch of n entries of group g, each with a
// 6000-byte value: the endpoint refuses the credentials, a failure the
// next Writer may overcome.
func spoolOne(t *testing.T, w *Writer, g string, n int) {
	t.Helper()
	before := w.Stats().Spooled
	logger := newTestLogger(w)
	for i := 0; i < n; i++ {
		logger.Info("spooled entry", zap.String("g", g), zap.Int("i", i), zap.String("pad", strings.Repeat("p", 6000)))
	}
	var nd *NotDeliveredError
	require.ErrorAs(t, w.Sync(), &nd)
	require.Equal(t, n, nd.Spooled)
	require.Equal(t, before+uint64(n), w.Stats().Spooled)
}

// TestSpoolLifecycle follows spool files through every state, in order,
// on the files themselves: written by a Writer whose endpoint refuses it,
// kept by a Writer that cannot deliver them either, evicted to make room,
// then replayed oldest first and deleted as they are delivered.
func TestSpoolLifecycle(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	// Uncompressed, each file holds about 30 KB; only Sync seals a batch.
	wrongSecret := func(c *Config) {
		c.SpoolDir = dir
		c.AccessKeySecret = "wrong"
		c.Compression = CompressNone
		c.Linger = time.Hour
	}

	// Written: one whole file per batch, named oldest first, no temporary
	// file left.
	w1, _ := newTestWriter(t, srv, wrongSecret)
	for _, g := range []string{"a", "b", "c", "d"} {
		spoolOne(t, w1, g, 5)
		time.Sleep(2 * time.Millisecond) // distinct, ordered names
	}
	require.NoError(t, w1.Close())
	written := spoolSnapshot(t, dir)
	require.Len(t, written, 4)
	names := spoolNames(written)
	for _, n := range names {
		assert.Equal(t, 5, entriesIn(n), n)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	assert.Empty(t, tmps)

	// Kept: a Writer whose endpoint answers 503 past its retry budget
	// replays each file, fails, and leaves it as it was.
	srv.FailFor(time.Hour, slstest.Fault{Status: 503})
	w2, errs2 := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.RetryTimeout = 200 * time.Millisecond
	})
	require.Eventually(t, func() bool { return strings.Count(errs2.text(), "not delivered, kept") == 4 },
		10*time.Second, 10*time.Millisecond, "every file is replayed and kept: %s", errs2.text())
	require.NoError(t, w2.Close())
	assert.Equal(t, written, spoolSnapshot(t, dir), "kept: every file as it was")
	assert.Zero(t, w2.Stats().Replayed)
	assert.Empty(t, dirEntries(t, filepath.Join(dir, corruptDir)), "nothing quarantined")
	srv.ClearFaults()

	// Evicted: a Writer with room for four files (128 KiB, the least a
	// 64 KiB MaxBatchBytes allows) spools one more; the oldest goes.
	var size int
	for n := range written {
		fi, err := os.Stat(filepath.Join(dir, n))
		require.NoError(t, err)
		size += int(fi.Size())
	}
	require.Less(t, size, 128<<10)
	require.Greater(t, size+size/4, 128<<10)
	w3, _ := newTestWriter(t, srv, func(c *Config) {
		wrongSecret(c)
		c.MaxBatchBytes = 64 << 10
		c.SpoolMaxBytes = 128 << 10
	})
	spoolOne(t, w3, "e", 5)
	require.NoError(t, w3.Close())
	assert.Equal(t, uint64(5), w3.Stats().SpoolEvicted)
	after := spoolSnapshot(t, dir)
	require.Len(t, after, 4)
	assert.NotContains(t, after, names[0], "the oldest file is evicted")
	for _, n := range names[1:] {
		assert.Equal(t, written[n], after[n], "the others are kept as they were")
	}
	names = spoolNames(after)

	// Replayed and delivered, oldest first: one poster, so the server sees
	// the files in the order they are replayed. Each file is deleted once
	// delivered.
	w4, errs4 := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.MaxInflight = 1
	})
	require.True(t, srv.WaitLogs(20, 10*time.Second))
	require.NoError(t, w4.Close())
	assert.Empty(t, errs4.text())
	assert.Equal(t, uint64(20), w4.Stats().Replayed)
	assert.Empty(t, spoolFiles(t, dir), "every delivered file is deleted")
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.PackID)
	}
	var want []string
	for _, n := range names {
		want = append(want, packIDIn(n))
	}
	assert.Equal(t, want, got, "replayed oldest first")
	var groups []string
	for _, l := range srv.Logs() {
		if len(groups) == 0 || groups[len(groups)-1] != l.Contents["g"] {
			groups = append(groups, l.Contents["g"])
		}
	}
	assert.Equal(t, []string{"b", "c", "d", "e"}, groups)
}

// TestSpoolRefusedOnReplayIsQuarantined: a spooled batch that SLS refuses
// on replay (slstest answers 400 PostBodyInvalid: the body is no
// LogGroup) is moved to corrupt/, byte for byte, and reported; the files
// around it are delivered.
func TestSpoolRefusedOnReplayIsQuarantined(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	w1, _ := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.AccessKeySecret = "wrong"
		c.Linger = time.Hour
	})
	spoolOne(t, w1, "before", 3)
	require.NoError(t, w1.Close())
	// A batch whose body SLS will refuse, with a valid spool file around it.
	s, err := openSpool(Config{SpoolDir: dir, SpoolMaxBytes: DefaultSpoolMaxBytes, Project: "test-project", Logstore: "test-logstore"})
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond)
	_, err = s.save(testBatch("BAD-PACK", 7, "this is not a LogGroup"))
	require.NoError(t, err)
	s.close()
	time.Sleep(2 * time.Millisecond)
	w2, _ := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.AccessKeySecret = "wrong"
		c.Linger = time.Hour
	})
	spoolOne(t, w2, "after", 4)
	require.NoError(t, w2.Close())
	files := spoolSnapshot(t, dir)
	require.Len(t, files, 3)
	var bad string
	for n := range files {
		if packIDIn(n) == "BAD-PACK" {
			bad = n
		}
	}
	require.NotEmpty(t, bad)

	reports := &relReports{}
	w3, _ := newTestWriter(t, srv, func(c *Config) {
		c.SpoolDir = dir
		c.OnError = reports.add
	})
	require.True(t, srv.WaitLogs(7, 10*time.Second))
	require.Eventually(t, func() bool { return len(dirEntries(t, filepath.Join(dir, corruptDir))) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, w3.Close())

	assert.Empty(t, spoolFiles(t, dir), "the good files are delivered and deleted, the bad one moved")
	quarantined, err := os.ReadFile(filepath.Join(dir, corruptDir, bad))
	require.NoError(t, err, "the refused file is in corrupt/ under its name")
	assert.Equal(t, files[bad], fmt.Sprintf("%x, %d bytes", sha256.Sum256(quarantined), len(quarantined)), "byte for byte")
	assert.Contains(t, reports.text(), bad+" refused by SLS, moved to corrupt")
	assert.Contains(t, reports.text(), "PostBodyInvalid")
	assert.Equal(t, uint64(7), w3.Stats().Replayed, "the two good files, 3 + 4 entries")
	rej := srv.Rejections()
	require.NotEmpty(t, rej)
	assert.Equal(t, "PostBodyInvalid", rej[len(rej)-1].Code)
	assert.Equal(t, 400, rej[len(rej)-1].Status)
}

func spoolNames(files map[string]string) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// packIDIn reads the pack id from a spool file's name.
func packIDIn(name string) string {
	name = strings.TrimSuffix(name, spoolSuffix)
	_, rest, _ := strings.Cut(name, "-")
	return rest[:strings.LastIndexByte(rest, '-')]
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return slices.Clip(names)
}
