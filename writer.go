package zapsls

import (
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/multierr"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/ring"
)

// Writer ships entries to SLS. Callers' goroutines only copy each entry into
// a lock-free buffer; one batcher goroutine drains the buffer into batches,
// compresses and seals them; MaxInflight poster goroutines sign, post and
// retry them; a ledger settles each batch and answers Sync (DESIGN.md, "The
// data path").
//
// A Writer is a zapcore.WriteSyncer: Write takes what the zapsls Encoder
// produces (framed SLS Logs), JSON objects, one per line (zap's "json"
// encoding), whose top-level keys become contents, or text lines (zap's
// "console" encoding); Config.Lines says how it reads them. All methods are safe for
// concurrent use. The Writer's goroutines run from NewWriter until Close.
type Writer struct {
	cfg    Config
	ep     endpoint
	ring   *ring.Ring  // the buffer between callers and the batcher
	routes *routes     // the destinations; id 0 is the Config's
	lines  *lineReader // reads what is not a framed Log; Config.Lines
	stats  counters
	report func(error) // hands a report to rep
	rep    *reporter   // delivers reports to OnError
	ledger *ledger
	poster *poster
	comp   *compressor
	spool  *spool // nil without SpoolDir
	life   *lifecycle
	stall  stall // OnFull "block": whether the batcher is stalled
}

// stall is the full-buffer policy's memory of a stalled batcher
// (Config.OnFull): once one blocked Write has waited BlockTimeout with no
// space freed, the batcher is stalled (its posters cannot deliver), and
// later Writes drop at once instead of each waiting BlockTimeout, until the
// batcher frees space again. So the time callers spend blocked is bounded
// per stall, not per call.
type stall struct {
	on   atomic.Bool
	tail atomic.Uint64 // the buffer's tail when the stall began
}

// begin records a stall seen with the buffer's tail at tail.
func (s *stall) begin(tail uint64) {
	s.tail.Store(tail)
	s.on.Store(true)
}

// stalled reports whether a stall is on: the buffer's tail, now tail, has
// not moved since it began. A tail that moved ends it.
func (s *stall) stalled(tail uint64) bool {
	if !s.on.Load() {
		return false
	}
	if tail != s.tail.Load() {
		s.on.Store(false)
		return false
	}
	return true
}

var _ zapcore.WriteSyncer = (*Writer)(nil)

// NewWriter validates cfg, fills in its defaults and starts the Writer's
// goroutines: the batcher, the posters and, when SpoolDir holds batches of
// an earlier Writer, their replay. An invalid Config fails here, with an
// error naming the field.
func NewWriter(cfg Config) (*Writer, error) {
	cfg, ep, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg, ep: ep, life: newLifecycle(), lines: newLineReader(cfg.Lines)}
	if w.comp, err = newCompressor(cfg.Compression); err != nil {
		return nil, err
	}
	if w.routes, err = newRoutes(&w.cfg, ep); err != nil {
		w.comp.close()
		return nil, err
	}
	var replay []string
	if cfg.SpoolDir != "" {
		if w.spool, err = openSpool(cfg); err != nil {
			w.comp.close()
			return nil, err
		}
		w.spool.routes = w.routes
		if w.spool.lock != nil {
			replay, _ = w.spool.list()
		}
	}
	w.ring = ring.New(cfg.BufferBytes)
	w.rep = newReporter(cfg.OnError, &w.stats)
	w.report = w.rep.report
	w.ledger = newLedger(&w.stats, w.rep, w.spool, w.ring.Tail())
	w.ledger.onDelivered = cfg.OnDelivered
	w.poster = newPoster(&w.cfg, &w.stats, func(b *batch, err *PutLogsError, delay time.Duration) {
		// Reported before the ledger has it: a Sync it wakes returns only
		// after OnError heard of it.
		w.report(&RetryError{Delay: delay, Err: err})
		w.ledger.retrying(b, err)
	}, w.ledger.backoffCut)

	work := make(chan *batch)
	bt := &batcher{
		cfg: &w.cfg, buf: w.ring, ledger: w.ledger, life: w.life,
		routes: w.routes, ids: newPackIDs(), comp: w.comp, work: work,
	}
	w.life.batcherWG.Add(1)
	go func() {
		defer w.life.batcherWG.Done()
		bt.run()
	}()
	if len(replay) > 0 {
		// Replayed batches go to the posters beside new ones; work stays
		// open until the replay is done (Close waits for it first).
		w.life.batcherWG.Add(1)
		go func() {
			defer w.life.batcherWG.Done()
			w.spool.replay(replay, work, w.life.stop, w.report)
		}()
	}
	w.life.postersWG.Add(cfg.MaxInflight)
	for range cfg.MaxInflight {
		go func() {
			defer w.life.postersWG.Done()
			w.poster.run(w.life.abortCtx, work, w.ledger.resolve)
		}()
	}
	return w, nil
}

// Write accepts one or more entries for the Writer's default destination:
// framed SLS Logs as the zapsls Encoder writes them, JSON objects, one per
// line, or text lines, read as Config.Lines says (see LineOptions). It
// copies p; the caller keeps it. An invalid or oversize entry is dropped
// and reported in the returned error, and the other entries in p are still
// written. With OnFull "block", Write may wait for buffer space; see
// Config.OnFull.
func (w *Writer) Write(p []byte) (int, error) {
	return w.write(p, w.routes.get(0))
}

// write is Write to route r.
func (w *Writer) write(p []byte, r *route) (int, error) {
	var errs error
	parseErr := w.lines.forEachEntry(p, func(frame []byte, repairs int) {
		errs = multierr.Append(errs, w.enqueue(frame, repairs, r))
	})
	for _, bad := range multierr.Errors(parseErr) { // one per unusable part
		errs = multierr.Append(errs, w.drop(bad.Error(), r))
	}
	return len(p), errs
}

// routeFor returns the route of d, or fallback when d is one SLS would
// refuse or one too many; OnError then says why.
func (w *Writer) routeFor(d Destination, fallback *route) *route {
	r, err := w.routes.resolve(d)
	if err != nil {
		w.report(err)
		return fallback
	}
	return r
}

// String describes the Writer by its destination. It exists so that
// printing a Writer (%v, %+v) never prints the credentials in its Config.
func (w *Writer) String() string {
	return fmt.Sprintf("zapsls.Writer{%s://%s/%s/%s}", w.ep.scheme, w.ep.host, w.cfg.Project, w.cfg.Logstore)
}

// GoString is String, for %#v.
func (w *Writer) GoString() string { return w.String() }

// maxEntry is the largest framed Log a batch to r can carry: a batch holds
// the route's group tail and pack id, and room for the repair of the
// entry's time (timewindow.go).
func (w *Writer) maxEntry(r *route) int {
	return min(r.maxBody-timeRepairMax, w.ring.MaxRecord())
}

// enqueue copies one framed Log for route r into the buffer: the only copy
// of an entry on the caller's goroutine. repairs is what the encoder
// repaired in it, counted in Stats.Repaired once the entry is in.
func (w *Writer) enqueue(frame []byte, repairs int, r *route) error {
	if w.life.closing.Load() {
		w.drop("writer closed", r)
		return ErrClosed
	}
	// A batch holds the route's group tail (topic, source, tags, pack id)
	// and at least one entry, with room for the repair of its time.
	if limit := w.maxEntry(r); len(frame) > limit {
		return w.drop(fmt.Sprintf("entry too large: %d bytes, a batch holds at most %d", len(frame), limit), r)
	}
	end, ok := w.ring.TryWrite(r.id, frame)
	// An entry that OnError logs never waits: the reports behind it would
	// wait too (DESIGN.md, "Reports").
	if !ok && w.cfg.OnFull == OnFullBlock && !w.stall.stalled(w.ring.Tail()) && !w.rep.onReporter() {
		end, ok = w.ring.Write(r.id, frame, w.cfg.BlockTimeout)
		if !ok {
			w.stall.begin(w.ring.Tail())
		}
	}
	if !ok {
		if w.life.closing.Load() {
			w.drop("writer closed", r)
			return ErrClosed
		}
		return w.drop("buffer full", r)
	}
	w.stats.enqueued.Add(1)
	if w.life.missedByFinalPass(end) {
		w.stats.enqueued.Add(^uint64(0))
		w.drop("writer closed", r)
		return ErrClosed
	}
	if repairs > 0 {
		w.stats.repaired.Add(1)
	}
	return nil
}

// drop counts and reports an entry for r that never entered the buffer,
// and returns the error that says so.
func (w *Writer) drop(reason string, r *route) *DropError {
	w.stats.dropped.Add(1)
	r.dropped.Add(1)
	err := &DropError{Entries: 1, Reason: reason}
	w.report(err) // before the ledger has it, as in ledger.resolve
	w.ledger.dropped(err, w.ring.Head())
	return err
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

func (w *Writer) flush(deadline time.Time) error {
	target := w.life.finalTarget(w.ring.Head())
	return w.ledger.wait(target, deadline, w.stats.enqueued.Load(), w.ring.Notify)
}

// Close delivers what was written (bounded by CloseTimeout), stops the
// Writer's goroutines and releases the buffer. Entries not delivered by then
// are counted as failed and reported in the returned *NotDeliveredError.
// Write after Close returns ErrClosed. Close is idempotent: later calls
// return the first call's result.
func (w *Writer) Close() error {
	w.life.closeOnce.Do(func() {
		deadline := time.Now().Add(w.cfg.CloseTimeout)
		w.life.closing.Store(true)
		err := w.flush(deadline)
		if w.ledger.isUnreachable() {
			// Retries would only eat the rest of CloseTimeout: what is not
			// delivered is spooled or failed now, and reported.
			w.life.abort()
		}
		close(w.life.stop)
		w.ring.Close()
		// Give up on retries at the deadline; the posters report what they
		// were holding as failed.
		t := time.AfterFunc(time.Until(deadline), w.life.abort)
		w.life.batcherWG.Wait()
		w.life.postersWG.Wait()
		t.Stop()
		w.life.abort()
		w.comp.close()
		w.poster.close()
		if w.spool != nil {
			w.spool.close()
		}
		w.rep.close() // after every goroutine that reports
		// What the final flush did not cover: entries that were pending
		// or committed during it.
		w.life.closeErr = mergeNotDelivered(err, w.ledger.takeAll())
	})
	return w.life.closeErr
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
	s := w.stats.snapshot()
	s.Buffered = int(w.ring.Used())
	s.BufferMemory = int(w.ring.Held())
	s.Destinations = w.routes.destinationStats()
	s.LastError, s.LastErrorTime = w.ledger.lastError()
	return s
}
