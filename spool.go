package zapsls

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// The spool keeps batches that could not be delivered (Close's deadline
// passed, the retry budget ran out, or SLS refused the credentials or the
// logstore) in SpoolDir, compressed, one file each, so that the next Writer
// opening the directory delivers them.
//
// A file is written to a temporary name, fsynced, renamed into place and
// the directory fsynced, so a crash leaves either a whole file or none. Its
// name starts with the time it was written, so names sort oldest first:
//
//	{unix nanoseconds, 20 digits}-{pack id}-{entries}.batch
//
// Layout: "ZSLSPOOL", a big-endian uint32 length and that much JSON
// metadata, the CRC-32 (IEEE) of the body as a uint32, the body's length as
// a uint64, and the body: the compressed LogGroup exactly as it was posted.
//
// Replaying takes an exclusive lock on SpoolDir/.lock for the Writer's life,
// so two processes never replay the same file; a Writer that cannot take it
// spools but leaves replay to the holder, or to the next Writer to open the
// directory. Files that cannot be read are moved to SpoolDir/corrupt and
// reported, never replayed.
type spool struct {
	dir      string
	maxBytes int64
	project  string
	logstore string
	lock     *flock.Flock // held while this Writer may replay; nil if another has it
	routes   *routes      // the Writer's destinations: replayed batches go back to theirs
	fs       spoolFS      // every change to dir goes through it

	mu    sync.Mutex
	bytes int64 // size of the *.batch files in dir
}

const (
	spoolMagic   = "ZSLSPOOL"
	spoolSuffix  = ".batch"
	corruptDir   = "corrupt"
	spoolVersion = 1
)

// DefaultSpoolMaxBytes bounds SpoolDir when Config.SpoolMaxBytes is 0.
const DefaultSpoolMaxBytes = 1 << 30

// spoolMeta describes a spooled batch. Its destination is the project,
// logstore, hash key and processor (the topic, source and tags are in the
// body). Owner is the default destination (PROJECT/LOGSTORE) of the Writer
// that wrote it: a Writer replays the files of its own default, to
// whichever destination each names, and leaves others' for their Writers.
// Files from before destinations have no Owner: their project and
// logstore are their owner.
type spoolMeta struct {
	Version     int    `json:"v"`
	Owner       string `json:"owner,omitempty"`
	Project     string `json:"project"`
	Logstore    string `json:"logstore"`
	HashKey     string `json:"hashKey,omitempty"`
	Processor   string `json:"processor,omitempty"`
	Compression string `json:"compression"`
	RawSize     int    `json:"rawSize"`
	Count       int    `json:"count"`
	PackID      string `json:"packId"`
	Created     int64  `json:"created"`
}

func openSpool(cfg Config) (*spool, error) {
	if err := os.MkdirAll(filepath.Join(cfg.SpoolDir, corruptDir), 0o700); err != nil {
		return nil, fmt.Errorf("zapsls: Config.SpoolDir: %w", err)
	}
	s := &spool{dir: cfg.SpoolDir, maxBytes: int64(cfg.SpoolMaxBytes), project: cfg.Project, logstore: cfg.Logstore, fs: osFS{}}
	lock, err := lockDir(filepath.Join(cfg.SpoolDir, ".lock"))
	if err != nil && !errors.Is(err, errLocked) {
		return nil, fmt.Errorf("zapsls: Config.SpoolDir: %w", err)
	}
	s.lock = lock
	if s.lock != nil {
		s.removeStaleTemps()
	}
	names, err := s.list()
	if err != nil {
		s.close()
		return nil, fmt.Errorf("zapsls: Config.SpoolDir: %w", err)
	}
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(s.dir, n)); err == nil {
			s.bytes += fi.Size()
		}
	}
	return s, nil
}

func (s *spool) close() {
	if s.lock != nil {
		unlockDir(s.lock)
		s.lock = nil
	}
}

// removeStaleTemps deletes temporary files that a crash left behind in the
// middle of a save. A live save holds its temporary file for milliseconds;
// an hour-old one is abandoned.
func (s *spool) removeStaleTemps() {
	temps, _ := filepath.Glob(filepath.Join(s.dir, ".tmp-*"))
	for _, t := range temps {
		if fi, err := os.Stat(t); err == nil && time.Since(fi.ModTime()) > time.Hour {
			_ = s.fs.Remove(t)
		}
	}
}

// list returns the spool files, oldest first.
func (s *spool) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), spoolSuffix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// entriesIn reads the entry count from a spool file's name.
func entriesIn(name string) int {
	name = strings.TrimSuffix(name, spoolSuffix)
	n, _ := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
	return n
}

// save writes b to the spool. evicted is the number of entries in older
// files deleted to stay within maxBytes.
func (s *spool) save(b *batch) (evicted int, err error) {
	meta, _ := json.Marshal(spoolMeta{
		Version: spoolVersion, Owner: s.project + "/" + s.logstore, Project: b.route.dest.Project, Logstore: b.route.dest.Logstore,
		HashKey: b.route.hashKey, Processor: b.route.dest.Processor, Compression: b.compression,
		RawSize: b.rawSize, Count: b.count, PackID: b.packID, Created: time.Now().UnixNano(),
	})
	var hdr []byte
	hdr = append(hdr, spoolMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(meta)))
	hdr = append(hdr, meta...)
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.ChecksumIEEE(b.body))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(b.body)))
	size := int64(len(hdr) + len(b.body))

	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.maxBytes {
		return 0, fmt.Errorf("batch of %d bytes exceeds SpoolMaxBytes", size)
	}
	for s.bytes+size > s.maxBytes {
		n, freed, err := s.evictOldestLocked()
		if err != nil {
			return evicted, err
		}
		evicted += n
		if freed == 0 {
			break
		}
	}

	name := fmt.Sprintf("%020d-%s-%d%s", time.Now().UnixNano(), b.packID, b.count, spoolSuffix)
	tmp, err := s.fs.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return evicted, err
	}
	_, err = tmp.Write(hdr)
	if err == nil {
		_, err = tmp.Write(b.body)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Rename(tmp.Name(), filepath.Join(s.dir, name))
	}
	if err != nil {
		_ = s.fs.Remove(tmp.Name())
		return evicted, err
	}
	_ = s.fs.SyncDir(s.dir)
	s.bytes += size
	return evicted, nil
}

func (s *spool) evictOldestLocked() (entries int, freed int64, err error) {
	names, err := s.list()
	if err != nil || len(names) == 0 {
		return 0, 0, err
	}
	path := filepath.Join(s.dir, names[0])
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	if err := s.fs.Remove(path); err != nil {
		return 0, 0, err
	}
	s.bytes -= fi.Size()
	return entriesIn(names[0]), fi.Size(), nil
}

// load reads a spool file back into a batch for its destination. A file
// that another Writer owns (spoolMeta) returns (nil, nil): it is left for
// that Writer.
func (s *spool) load(name string) (*batch, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var fixed [len(spoolMagic) + 4]byte
	if _, err := io.ReadFull(f, fixed[:]); err != nil || string(fixed[:len(spoolMagic)]) != spoolMagic {
		return nil, errCorrupt("bad header")
	}
	metaLen := binary.BigEndian.Uint32(fixed[len(spoolMagic):])
	if metaLen > 64<<10 {
		return nil, errCorrupt("bad metadata length")
	}
	metaBytes := make([]byte, metaLen)
	if _, err := io.ReadFull(f, metaBytes); err != nil {
		return nil, errCorrupt("truncated metadata")
	}
	var meta spoolMeta
	if err := json.Unmarshal(metaBytes, &meta); err != nil || meta.Version != spoolVersion {
		return nil, errCorrupt("bad metadata")
	}
	owner := meta.Owner
	if owner == "" {
		owner = meta.Project + "/" + meta.Logstore
	}
	if owner != s.project+"/"+s.logstore {
		return nil, nil // another Writer's
	}
	r, err := s.routes.lookup(routeKey{project: meta.Project, logstore: meta.Logstore, hashKey: meta.HashKey, processor: meta.Processor})
	if err != nil {
		return nil, err
	}
	var sums [12]byte
	if _, err := io.ReadFull(f, sums[:]); err != nil {
		return nil, errCorrupt("truncated header")
	}
	crc, bodyLen := binary.BigEndian.Uint32(sums[:4]), binary.BigEndian.Uint64(sums[4:])
	if bodyLen > MaxBatchBytesLimit*2 {
		return nil, errCorrupt("bad body length")
	}
	body := getBody(int(bodyLen))[:bodyLen]
	if _, err := io.ReadFull(f, body); err != nil {
		putBody(body)
		return nil, errCorrupt("truncated body")
	}
	if n, _ := f.Read(sums[:1]); n != 0 || crc32.ChecksumIEEE(body) != crc {
		putBody(body)
		return nil, errCorrupt("checksum mismatch")
	}
	return &batch{
		route: r, count: meta.Count, rawSize: meta.RawSize, body: body, packID: meta.PackID,
		compression: meta.Compression, spoolFile: name,
	}, nil
}

type errCorrupt string

func (e errCorrupt) Error() string { return "corrupt spool file: " + string(e) }

// remove deletes a replayed file.
func (s *spool) remove(name string) {
	path := filepath.Join(s.dir, name)
	fi, err := os.Stat(path)
	if err == nil && s.fs.Remove(path) == nil {
		s.mu.Lock()
		s.bytes -= fi.Size()
		s.mu.Unlock()
		_ = s.fs.SyncDir(s.dir)
	}
}

// quarantine moves an unreadable file to SpoolDir/corrupt.
func (s *spool) quarantine(name string) {
	path := filepath.Join(s.dir, name)
	fi, err := os.Stat(path)
	if err == nil && s.fs.Rename(path, filepath.Join(s.dir, corruptDir, name)) == nil {
		s.mu.Lock()
		s.bytes -= fi.Size()
		s.mu.Unlock()
	}
}

// spoolFS is every operation by which the spool changes its directory. A
// save's crash safety rests on their order (create a temporary file, write
// it, sync it, close it, rename it into place, sync the directory), which a
// test checks through a recording spoolFS; osFS is the only one outside
// tests. Reads (listing, loading) go to the os package directly.
type spoolFS interface {
	CreateTemp(dir, pattern string) (spoolFile, error)
	Rename(oldpath, newpath string) error
	Remove(path string) error
	// SyncDir makes the directory's entries (renames, removals) durable.
	SyncDir(dir string) error
}

// spoolFile is the part of *os.File a save uses.
type spoolFile interface {
	Name() string
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// osFS is spoolFS on the os package.
type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (spoolFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(path string) error             { return os.Remove(path) }

func (osFS) SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Windows cannot flush a directory handle (FlushFileBuffers
		// needs write access, which a directory opened by os.Open lacks);
		// NTFS journals renames and removals itself.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// SpoolError describes entries that were not delivered but are kept in
// SpoolDir, for the next Writer that opens it to deliver.
type SpoolError struct {
	Entries int
	Dir     string
	Cause   error // why the batch was not delivered
}

func (e *SpoolError) Error() string {
	return fmt.Sprintf("zapsls: %d entries kept in spool %s for the next writer: %v", e.Entries, e.Dir, strings.TrimPrefix(e.Cause.Error(), "zapsls: "))
}

func (e *SpoolError) Unwrap() error { return e.Cause }

// The spool's policy: which failed batches it keeps, and how spooled
// batches are replayed and settled.

// spoolable tells whether a later Writer may deliver a batch that failed
// with err: yes after retryable failures (the budget or Close's deadline
// ran out) and configuration errors (credentials, permissions, a missing
// project or logstore); no for a body SLS refused, which it always will.
func spoolable(err error) bool {
	var pe *PutLogsError
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case pe.Status == 0, pe.wrongScheme: // nothing reached SLS
		return true
	case pe.Status == http.StatusUnauthorized, pe.Status == http.StatusForbidden, pe.Status == http.StatusNotFound:
		return true
	}
	return pe.Retryable
}

// keep writes b to the spool and reports whether it is kept there. What it
// evicts to make room is counted in stats and reported, as is a failure to
// write.
func (s *spool) keep(b *batch, stats *counters, report func(error)) bool {
	evicted, err := s.save(b)
	if evicted > 0 {
		stats.spoolEvicted.Add(uint64(evicted))
		report(fmt.Errorf("zapsls: spool %s full: deleted %d older entries", s.dir, evicted))
	}
	if err != nil {
		report(fmt.Errorf("zapsls: spool %s: %v", s.dir, err))
		return false
	}
	return true
}

// replay hands the spooled files names, oldest first, to the posters
// through work, until they are done or stop is closed. Files it cannot
// read are quarantined and reported.
func (s *spool) replay(names []string, work chan<- *batch, stop <-chan struct{}, report func(error)) {
	for _, name := range names {
		b, err := s.load(name)
		var corrupt errCorrupt
		switch {
		case errors.As(err, &corrupt):
			s.quarantine(name)
			report(fmt.Errorf("zapsls: spool %s: %s: %v; moved to %s", s.dir, name, err, corruptDir))
			continue
		case err != nil:
			report(fmt.Errorf("zapsls: spool %s: %s: %v", s.dir, name, err))
			continue
		case b == nil: // another Writer's
			continue
		}
		select {
		case work <- b:
		case <-stop:
			putBody(b.body)
			return
		}
	}
}

// replayFailed settles a replayed file that was not delivered by err and
// returns the error to report: the file stays for the next Writer, unless
// SLS refused its body, which it always will; then it is quarantined.
func (s *spool) replayFailed(name string, err error) error {
	if !spoolable(err) {
		s.quarantine(name)
		return fmt.Errorf("zapsls: spool %s: %s refused by SLS, moved to %s: %w", s.dir, name, corruptDir, err)
	}
	return fmt.Errorf("zapsls: spool %s: %s not delivered, kept: %w", s.dir, name, err)
}
