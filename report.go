package zapsls

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// reporter delivers the Writer's reports to OnError from a goroutine of its
// own (DESIGN.md, "Reports"), so that OnError never runs on a logging
// goroutine nor while zapsls holds anything a log call needs: an OnError
// that logs into the same Writer is safe. Reports wait in a bounded queue;
// past maxQueuedReports they are coalesced: OnError receives one
// *CoalescedError with their number and the entries they concern, and
// Stats.ReportsCoalesced counts them. A report raised on the reporter's own
// goroutine (an entry OnError logged was dropped), or after Close, is not
// delivered (it would feed the failure it reports; after Close, Write
// returned ErrClosed to its caller): Stats.ReportsSuppressed counts it.
//
// Sync waits, within its deadline, for the reports enqueued before it
// returns, so whoever sees a Sync fail has seen OnError called with the
// cause.
type reporter struct {
	onError func(error)
	stats   *counters
	gid     atomic.Uint64 // the reporting goroutine's id

	mu        sync.Mutex
	queue     []error
	coalesced *CoalescedError // reports past the queue's bound, nil if none
	closed    bool
	sent      uint64        // reports enqueued so far
	done      uint64        // reports delivered so far
	progress  chan struct{} // closed and replaced when done moves
	wake      chan struct{} // capacity 1
	stop      chan struct{}
	stopped   chan struct{}
}

// maxQueuedReports bounds the reports waiting for OnError.
const maxQueuedReports = 256

// CoalescedError is what OnError receives for reports that arrived faster
// than OnError took them: how many were not delivered one by one, and the
// entries they concern by fate (as in *DropError, *PutLogsError and
// *SpoolError). Stats counts them all.
type CoalescedError struct {
	Reports                  int
	Dropped, Failed, Spooled int // entries
}

func (e *CoalescedError) Error() string {
	return fmt.Sprintf("zapsls: %d more errors not reported one by one, OnError fell behind (entries dropped %d, failed %d, spooled %d)",
		e.Reports, e.Dropped, e.Failed, e.Spooled)
}

// add counts err in e.
func (e *CoalescedError) add(err error) {
	e.Reports++
	switch err := err.(type) {
	case *DropError:
		e.Dropped += err.Entries
	case *PutLogsError:
		e.Failed += err.Entries
	case *SpoolError:
		e.Spooled += err.Entries
	}
}

func newReporter(onError func(error), stats *counters) *reporter {
	if onError == nil {
		onError = (&stderrReporter{}).report
	}
	r := &reporter{
		onError: onError, stats: stats,
		progress: make(chan struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	go r.run()
	return r
}

// report hands err to OnError, later, on the reporter's goroutine. It never
// blocks.
func (r *reporter) report(err error) {
	if r.onReporter() {
		r.stats.reportsSuppressed.Add(1)
		return
	}
	r.mu.Lock()
	switch {
	case r.closed:
		r.stats.reportsSuppressed.Add(1)
	case len(r.queue) < maxQueuedReports:
		r.queue = append(r.queue, err)
		r.sent++
	default:
		if r.coalesced == nil {
			r.coalesced = &CoalescedError{}
		}
		r.coalesced.add(err)
		r.stats.reportsCoalesced.Add(1)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers reports until close.
func (r *reporter) run() {
	defer close(r.stopped)
	r.gid.Store(goroutineID())
	for {
		r.mu.Lock()
		batch, coalesced := r.queue, r.coalesced
		r.queue, r.coalesced = nil, nil
		r.mu.Unlock()
		for _, err := range batch {
			r.onError(err)
		}
		if coalesced != nil {
			r.onError(coalesced)
		}
		r.mu.Lock()
		if len(batch) > 0 {
			r.done += uint64(len(batch))
			close(r.progress)
			r.progress = make(chan struct{})
		}
		idle := len(r.queue) == 0 && r.coalesced == nil
		r.mu.Unlock()
		if !idle {
			continue
		}
		select {
		case <-r.wake:
		case <-r.stop:
			r.mu.Lock()
			idle = len(r.queue) == 0 && r.coalesced == nil
			r.closed = idle // nothing is queued after this
			r.mu.Unlock()
			if idle {
				return
			}
		}
	}
}

// flushed waits until every report enqueued before the call was delivered,
// or deadline passes. On the reporter's goroutine (a Sync from OnError) it
// returns at once.
func (r *reporter) flushed(deadline time.Time) {
	if r.onReporter() {
		return
	}
	r.mu.Lock()
	target := r.sent
	r.mu.Unlock()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		r.mu.Lock()
		done, ch := r.done, r.progress
		r.mu.Unlock()
		if done >= target {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// close delivers what is queued and stops the reporter's goroutine.
func (r *reporter) close() {
	close(r.stop)
	<-r.stopped
}

// onReporter reports whether the calling goroutine is the reporter's: an
// OnError calling back into the Writer. It reads the goroutine's id from
// its stack header (about a microsecond), so it is only asked on slow
// paths: a full buffer, a drop, a failed Sync.
func (r *reporter) onReporter() bool {
	id := r.gid.Load()
	return id != 0 && goroutineID() == id
}

// goroutineID is the calling goroutine's id, from runtime.Stack's header
// "goroutine N [...". Go keeps ids private on purpose; zapsls needs only
// to recognise one goroutine of its own.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// stderrReporter is the default OnError: one line a second at most, with a
// count of what it held back.
type stderrReporter struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

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
