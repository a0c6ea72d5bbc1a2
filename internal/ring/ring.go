// Package ring is the bounded, lock-free, many-producer single-consumer byte
// ring between zapsls's callers and its sender goroutine.
//
// Records are variable-length byte strings. A producer reserves space with
// one compare-and-swap on the head cursor, copies its record in, and commits
// it by storing the record's header word atomically; no mutex, no channel
// send and no allocation happen on that path. The single consumer reads
// committed records in order from the tail, many at a time, zeroes what it
// consumed and advances the tail.
//
// Layout: a record is an 8-byte header (its length, with bit 32 set as the
// commit mark) followed by the record bytes, padded to a multiple of 8. The
// memory is a []uint64, so headers are aligned words read and written with
// sync/atomic, and positions are byte offsets that only grow (the index into
// memory is position & mask). A record may wrap around the end of memory; the
// header never does, since every record starts on an 8-byte boundary and the
// capacity is a power of two.
package ring

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	headerSize = 8
	commitBit  = 1 << 32
)

// Ring is safe for any number of concurrent producers (Write, TryWrite) and
// one consumer (Drain, ArmWake, Wakeup).
type Ring struct {
	_    [64]byte
	head atomic.Uint64 // next position to reserve; written by producers
	_    [56]byte
	tail atomic.Uint64 // first position not yet released; written by the consumer
	_    [56]byte
	// wakeAt is the consumer's request: wake me when the bytes in use reach
	// this. math.MaxUint64 while it is awake.
	wakeAt atomic.Uint64
	_      [56]byte

	words []uint64
	mem   []byte // the same memory as words
	mask  uint64

	wake chan struct{} // capacity 1: the consumer's doorbell

	// Producers blocked on a full ring wait for the consumer to release
	// space. The mutex is taken only on that slow path.
	waiting  atomic.Int32
	spaceMu  sync.Mutex
	spaceCh  chan struct{} // closed and replaced whenever space is released
	closed   chan struct{}
	closeOne sync.Once
}

// New returns a ring of at least capacity bytes (rounded up to a power of
// two, minimum 4 KiB).
func New(capacity int) *Ring {
	size := uint64(4096)
	for size < uint64(capacity) {
		size <<= 1
	}
	words := make([]uint64, size/8)
	// Touch every page now, so that producers on the first lap do not pay
	// the page faults (measured at about a third of the cost of an entry on
	// a virtual machine); the ring becomes resident after one lap anyway.
	for i := 0; i < len(words); i += 512 {
		words[i] = 0
	}
	r := &Ring{
		words:   words,
		mem:     unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), size),
		mask:    size - 1,
		wake:    make(chan struct{}, 1),
		spaceCh: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	r.wakeAt.Store(^uint64(0))
	return r
}

// Cap is the ring's size in bytes.
func (r *Ring) Cap() int { return len(r.mem) }

// MaxRecord is the largest record the ring can ever hold.
func (r *Ring) MaxRecord() int { return len(r.mem) - headerSize }

// Head is the position after the last reserved record. Every record whose
// Write returned before a call to Head lies before it.
func (r *Ring) Head() uint64 { return r.head.Load() }

// Used is the number of bytes reserved and not yet released.
func (r *Ring) Used() uint64 { return r.head.Load() - r.tail.Load() }

func recordSize(n int) uint64 { return headerSize + (uint64(n)+7)&^7 }

// TryWrite copies p into the ring as one record, or returns false at once if
// it does not fit now. p must be non-empty and at most MaxRecord bytes. The
// returned position is the end of the record.
func (r *Ring) TryWrite(p []byte) (end uint64, ok bool) {
	need := recordSize(len(p))
	capacity := uint64(len(r.mem))
	var pos uint64
	for {
		// The tail first: read after the head, a tail that moved past
		// pos+need in between would make the subtraction wrap.
		tail := r.tail.Load()
		pos = r.head.Load()
		if pos+need-tail > capacity {
			return 0, false
		}
		if r.head.CompareAndSwap(pos, pos+need) {
			break
		}
	}
	// The region [pos, pos+need) is ours: the consumer zeroed it before
	// releasing it, and it reads the header only after we commit it.
	data := (pos + headerSize) & r.mask
	n := copy(r.mem[data:], p)
	copy(r.mem, p[n:]) // the part that wraps around, if any
	atomic.StoreUint64(&r.words[(pos&r.mask)/8], commitBit|uint64(len(p)))

	end = pos + need
	// wakeAt first: while the consumer is awake it is MaxUint64 and the
	// cursors are not read at all. Then the bytes in use, not this
	// record's end: records commit out of order, and the last to commit
	// must ring even if it lies before the threshold.
	if at := r.wakeAt.Load(); at != ^uint64(0) && r.Used() >= at {
		r.Notify()
	}
	return end, true
}

// Write is TryWrite that waits while the ring is full, until Close or until
// timeout passes without the consumer releasing any space (no wait if
// timeout <= 0). Counting only time without progress keeps a busy but
// moving consumer from timing out writers that lose the race for space to
// others. It reports whether p was written.
func (r *Ring) Write(p []byte, timeout time.Duration) (end uint64, ok bool) {
	if end, ok = r.TryWrite(p); ok || timeout <= 0 {
		return end, ok
	}
	var timer *time.Timer
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	for {
		r.spaceMu.Lock()
		space := r.spaceCh
		r.spaceMu.Unlock()
		// Retry after taking the channel: space released from now on
		// closes it.
		if end, ok = r.TryWrite(p); ok {
			break
		}
		r.Notify() // the consumer may be lingering: it must drain now
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		select {
		case <-space:
			timer.Reset(timeout) // progress: the wait starts over
		case <-timer.C:
			return 0, false
		case <-r.closed:
			return 0, false
		}
	}
	return end, ok
}

// Notify rings the consumer's doorbell if it is waiting.
func (r *Ring) Notify() {
	if r.wakeAt.Swap(^uint64(0)) != ^uint64(0) {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// ArmWake asks producers to ring the doorbell once the bytes in use reach
// threshold (0: on the next record). It returns false, disarmed, if that is
// already the case, so the consumer must not wait.
func (r *Ring) ArmWake(threshold uint64) bool {
	r.wakeAt.Store(threshold)
	if r.Used() >= threshold && r.Committed() {
		r.wakeAt.Store(^uint64(0))
		return false
	}
	return true
}

// Disarm stops producers from ringing; the consumer calls it when it wakes
// for another reason.
func (r *Ring) Disarm() { r.wakeAt.Store(^uint64(0)) }

// Wakeup is the doorbell the consumer waits on after ArmWake.
func (r *Ring) Wakeup() <-chan struct{} { return r.wake }

// Committed reports whether the record at the tail is committed, that is
// whether Drain would return something now.
func (r *Ring) Committed() bool {
	t := r.tail.Load()
	return t != r.head.Load() && atomic.LoadUint64(&r.words[(t&r.mask)/8]) != 0
}

// Drain passes committed records to fn in order, starting at the tail, until
// it reaches one not yet committed, the head, or fn returns false (that
// record is not consumed). pos is the record's position; a and b are its
// bytes (b non-empty only when the record wraps), valid only during the
// call. Drain then releases the consumed space and returns the new tail
// position. Only the consumer may call it.
func (r *Ring) Drain(fn func(pos uint64, a, b []byte) bool) uint64 {
	start := r.tail.Load()
	pos := start
	head := r.head.Load()
	for pos != head {
		hdr := atomic.LoadUint64(&r.words[(pos&r.mask)/8])
		if hdr == 0 {
			break // reserved, not yet committed
		}
		n := uint64(uint32(hdr))
		data := (pos + headerSize) & r.mask
		var a, b []byte
		if data+n <= uint64(len(r.mem)) {
			a = r.mem[data : data+n]
		} else {
			a, b = r.mem[data:], r.mem[:data+n-uint64(len(r.mem))]
		}
		if !fn(pos, a, b) {
			break
		}
		pos += recordSize(int(n))
	}
	if pos != start {
		r.release(start, pos)
	}
	return pos
}

// release zeroes [from, to) so that stale bytes are never read as a
// committed header, then hands the space back to producers.
func (r *Ring) release(from, to uint64) {
	i, j := from&r.mask, to&r.mask
	if i < j {
		clear(r.words[i/8 : j/8])
	} else {
		clear(r.words[i/8:])
		clear(r.words[:j/8])
	}
	r.tail.Store(to)
	if r.waiting.Load() > 0 {
		r.spaceMu.Lock()
		close(r.spaceCh)
		r.spaceCh = make(chan struct{})
		r.spaceMu.Unlock()
	}
}

// Tail is the position up to which records have been consumed.
func (r *Ring) Tail() uint64 { return r.tail.Load() }

// Close wakes every blocked producer; their Write returns false. Records
// already written stay readable.
func (r *Ring) Close() {
	r.closeOne.Do(func() { close(r.closed) })
}
