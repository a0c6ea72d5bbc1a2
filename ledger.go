package zapsls

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ledger keeps the accounts behind Sync: which entries are settled, which
// failed and are not yet reported, and who is waiting (DESIGN.md, "Sync's
// accounting").
//
// Entries are known by their buffer position. The batcher tells the ledger
// the position before which every entry has left the buffer and sits in a
// sealed batch (setOpen), and hands it every sealed batch (add); posters
// resolve batches (resolve); Write reports drops (dropped). An entry is
// settled once it is behind the open position and in no batch in flight;
// a Sync waits until every entry before the buffer's head at its call is
// settled, then takes the failures that concern those entries.
//
// All methods are safe for concurrent use; mu guards everything but
// flushTo.
type ledger struct {
	stats *counters
	rep   *reporter // OnError
	spool *spool    // nil without SpoolDir
	// onDelivered is Config.OnDelivered, or nil; set before any batch.
	onDelivered func(Delivery)

	// flushTo is the highest buffer position a Sync asked to have sealed;
	// the batcher seals every open batch that starts before it.
	flushTo atomic.Uint64

	mu        sync.Mutex
	progress  chan struct{}             // closed and replaced whenever an entry settles
	open      uint64                    // every entry before it is sealed or settled
	inflight  []*batch                  // sealed batches not yet resolved
	failures  []failure                 // not yet reported by a Sync
	waiters   map[*flushWaiter]struct{} // Syncs and Closes waiting now
	lastErr   string
	lastErrAt time.Time
	// unreachable is the last attempt's failure when it got no answer
	// because the endpoint is unreachable (its host does not resolve, its
	// port refuses connections), until an attempt gets an HTTP answer.
	// Sync and Close do not wait for batches while it is set.
	unreachable *PutLogsError
	// retryNow is closed (and replaced) to cut the posters' backoff short:
	// a Sync finding the endpoint unreachable asks for a fresh attempt.
	retryNow chan struct{}
}

// failure is a failed batch or a drop not yet reported by a Sync. It
// concerns entries written before buffer position before.
type failure struct {
	before uint64
	err    error
}

// flushWaiter is a Sync or Close waiting for its target. A failure that
// another waiter takes is copied to it too, so that every Sync covering a
// failed entry reports it.
type flushWaiter struct {
	target uint64
	shared []error
}

// maxFailures bounds the failures kept while nobody calls Sync.
const maxFailures = 1024

func newLedger(stats *counters, rep *reporter, sp *spool, open uint64) *ledger {
	return &ledger{
		stats: stats, rep: rep, spool: sp, open: open,
		progress: make(chan struct{}),
		retryNow: make(chan struct{}),
		waiters:  map[*flushWaiter]struct{}{},
	}
}

// requestFlush asks the batcher to seal what starts before target.
func (l *ledger) requestFlush(target uint64) {
	for {
		cur := l.flushTo.Load()
		if cur >= target || l.flushTo.CompareAndSwap(cur, target) {
			return
		}
	}
}

// setOpen records that every entry before pos has left the buffer for a
// sealed batch, or was settled. The batcher calls it.
func (l *ledger) setOpen(pos uint64) {
	l.mu.Lock()
	if l.open != pos {
		l.open = pos
		l.broadcastLocked()
	}
	l.mu.Unlock()
}

// add records a sealed batch going to the posters.
func (l *ledger) add(b *batch) {
	l.mu.Lock()
	l.inflight = append(l.inflight, b)
	l.mu.Unlock()
}

// settledLocked is the buffer position before which every entry is
// delivered, failed or spooled.
func (l *ledger) settledLocked() uint64 {
	pos := l.open
	for _, b := range l.inflight {
		pos = min(pos, b.first)
	}
	return pos
}

// resolve settles a batch: err is nil when SLS stored it. This is the one
// place a batch's outcome is decided and accounted: counted in Stats,
// spooled when there is a spool and the failure is one a later Writer may
// overcome, reported to OnError, kept for the next Sync, and the body
// returned to the pool.
func (l *ledger) resolve(b *batch, err error) {
	if b.spoolFile != "" {
		l.resolveReplay(b, err)
		return
	}
	n := uint64(b.count)
	switch {
	case err == nil:
		l.stats.delivered.Add(n)
		b.route.delivered.Add(n)
		l.stats.batches.Add(1)
		l.stats.rawBytes.Add(uint64(b.rawSize))
		l.stats.wireBytes.Add(uint64(len(b.body)))
		// On the poster's goroutine, before the Syncs waiting for b wake.
		l.delivered(b, false)
	case l.spool != nil && spoolable(err) && l.spool.keep(b, l.stats, l.rep.report):
		l.stats.spooled.Add(n)
		b.route.spooled.Add(n)
		err = &SpoolError{Entries: b.count, Dir: l.spool.dir, Cause: err}
	default:
		l.stats.failed.Add(n)
		b.route.failed.Add(n)
	}
	releaseBody(b)
	if err != nil {
		// Before the Syncs waiting for b wake: whoever sees a Sync fail has
		// seen OnError called with the cause.
		l.rep.report(err)
	}
	l.mu.Lock()
	for i, x := range l.inflight {
		if x == b {
			l.inflight = append(l.inflight[:i], l.inflight[i+1:]...)
			break
		}
	}
	if err != nil {
		l.addFailureLocked(failure{before: b.first + 1, err: err})
	}
	var pe *PutLogsError
	if err == nil || errors.As(err, &pe) {
		l.reachedLocked(pe)
	}
	l.broadcastLocked()
	l.mu.Unlock()
}

// resolveReplay settles a batch replayed from the spool: delivered, its
// file is deleted; otherwise the file stays for the next Writer, unless
// SLS refused its body, which it always will.
func (l *ledger) resolveReplay(b *batch, err error) {
	if err == nil {
		l.delivered(b, true)
	}
	releaseBody(b)
	if err == nil {
		l.spool.remove(b.spoolFile)
		l.stats.replayed.Add(uint64(b.count))
		return
	}
	err = l.spool.replayFailed(b.spoolFile, err)
	l.note(err)
	l.rep.report(err)
}

// delivered tells OnDelivered about b, which SLS acknowledged. b.body is
// still b's.
func (l *ledger) delivered(b *batch, replayed bool) {
	if l.onDelivered == nil {
		return
	}
	d := Delivery{
		Project: b.route.dest.Project, Logstore: b.route.dest.Logstore, HashKey: b.route.hashKey, Processor: b.route.dest.Processor,
		Entries: b.count, RawBytes: b.rawSize, WireBytes: len(b.body),
		RequestID: b.requestID, Attempts: b.attempts, Latency: b.latency, Replayed: replayed,
	}
	if !replayed { // a replayed batch's topic and source are in its body
		d.Topic, d.Source = b.route.dest.Topic, b.route.dest.Source
	}
	l.onDelivered(d)
}

// releaseBody returns b's body to the pool unless a transport may still be
// reading it.
func releaseBody(b *batch) {
	if !b.bodyHeld {
		putBody(b.body)
	}
	b.body = nil
}

// retrying keeps a failed attempt that will be retried: Sync names it as
// the reason when it times out, and Stats.LastError shows it.
func (l *ledger) retrying(b *batch, err *PutLogsError) {
	l.mu.Lock()
	b.lastErr = err
	l.noteLocked(err)
	l.reachedLocked(err)
	l.mu.Unlock()
}

// reachedLocked keeps whether the endpoint is unreachable, from the
// failure of an attempt (nil: it succeeded). A change wakes the Syncs.
func (l *ledger) reachedLocked(err *PutLogsError) {
	switch {
	case err != nil && err.unreachable:
		l.unreachable = err // the latest: Syncs compare when it began
		l.broadcastLocked()
	case err == nil || err.Status != 0:
		l.unreachable = nil // the endpoint answered
	}
}

// backoffCut returns the channel that cuts the posters' current backoff
// short.
func (l *ledger) backoffCut() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retryNow
}

// isUnreachable reports whether the endpoint is unreachable now: Close
// then gives up on retries at once instead of at its deadline.
func (l *ledger) isUnreachable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unreachable != nil
}

// dropped records an entry that never entered the buffer, written before
// buffer position head.
func (l *ledger) dropped(err *DropError, head uint64) {
	l.mu.Lock()
	l.addFailureLocked(failure{before: head, err: err})
	l.mu.Unlock()
}

// note records err as Stats.LastError.
func (l *ledger) note(err error) {
	l.mu.Lock()
	l.noteLocked(err)
	l.mu.Unlock()
}

func (l *ledger) noteLocked(err error) {
	l.lastErr, l.lastErrAt = err.Error(), time.Now()
}

func (l *ledger) lastError() (string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr, l.lastErrAt
}

// addFailureLocked keeps f for the next Sync and notes it as the last
// error.
func (l *ledger) addFailureLocked(f failure) {
	l.failures = append(l.failures, f)
	l.noteLocked(f.err)
	if len(l.failures) > maxFailures {
		// Merged, the failures take the smallest position of any: a Sync
		// may then report one a little early, never miss one.
		before := l.failures[0].before
		var causes []error
		for _, f := range l.failures {
			before = min(before, f.before)
			causes = addCause(causes, f.err)
		}
		l.failures = l.failures[:0]
		for _, c := range causes {
			l.failures = append(l.failures, failure{before: before, err: c})
		}
	}
}

// broadcastLocked wakes every Sync waiting for progress.
func (l *ledger) broadcastLocked() {
	close(l.progress)
	l.progress = make(chan struct{})
}

// wait blocks until every entry before target is settled, or deadline
// passes, and returns what concerns those entries: nil when all were
// delivered, otherwise a *NotDeliveredError with the failures (and, at the
// deadline, the entries still pending with the reason each batch is
// retrying). enqueued is Stats.Enqueued when the Sync began; kick wakes
// the batcher.
func (l *ledger) wait(target uint64, deadline time.Time, enqueued uint64, kick func()) error {
	self := &flushWaiter{target: target}
	l.mu.Lock()
	l.waiters[self] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.waiters, self)
		l.mu.Unlock()
	}()
	// Registered first, so that no failure another waiter takes from now
	// on is missed; then the batcher is asked to seal and woken.
	l.requestFlush(target)
	kick()

	began := time.Now()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	timedOut := false
	var kicked *PutLogsError // the failure a retry was last asked for
	for {
		l.mu.Lock()
		// An unreachable endpoint (its host does not resolve, its port
		// refuses) will not deliver before the deadline either: once an
		// attempt begun after this Sync confirms it, say so, with the
		// hint, rather than make the caller wait (a zap ErrorOutput on
		// this Writer syncs after every failed write). The posters retry
		// at once for a Sync, so that costs a round trip.
		if l.unreachable != nil && l.settledLocked() < target {
			if l.unreachable.started.After(began) {
				timedOut = true
			} else if l.unreachable != kicked {
				// Each failure that began before this Sync asks for
				// one more attempt; the first that began after it
				// decides.
				close(l.retryNow)
				l.retryNow = make(chan struct{})
				kicked = l.unreachable
			}
		}
		if l.settledLocked() >= target || timedOut {
			err := l.takeFailuresLocked(target, self)
			if timedOut {
				err = l.addPendingLocked(err, target, enqueued)
			}
			l.mu.Unlock()
			// Whoever sees a Sync return has seen OnError called with
			// what was reported before: the causes of a failure it returns
			// were reported before the ledger had them.
			l.rep.flushed(deadline)
			if err == nil {
				return nil
			}
			return err
		}
		ch := l.progress
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			timedOut = true
		}
	}
}

// addPendingLocked adds to err the entries still undecided when a wait for
// target timed out, with the last failure of each batch still retrying, so
// that the error says why.
func (l *ledger) addPendingLocked(err *NotDeliveredError, target, enqueued uint64) *NotDeliveredError {
	pending := l.stats.pending(enqueued)
	if pending <= 0 {
		return err
	}
	if err == nil {
		err = &NotDeliveredError{}
	}
	err.Pending = pending
	err.Entries += pending
	for _, b := range l.inflight {
		if b.first < target && b.lastErr != nil {
			cause := *b.lastErr
			cause.Entries, cause.Pending = b.count, true
			err.Causes = addCause(err.Causes, &cause)
		}
	}
	return err
}

// takeFailuresLocked removes the failures concerning entries before target
// and returns them, with those other waiters shared with self, as one
// error, or nil. self may be nil (Close's final accounting).
func (l *ledger) takeFailuresLocked(target uint64, self *flushWaiter) *NotDeliveredError {
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
	kept := l.failures[:0]
	for _, f := range l.failures {
		if f.before > target {
			kept = append(kept, f)
			continue
		}
		add(f.err)
		for g := range l.waiters {
			if g != self && g.target >= f.before {
				g.shared = append(g.shared, f.err)
			}
		}
	}
	clear(l.failures[len(kept):])
	l.failures = kept
	return out
}

// takeAll returns every failure not yet reported, for Close.
func (l *ledger) takeAll() *NotDeliveredError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeFailuresLocked(^uint64(0), nil)
}
