package zapsls

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/pb"
	"github.com/zapsls/zapsls/internal/ring"
)

// Writer ships entries to one SLS logstore. Callers' goroutines only copy
// each entry into a lock-free ring; one sender goroutine batches the ring's
// contents, compresses, signs and posts them with up to MaxInflight requests
// in flight, and retries what is retryable.
//
// A Writer is a zapcore.WriteSyncer: Write takes what the zapsls Encoder
// produces (framed SLS Logs) or JSON objects, one per line (zap's "json"
// encoding), whose top-level keys become contents. All methods are safe for
// concurrent use. The sender goroutine and its posting goroutines run from
// NewWriter until Close.
type Writer struct {
	cfg      Config
	ep       endpoint
	ring     *ring.Ring
	maxEntry int // largest framed Log a batch can carry
	onError  func(error)

	sendConfig

	// closing is set by Close: Write refuses new entries. sealed is set
	// when the sender starts its final drain; a Write that commits after
	// that checks whether the drain took its entry (finalTail).
	closing   atomic.Bool
	sealed    atomic.Bool
	finalDone chan struct{}
	finalTail uint64

	// flushTo is the highest ring position a Sync asked to have sent.
	flushTo atomic.Uint64

	stats counters
	spool *spool // nil without SpoolDir

	mu        sync.Mutex
	progress  chan struct{}             // closed and replaced whenever a batch resolves
	openStart uint64                    // ring position where the sender's open batch starts
	inflight  []*batch                  // sealed batches not yet resolved, by position
	failures  []failure                 // not yet reported by a Sync
	flushes   map[*flushWaiter]struct{} // Syncs and Closes waiting now
	lastErr   string
	lastErrAt time.Time

	work      chan *batch // sender -> posters
	stop      chan struct{}
	stopOnce  sync.Once
	abort     context.CancelFunc // cancels posters' retries at the Close deadline
	abortCtx  context.Context
	senderWG  sync.WaitGroup
	postersWG sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ zapcore.WriteSyncer = (*Writer)(nil)

// failure is a batch or a drop not yet reported by a Sync. It concerns
// entries written before ring position before.
type failure struct {
	before uint64
	err    error
}

// counters are the Stats counters, updated atomically.
type counters struct {
	enqueued, delivered, dropped, failed, repaired  atomic.Uint64
	retries, requests, batches, rawBytes, wireBytes atomic.Uint64
	spooled, replayed, spoolEvicted                 atomic.Uint64
	inflight                                        atomic.Int64
}

// Stats is a snapshot of a Writer's counters. Every entry passed to Write is
// eventually counted once as Delivered, Dropped (never entered the buffer),
// Failed (entered it, but SLS did not store it) or Spooled (kept in
// SpoolDir for the next Writer); until then it is pending:
// Enqueued - Delivered - Failed - Spooled.
type Stats struct {
	Enqueued  uint64 `json:"enqueued"`  // entries accepted into the buffer
	Delivered uint64 `json:"delivered"` // entries SLS acknowledged
	Dropped   uint64 `json:"dropped"`   // entries refused: buffer full, closed, too large, invalid
	Failed    uint64 `json:"failed"`    // entries whose batch SLS did not store
	Spooled   uint64 `json:"spooled"`   // entries not delivered, kept in SpoolDir
	// Replayed counts entries from SpoolDir, spooled by an earlier Writer,
	// that this one delivered; SpoolEvicted, spooled entries deleted to keep
	// SpoolDir within SpoolMaxBytes.
	Replayed     uint64 `json:"replayed"`
	SpoolEvicted uint64 `json:"spoolEvicted"`
	Repaired     uint64 `json:"repaired"`  // entries whose keys or values were renamed, cut or made valid UTF-8
	Retries      uint64 `json:"retries"`   // attempts that were retried
	Requests     uint64 `json:"requests"`  // HTTP requests made
	Batches      uint64 `json:"batches"`   // batches delivered
	RawBytes     uint64 `json:"rawBytes"`  // uncompressed bytes delivered
	WireBytes    uint64 `json:"wireBytes"` // compressed bytes delivered
	Inflight     int    `json:"inflight"`  // requests in flight now
	Buffered     int    `json:"buffered"`  // bytes in the ring now
	// LastError is the text of the last background error (no credentials
	// ever), and when it happened.
	LastError     string    `json:"lastError,omitempty"`
	LastErrorTime time.Time `json:"lastErrorTime,omitempty"`
}

// NewWriter validates cfg, fills in its defaults and starts the sender. An
// invalid Config fails here, with an error naming the field.
func NewWriter(cfg Config) (*Writer, error) {
	cfg, ep, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:       cfg,
		ep:        ep,
		ring:      ring.New(cfg.BufferBytes),
		onError:   cfg.OnError,
		finalDone: make(chan struct{}),
		progress:  make(chan struct{}),
		flushes:   map[*flushWaiter]struct{}{},
		work:      make(chan *batch),
		stop:      make(chan struct{}),
	}
	if w.onError == nil {
		w.onError = newStderrReporter().report
	}
	if err := w.sendConfig.init(cfg, ep); err != nil {
		return nil, err
	}
	var replay []string
	if cfg.SpoolDir != "" {
		if w.spool, err = openSpool(cfg); err != nil {
			w.closeSendConfig()
			return nil, err
		}
		if w.spool.lock != nil {
			replay, _ = w.spool.list()
		}
	}
	// A batch holds the group's trailer (topic, source, tags, pack id) and
	// at least one entry.
	w.maxEntry = min(cfg.MaxBatchBytes-len(w.groupTail)-packIDTagMax, w.ring.MaxRecord())
	w.abortCtx, w.abort = context.WithCancel(context.Background())
	w.senderWG.Add(1)
	go w.runSender(replay)
	w.postersWG.Add(cfg.MaxInflight)
	for i := 0; i < cfg.MaxInflight; i++ {
		go w.runPoster()
	}
	return w, nil
}

// Write accepts one or more entries: framed SLS Logs as the zapsls Encoder
// writes them, or JSON objects, one per line. It copies p; the caller keeps
// it. An invalid or oversize entry is dropped and reported in the returned
// error, and the other entries in p are still written. With OnFull "block",
// Write may wait for buffer space; see Config.OnFull.
func (w *Writer) Write(p []byte) (int, error) {
	var errs error
	parseErr := forEachEntry(p, func(frame []byte, repairs int) {
		errs = multierr.Append(errs, w.enqueue(frame, repairs))
	})
	for _, bad := range multierr.Errors(parseErr) { // one per unusable part
		errs = multierr.Append(errs, w.drop(bad.Error()))
	}
	return len(p), errs
}

// String describes the Writer by its destination. It exists so that
// printing a Writer (%v, %+v) never prints the credentials in its Config.
func (w *Writer) String() string {
	return fmt.Sprintf("zapsls.Writer{%s://%s/%s/%s}", w.ep.scheme, w.ep.host, w.cfg.Project, w.cfg.Logstore)
}

// GoString is String, for %#v.
func (w *Writer) GoString() string { return w.String() }

// enqueue copies one framed Log into the ring: the only copy of an entry on
// the caller's goroutine. repairs is what the encoder repaired in it, counted
// in Stats.Repaired once the entry is in.
func (w *Writer) enqueue(frame []byte, repairs int) error {
	if w.closing.Load() {
		w.drop("writer closed")
		return ErrClosed
	}
	if len(frame) > w.maxEntry {
		return w.drop(fmt.Sprintf("entry too large: %d bytes, a batch holds at most %d", len(frame), w.maxEntry))
	}
	var end uint64
	var ok bool
	if w.cfg.OnFull == OnFullBlock {
		end, ok = w.ring.Write(frame, w.cfg.BlockTimeout)
	} else {
		end, ok = w.ring.TryWrite(frame)
	}
	if !ok {
		if w.closing.Load() {
			w.drop("writer closed")
			return ErrClosed
		}
		return w.drop("buffer full")
	}
	w.stats.enqueued.Add(1)
	if w.sealed.Load() {
		// Close's final drain may have missed this entry.
		<-w.finalDone
		if end > w.finalTail {
			w.stats.enqueued.Add(^uint64(0))
			w.drop("writer closed")
			return ErrClosed
		}
	}
	if repairs > 0 {
		w.stats.repaired.Add(1)
	}
	return nil
}

// drop counts and reports an entry that never entered the ring, and
// returns the error that says so.
func (w *Writer) drop(reason string) *DropError {
	w.stats.dropped.Add(1)
	err := &DropError{Entries: 1, Reason: reason}
	w.onError(err) // before a Sync can report it, as in resolve
	w.mu.Lock()
	w.addFailureLocked(failure{before: w.ring.Head(), err: err})
	w.mu.Unlock()
	return err
}

// noteErrorLocked records err as Stats.LastError. w.mu must be held.
func (w *Writer) noteErrorLocked(err error) {
	w.lastErr, w.lastErrAt = err.Error(), time.Now()
}

// addFailureLocked keeps f for the next Sync and notes it as the last
// error. w.mu must be held.
func (w *Writer) addFailureLocked(f failure) {
	w.failures = append(w.failures, f)
	w.noteErrorLocked(f.err)
	if len(w.failures) > 1024 { // bound memory while nobody calls Sync
		// Merged, the failures take the smallest position of any: a Sync
		// may then report one a little early, never miss one.
		before := w.failures[0].before
		var causes []error
		for _, f := range w.failures {
			before = min(before, f.before)
			causes = addCause(causes, f.err)
		}
		w.failures = w.failures[:0]
		for _, c := range causes {
			w.failures = append(w.failures, failure{before: before, err: c})
		}
	}
}

// Sync returns nil once every entry written before the call has been
// acknowledged by SLS. Otherwise, after at most SyncTimeout, it returns a
// *NotDeliveredError saying how many entries are not delivered and why:
// failed batches, dropped entries, and entries still pending at the timeout.
// Each failure is reported by exactly one Sync (and always by OnError and
// Stats). Sync never waits for Linger.
func (w *Writer) Sync() error {
	return w.flush(time.Now().Add(w.cfg.SyncTimeout))
}

// flushWaiter is a Sync or Close waiting for its target. A failure that
// another waiter takes is copied to it too, so that every Sync covering a
// failed entry reports it.
type flushWaiter struct {
	target uint64
	shared []error
}

func (w *Writer) flush(deadline time.Time) error {
	target := w.ring.Head()
	select {
	case <-w.finalDone:
		// Entries committed after Close's final drain were reported as
		// dropped by their Write and will never be sent.
		target = min(target, w.finalTail)
	default:
	}
	enqueued := w.stats.enqueued.Load()
	self := &flushWaiter{target: target}
	w.mu.Lock()
	w.flushes[self] = struct{}{}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.flushes, self)
		w.mu.Unlock()
	}()
	for {
		cur := w.flushTo.Load()
		if cur >= target || w.flushTo.CompareAndSwap(cur, target) {
			break
		}
	}
	w.ring.Notify()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	timedOut := false
	for {
		w.mu.Lock()
		if w.resolvedLocked() >= target || timedOut {
			err := w.takeFailuresLocked(target, self)
			if timedOut {
				err = w.addPendingLocked(err, target, enqueued)
			}
			w.mu.Unlock()
			if err == nil {
				return nil
			}
			return err
		}
		ch := w.progress
		w.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			timedOut = true
		}
	}
}

// addPendingLocked adds to err the entries still undecided when a flush to
// target timed out, with the last failure of each batch still retrying, so
// that the error says why. enqueued is Stats.Enqueued when the flush began.
func (w *Writer) addPendingLocked(err *NotDeliveredError, target, enqueued uint64) *NotDeliveredError {
	pending := int(enqueued) - int(w.stats.delivered.Load()+w.stats.failed.Load()+w.stats.spooled.Load())
	if pending <= 0 {
		return err
	}
	if err == nil {
		err = &NotDeliveredError{}
	}
	err.Pending = pending
	err.Entries += pending
	for _, b := range w.inflight {
		if b.start < target && b.lastErr != nil {
			cause := *b.lastErr
			cause.Entries, cause.Pending = b.count, true
			err.Causes = addCause(err.Causes, &cause)
		}
	}
	return err
}

// resolvedLocked is the ring position before which every entry is delivered
// or failed.
func (w *Writer) resolvedLocked() uint64 {
	if len(w.inflight) > 0 {
		return min(w.inflight[0].start, w.openStart)
	}
	return w.openStart
}

// takeFailuresLocked removes the failures concerning entries before target
// and returns them, with those other waiters shared with self, as one
// error, or nil. self may be nil (Close's final accounting).
func (w *Writer) takeFailuresLocked(target uint64, self *flushWaiter) *NotDeliveredError {
	var out *NotDeliveredError
	add := func(err error) {
		if out == nil {
			out = &NotDeliveredError{}
		}
		out.Entries += causeEntries(err)
		if se, ok := err.(*SpoolError); ok {
			out.Spooled += se.Entries
		}
		out.Causes = addCause(out.Causes, err)
	}
	if self != nil {
		for _, err := range self.shared {
			add(err)
		}
		self.shared = nil
	}
	kept := w.failures[:0]
	for _, f := range w.failures {
		if f.before > target {
			kept = append(kept, f)
			continue
		}
		add(f.err)
		for g := range w.flushes {
			if g != self && g.target >= f.before {
				g.shared = append(g.shared, f.err)
			}
		}
	}
	clear(w.failures[len(kept):])
	w.failures = kept
	return out
}

// Close delivers what was written (bounded by CloseTimeout), stops the
// sender goroutines and releases the buffer. Entries not delivered by then
// are counted as failed and reported in the returned *NotDeliveredError.
// Write after Close returns ErrClosed. Close is idempotent: later calls
// return the first call's result.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		deadline := time.Now().Add(w.cfg.CloseTimeout)
		w.closing.Store(true)
		err := w.flush(deadline)
		w.stopOnce.Do(func() { close(w.stop) })
		w.ring.Close()
		// Give up on retries at the deadline; the posters report what they
		// were holding as failed.
		t := time.AfterFunc(time.Until(deadline), w.abort)
		w.senderWG.Wait()
		w.postersWG.Wait()
		t.Stop()
		w.abort()
		w.closeSendConfig()
		if w.spool != nil {
			w.spool.close()
		}
		// What the final flush did not cover: entries that were pending
		// or committed during it.
		w.mu.Lock()
		rest := w.takeFailuresLocked(^uint64(0), nil)
		w.mu.Unlock()
		w.closeErr = mergeNotDelivered(err, rest)
	})
	return w.closeErr
}

func mergeNotDelivered(a error, b *NotDeliveredError) error {
	var out *NotDeliveredError
	if x, ok := a.(*NotDeliveredError); ok && x != nil {
		out = x
	}
	if b != nil {
		if out == nil {
			out = b
		} else {
			// Pending entries at the flush deadline are now failed and
			// counted in b, with their causes.
			out.Entries -= out.Pending
			out.Pending = 0
			kept := out.Causes[:0]
			for _, c := range out.Causes {
				if pe, ok := c.(*PutLogsError); !ok || !pe.Pending {
					kept = append(kept, c)
				}
			}
			out.Causes = kept
			out.Entries += b.Entries
			out.Spooled += b.Spooled
			for _, c := range b.Causes {
				out.Causes = addCause(out.Causes, c)
			}
		}
	}
	if out == nil {
		return nil
	}
	return out
}

// Stats returns a snapshot of the counters.
func (w *Writer) Stats() Stats {
	s := Stats{
		Enqueued:  w.stats.enqueued.Load(),
		Delivered: w.stats.delivered.Load(),
		Dropped:   w.stats.dropped.Load(),
		Failed:    w.stats.failed.Load(),
		Spooled:   w.stats.spooled.Load(),
		Replayed:  w.stats.replayed.Load(),

		SpoolEvicted: w.stats.spoolEvicted.Load(),
		Repaired:     w.stats.repaired.Load(),
		Retries:      w.stats.retries.Load(),
		Requests:     w.stats.requests.Load(),
		Batches:      w.stats.batches.Load(),
		RawBytes:     w.stats.rawBytes.Load(),
		WireBytes:    w.stats.wireBytes.Load(),
		Inflight:     int(w.stats.inflight.Load()),
		Buffered:     int(w.ring.Used()),
	}
	w.mu.Lock()
	s.LastError, s.LastErrorTime = w.lastErr, w.lastErrAt
	w.mu.Unlock()
	return s
}

// batch is a sealed run of entries from the ring [start, end), ready to
// post: the compressed body is never changed, so every retry is
// byte-identical.
type batch struct {
	start, end  uint64
	count       int
	rawSize     int
	body        []byte // compressed LogGroup, from bodyPool
	packID      string
	compression string
	spoolFile   string        // set when replayed from the spool
	lastErr     *PutLogsError // its last failed attempt while it retries; under Writer.mu
	bodyHeld    bool          // a transport may still read body: do not pool it
}

// runSender is the sender goroutine: it moves entries from the ring into
// batches and hands sealed batches to the posters. It owns the replay of
// spooled files, which feeds the posters beside it.
func (w *Writer) runSender(replay []string) {
	defer w.senderWG.Done()
	var replayWG sync.WaitGroup
	if len(replay) > 0 {
		replayWG.Add(1)
		go func() {
			defer replayWG.Done()
			w.replaySpool(replay)
		}()
	}
	defer close(w.work)
	defer replayWG.Wait()

	raw := make([]byte, 0, w.cfg.MaxBatchBytes)
	count := 0
	var firstAt time.Time
	start := w.ring.Tail()
	stopping := false
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()

	bodyLimit := w.cfg.MaxBatchBytes - len(w.groupTail) - packIDTagMax
	seal := func(end uint64) {
		if count == 0 {
			return
		}
		b := w.seal(raw, count, start, end)
		raw, count, start = raw[:0], 0, end
		w.mu.Lock()
		w.inflight = append(w.inflight, b)
		w.openStart = end
		w.mu.Unlock()
		w.work <- b
	}
	for {
		full := false
		end := w.ring.Drain(func(a, b []byte) bool {
			n := len(a) + len(b)
			if count > 0 && (len(raw)+n > bodyLimit || count == w.cfg.MaxBatchCount) {
				full = true
				return false
			}
			if count == 0 {
				firstAt = time.Now()
			}
			raw = append(append(raw, a...), b...)
			count++
			return true
		})
		if count > 0 && (full || stopping || w.flushTo.Load() > start ||
			time.Since(firstAt) >= w.cfg.Linger) {
			seal(end)
			continue
		}
		if count == 0 {
			w.mu.Lock()
			if w.openStart != end {
				w.openStart = end
				w.broadcastLocked()
			}
			w.mu.Unlock()
		}
		if stopping {
			if count == 0 && w.finalDrain() {
				return
			}
			continue
		}

		// Wait: for any entry when the batch is empty, otherwise for
		// enough to fill it, the linger, a Sync or Close.
		threshold := uint64(0)
		if count > 0 {
			threshold = uint64(bodyLimit-len(raw)) + 1
			linger.Reset(time.Until(firstAt.Add(w.cfg.Linger)))
		}
		if !w.ring.ArmWake(threshold) || count > 0 && w.flushTo.Load() > start {
			w.ring.Disarm()
			continue
		}
		select {
		case <-w.ring.Wakeup():
		case <-linger.C:
		case <-w.stop:
			stopping = true
		}
		w.ring.Disarm()
		linger.Stop()
	}
}

// finalDrain starts the sender's last pass: after it, an entry committed to
// the ring is reported as dropped by its Write. It returns true when the
// ring is empty and the sender may exit.
func (w *Writer) finalDrain() bool {
	if !w.sealed.Load() {
		w.sealed.Store(true)
		return false // drain once more: entries committed before sealed was seen
	}
	if w.ring.Used() != 0 {
		// A producer between reserving and committing: wait for it, so
		// that no entry it reports as written is left behind.
		time.Sleep(50 * time.Microsecond)
		return false
	}
	w.finalTail = w.ring.Tail()
	close(w.finalDone)
	return true
}

// seal builds the LogGroup for raw's entries and compresses it.
func (w *Writer) seal(raw []byte, count int, start, end uint64) *batch {
	b := &batch{start: start, end: end, count: count, compression: w.cfg.Compression}
	b.packID = w.nextPackID()
	group := append(raw, w.groupTail...)
	group = pb.AppendPair(group, pb.TagGroupTag, "__pack_id__", b.packID)
	b.rawSize = len(group)
	b.body = w.compress(group)
	return b
}

// broadcastLocked wakes every Sync waiting for progress. w.mu must be held.
func (w *Writer) broadcastLocked() {
	close(w.progress)
	w.progress = make(chan struct{})
}

// resolve records a batch's outcome: err is nil when SLS stored it. A
// failed batch goes to the spool when there is one and the failure is of a
// kind a later Writer may overcome.
func (w *Writer) resolve(b *batch, err error) {
	if b.spoolFile != "" {
		w.resolveReplay(b, err)
		return
	}
	switch {
	case err == nil:
		w.stats.delivered.Add(uint64(b.count))
		w.stats.batches.Add(1)
		w.stats.rawBytes.Add(uint64(b.rawSize))
		w.stats.wireBytes.Add(uint64(len(b.body)))
	case w.spool != nil && spoolable(err) && w.saveToSpool(b):
		w.stats.spooled.Add(uint64(b.count))
		err = &SpoolError{Entries: b.count, Dir: w.spool.dir, Cause: err}
	default:
		w.stats.failed.Add(uint64(b.count))
	}
	if !b.bodyHeld {
		putBody(b.body)
	}
	b.body = nil
	if err != nil {
		// Before the Syncs waiting for b wake: whoever sees a Sync fail has
		// seen OnError called with the cause.
		w.onError(err)
	}
	w.mu.Lock()
	for i, x := range w.inflight {
		if x == b {
			w.inflight = append(w.inflight[:i], w.inflight[i+1:]...)
			break
		}
	}
	if err != nil {
		w.addFailureLocked(failure{before: b.start + 1, err: err})
	}
	w.broadcastLocked()
	w.mu.Unlock()
}

// saveToSpool writes b to the spool and reports whether it is kept there.
func (w *Writer) saveToSpool(b *batch) bool {
	evicted, err := w.spool.save(b)
	if evicted > 0 {
		w.stats.spoolEvicted.Add(uint64(evicted))
		w.onError(fmt.Errorf("zapsls: spool %s full: deleted %d older entries", w.spool.dir, evicted))
	}
	if err != nil {
		w.onError(fmt.Errorf("zapsls: spool %s: %v", w.spool.dir, err))
		return false
	}
	return true
}

// spoolable tells whether a later Writer may deliver a batch that failed
// with err: yes after retryable failures (the budget or Close's deadline
// ran out) and configuration errors (credentials, permissions, a missing
// project or logstore); no for a body SLS refused, which it always will.
func spoolable(err error) bool {
	var pe *PutLogsError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Status {
	case 0, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return pe.Retryable
}

// replaySpool hands the spooled files, oldest first, to the posters, until
// they are done or the Writer stops.
func (w *Writer) replaySpool(names []string) {
	for _, name := range names {
		b, err := w.spool.load(name)
		var corrupt errCorrupt
		switch {
		case errors.As(err, &corrupt):
			w.spool.quarantine(name)
			w.onError(fmt.Errorf("zapsls: spool %s: %s: %v; moved to %s", w.spool.dir, name, err, corruptDir))
			continue
		case err != nil:
			w.onError(fmt.Errorf("zapsls: spool %s: %s: %v", w.spool.dir, name, err))
			continue
		case b == nil: // another project's or logstore's
			continue
		}
		select {
		case w.work <- b:
		case <-w.stop:
			putBody(b.body)
			return
		}
	}
}

// resolveReplay deletes a delivered spool file. A failed one stays for the
// next Writer, unless SLS refused its body, which it always will.
func (w *Writer) resolveReplay(b *batch, err error) {
	if !b.bodyHeld {
		putBody(b.body)
	}
	b.body = nil
	if err == nil {
		w.spool.remove(b.spoolFile)
		w.stats.replayed.Add(uint64(b.count))
		return
	}
	if !spoolable(err) {
		w.spool.quarantine(b.spoolFile)
		err = fmt.Errorf("zapsls: spool %s: %s refused by SLS, moved to %s: %w", w.spool.dir, b.spoolFile, corruptDir, err)
	} else {
		err = fmt.Errorf("zapsls: spool %s: %s not delivered, kept: %w", w.spool.dir, b.spoolFile, err)
	}
	w.mu.Lock()
	w.noteErrorLocked(err)
	w.mu.Unlock()
	w.onError(err)
}

// packIDTagMax bounds the encoded __pack_id__ LogTag: 16 hex digits, a dash,
// up to 16 hex digits of sequence, and framing.
const packIDTagMax = 64

// newPackPrefix returns the 16 upper-case hex digits that start this
// Writer's pack ids, from the host, the process and the time, as the SDK's
// producer does, so that ids from different writers do not collide.
func newPackPrefix() string {
	host, _ := os.Hostname()
	sum := md5.Sum([]byte(host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)))
	return fmt.Sprintf("%X", sum[:8])
}

// stderrReporter is the default OnError: one line a second at most, with a
// count of what it held back.
type stderrReporter struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func newStderrReporter() *stderrReporter { return &stderrReporter{} }

func (r *stderrReporter) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.skipped++
		return
	}
	if r.skipped > 0 {
		fmt.Fprintf(os.Stderr, "%s %v (and %d more errors in the last %v)\n", now.Format(time.RFC3339), err, r.skipped, now.Sub(r.last).Round(time.Second))
	} else {
		fmt.Fprintf(os.Stderr, "%s %v\n", now.Format(time.RFC3339), err)
	}
	r.last, r.skipped = now, 0
}
