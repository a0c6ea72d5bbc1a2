package zapsls

import (
	"context"
	"sync"
	"sync/atomic"
)

// lifecycle is the Writer's shutdown, in four phases (DESIGN.md,
// "Lifecycle"):
//
//  1. open: Write enqueues.
//  2. closing: Close was called; Write refuses new entries with ErrClosed,
//     and Close waits, up to CloseTimeout, for what was written to settle.
//  3. draining: Close closed stop; the batcher makes its final pass over the
//     buffer. An entry committed after that pass began may be missed by it:
//     its Write waits for drained and reports it dropped if it lies beyond
//     finalTail.
//  4. stopped: the batcher, the replay and the posters have returned (the
//     posters give up their retries at Close's deadline through abort).
type lifecycle struct {
	closing  atomic.Bool
	draining atomic.Bool
	// drained is closed when the final pass is over; finalTail, the buffer
	// position it reached, is set before.
	drained   chan struct{}
	finalTail uint64

	stop      chan struct{}   // closed by Close: the batcher's final pass
	abortCtx  context.Context // done at Close's deadline: posters stop retrying
	abort     context.CancelFunc
	batcherWG sync.WaitGroup // the batcher and the spool replay
	postersWG sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

func newLifecycle() *lifecycle {
	l := &lifecycle{drained: make(chan struct{}), stop: make(chan struct{})}
	l.abortCtx, l.abort = context.WithCancel(context.Background())
	return l
}

// missedByFinalPass reports whether an entry that ends at buffer position
// end, committed after its Write saw closing false, was left behind by the
// batcher's final pass. It waits for that pass when it is under way.
func (l *lifecycle) missedByFinalPass(end uint64) bool {
	if !l.draining.Load() {
		return false
	}
	<-l.drained
	return end > l.finalTail
}

// finalTarget bounds a Sync's target after the final pass: entries beyond
// it were reported dropped by their Write and will never be sent.
func (l *lifecycle) finalTarget(target uint64) uint64 {
	select {
	case <-l.drained:
		return min(target, l.finalTail)
	default:
		return target
	}
}
