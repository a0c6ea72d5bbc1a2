// Package ring is the bounded, lock-free, many-producer single-consumer byte
// buffer between zapsls's callers and its sender goroutine. Its memory
// follows the backlog: it is taken in segments as records wait and given
// back once the consumer has taken them; the capacity is a cap, never an
// allocation.
//
// Records are variable-length byte strings. A producer reserves space with
// one compare-and-swap on the head cursor, copies its record in, and commits
// it by storing the record's header word atomically; no mutex, no channel
// send and no allocation happen on that path. The single consumer reads
// committed records in order from the tail, many at a time, and advances the
// tail.
//
// # Layout
//
// Positions are byte offsets that only grow. A record is an 8-byte header
// (its length in bits 0-31, bit 32 set as the commit mark, its tag in bits
// 33-63) followed by the record bytes, padded to a multiple of 8. Position p lives in segment number
// p/SegmentSize, at offset p%SegmentSize; segment number s is held in slot
// s%len(table) of a table of atomic pointers. The segment size is a power of
// two and a multiple of 8 and every record starts on an 8-byte boundary, so
// a header never straddles two segments; a record's bytes may span any
// number of them, and are copied in pieces, one per segment.
//
// The table has room for cap/SegmentSize+2 segments, rounded up to a power
// of two, so the segments of every position between the tail and the head
// have slots of their own: a producer that may reserve up to position p has
// seen a tail above p-cap, and the segment that used p's slot before lies
// wholly below that tail.
//
// # Memory
//
// The first producer that reserves bytes in a segment installs one (a
// spare, or newly mapped) in its slot with a compare-and-swap; a producer
// that loses the race puts its segment back. When the consumer moves the
// tail past the end of a segment it empties the slot, zeroes the segment
// and puts it in the spare list, and only then publishes the new tail; no
// producer can still be writing into it, since its records were all
// committed and consumed, and none can reserve into its slot again before
// it sees that tail. Every segment number is used once, so a zeroed
// segment never holds a stale header. Taking and putting segments go
// through a mutex, once per segment (64 KiB of records), never per record.
//
// Spares are given back by a trim, every second while there are more than
// keepSpares (16, 1 MiB): it keeps the spares that the peak use of the
// last second needed, and frees the others. So a backlog that drains and
// refills, as in a burst that keeps the ring at its cap, reuses its memory
// instead of unmapping and faulting it in again (that churn made 200-byte
// records 3x slower in BenchmarkQueue); steady traffic keeps the memory of
// its peak warm (the sender lingers up to a second between batches: at
// 2,000 entries/s of 550 bytes, about 17 segments); and a backlog that is
// gone is given back within two seconds, but for keepSpares segments.
//
// Segments are anonymous private memory mappings (mmap), outside the Go
// heap, unmapped when given back, on every Unix; elsewhere, and if mmap
// fails, they are Go heap memory. What a ring holds when it becomes
// unreachable is unmapped by a cleanup (a Writer's Write may still copy into
// the ring after Close, so nothing unmaps it earlier).
//
// Measured with BenchmarkBacklogMemory on a 2-core VM (Linux, Go 1.26), two
// runs each: a 64 MiB backlog of 550-byte records while the program makes
// 200 MB of short-lived garbage, RSS over the process's start:
//
//	                                 mmap segments    Go heap segments
//	peak, backlog and garbage        +77 to +81 MiB   +130 to +159 MiB
//	3 s after the drain              +7 to +18 MiB    +130 to +159 MiB
//	then 5 s after a GC              +6 to +7 MiB     +123 to +146 MiB
//	filling fresh memory, per record 394-546 ns       287-1109 ns
//
// Live heap segments raise the GC's heap goal, so the application's garbage
// grows by about the backlog, and once given back they leave the process
// only when the scavenger returns their pages; mapped segments cost
// neither. Unmapping costs about 15-30 µs per segment, paid by the trim
// after a backlog is gone. See README.md, "Memory".
package ring

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	headerSize = 8
	commitBit  = 1 << 32
	tagShift   = 33 // a record's tag is kept above its length and commit bit

	// MaxTag is the largest tag a record can carry.
	MaxTag = 1<<(64-tagShift) - 1

	// SegmentSize is the size of the ring's memory segments in bytes.
	SegmentSize = 64 << 10
	// minCapacity is the smallest capacity New accepts.
	minCapacity = 4096
)

// Ring is safe for any number of concurrent producers (Write, TryWrite) and
// one consumer (Drain, ArmWake, Disarm, Committed, Wakeup).
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

	capacity uint64
	segShift uint
	segMask  uint64 // segment size - 1
	slotMask uint64
	table    []atomic.Pointer[segment]
	pool     *pool

	wake chan struct{} // capacity 1: the consumer's doorbell

	// Producers blocked on a full ring wait for the consumer to release
	// space. The mutex is taken only on that slow path.
	waiting  atomic.Int32
	spaceMu  sync.Mutex
	spaceCh  chan struct{} // closed and replaced whenever space is released
	closed   chan struct{}
	closeOne sync.Once
}

// New returns a ring that holds at most capacity bytes of records and
// headers (rounded up to a multiple of 8; at least 4 KiB). It allocates only
// its segment table (8 bytes per SegmentSize of capacity); memory for
// records is taken in SegmentSize pieces as they wait, and given back after
// Drain has passed them (see Memory in the package doc). What the ring
// still holds is unmapped once it is unreachable.
func New(capacity int) *Ring { return newRing(capacity, SegmentSize) }

// newRing is New with another segment size (a power of two, at least 64),
// for tests of segment boundaries.
func newRing(capacity, segSize int) *Ring {
	c := max(uint64(capacity+7)&^7, minCapacity)
	shift := uint(0)
	for 1<<shift < segSize {
		shift++
	}
	if 1<<shift != segSize || segSize < 64 {
		panic("ring: segment size must be a power of two, at least 64")
	}
	slots := uint64(1)
	for slots < c/uint64(segSize)+2 {
		slots <<= 1
	}
	r := &Ring{
		capacity: c,
		segShift: shift,
		segMask:  uint64(segSize) - 1,
		slotMask: slots - 1,
		table:    make([]atomic.Pointer[segment], slots),
		pool:     &pool{segSize: segSize, trimEvery: trimEvery},
		wake:     make(chan struct{}, 1),
		spaceCh:  make(chan struct{}),
		closed:   make(chan struct{}),
	}
	r.wakeAt.Store(^uint64(0))
	runtime.AddCleanup(r, freeSegments, segments{r.table, r.pool})
	return r
}

// MaxRecord is the largest record the ring can ever hold.
func (r *Ring) MaxRecord() int { return int(r.capacity) - headerSize }

// Head is the position after the last reserved record. Every record whose
// Write returned before a call to Head lies before it.
func (r *Ring) Head() uint64 { return r.head.Load() }

// Used is the number of bytes reserved and not yet released.
func (r *Ring) Used() uint64 { return r.head.Load() - r.tail.Load() }

// Held is the number of bytes of memory the ring holds now: segments in use
// and spare ones. Safe to call from any goroutine.
func (r *Ring) Held() int64 { return r.pool.held.Load() }

func recordSize(n int) uint64 { return headerSize + (uint64(n)+7)&^7 }

// seg returns the segment holding position pos, nil if none is installed.
func (r *Ring) seg(pos uint64) *segment {
	return r.table[(pos>>r.segShift)&r.slotMask].Load()
}

// install returns the segment for position pos, installing one if no
// producer has yet. Only a producer that reserved bytes in that segment may
// call it.
func (r *Ring) install(pos uint64) *segment {
	slot := &r.table[(pos>>r.segShift)&r.slotMask]
	if s := slot.Load(); s != nil {
		return s
	}
	return r.installSlow(slot)
}

// installSlow installs a segment in slot, unless another producer has.
func (r *Ring) installSlow(slot *atomic.Pointer[segment]) *segment {
	s := r.pool.take()
	if slot.CompareAndSwap(nil, s) {
		return s
	}
	r.pool.put(s) // another producer installed one first; s is still zero
	return slot.Load()
}

// header returns the header word at pos (a multiple of 8) in s.
func (r *Ring) header(s *segment, pos uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(&s.mem[pos&r.segMask]))
}

// TryWrite copies p into the ring as one record carrying tag (at most
// MaxTag; Drain hands it back), or returns false at once if it does not fit
// now. p must be non-empty and at most MaxRecord bytes. The returned
// position is the end of the record.
func (r *Ring) TryWrite(tag uint32, p []byte) (end uint64, ok bool) {
	need := recordSize(len(p))
	pos, ok := r.reserve(need)
	if !ok {
		return 0, false
	}
	r.commit(r.fill(pos, p), pos, len(p), tag)
	r.ringIfAsked()
	return pos + need, true
}

// ringIfAsked rings the doorbell if the consumer asked for it and the bytes
// in use reached its threshold: the last step of TryWrite. wakeAt first:
// while the consumer is awake it is MaxUint64 and the cursors are not read
// at all. Then the bytes in use, not this record's end: records commit out
// of order, and the last to commit must ring even if it lies before the
// threshold.
func (r *Ring) ringIfAsked() {
	if at := r.wakeAt.Load(); at != ^uint64(0) && r.Used() >= at {
		r.Notify()
	}
}

// reserve claims need bytes at the head: the first step of TryWrite.
func (r *Ring) reserve(need uint64) (pos uint64, ok bool) {
	for {
		// The tail first: read after the head, a tail that moved past
		// pos+need in between would make the subtraction wrap.
		tail := r.tail.Load()
		pos = r.head.Load()
		if pos+need-tail > r.capacity {
			return 0, false
		}
		if r.head.CompareAndSwap(pos, pos+need) {
			return pos, true
		}
	}
}

// fill copies p into the record reserved at pos, and returns the segment
// holding its header. The region is ours: its segments are zero where no
// record was ever written, and the consumer reads the header only after
// commit.
func (r *Ring) fill(pos uint64, p []byte) *segment {
	first := r.seg(pos)
	if first == nil {
		first = r.install(pos)
	}
	data := pos + headerSize
	if off := data & r.segMask; off != 0 && uint64(len(p)) <= r.segMask+1-off {
		copy(first.mem[off:], p)
	} else {
		// The record starts in or goes on into the next segments (the
		// header never straddles: positions and the segment size are
		// multiples of 8).
		r.copySlow(data, p)
	}
	return first
}

// commit publishes the record of n bytes with tag at pos, whose header is
// in s.
func (r *Ring) commit(s *segment, pos uint64, n int, tag uint32) {
	atomic.StoreUint64(r.header(s, pos), uint64(tag)<<tagShift|commitBit|uint64(n))
}

// copySlow copies p to position pos and on over as many segments as it
// needs, installing them.
func (r *Ring) copySlow(pos uint64, p []byte) {
	for len(p) > 0 {
		n := copy(r.install(pos).mem[pos&r.segMask:], p)
		pos, p = pos+uint64(n), p[n:]
	}
}

// Write is TryWrite that waits while the ring is full, until Close or until
// timeout passes without the consumer releasing any space (no wait if
// timeout <= 0). Counting only time without progress keeps a busy but
// moving consumer from timing out writers that lose the race for space to
// others. It reports whether p was written.
func (r *Ring) Write(tag uint32, p []byte, timeout time.Duration) (end uint64, ok bool) {
	if end, ok = r.TryWrite(tag, p); ok || timeout <= 0 {
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
		if end, ok = r.TryWrite(tag, p); ok {
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
	if t == r.head.Load() {
		return false
	}
	s := r.seg(t)
	return s != nil && atomic.LoadUint64(r.header(s, t)) != 0
}

// Record is one committed record, as Drain hands it to its callback; it is
// valid only during that call.
type Record struct {
	r   *Ring
	s   *segment // the segment holding data
	pos uint64   // the record's position: that of its header
	n   int
	tag uint32
}

// Pos is the record's position: every record written after it lies after
// it, and the tail passes it once it is consumed.
func (rec Record) Pos() uint64 { return rec.pos }

// Tag is the tag the record was written with.
func (rec Record) Tag() uint32 { return rec.tag }

// Len is the record's length in bytes.
func (rec Record) Len() int { return rec.n }

// AppendTo appends the record's bytes to dst and returns the result.
func (rec Record) AppendTo(dst []byte) []byte {
	data := rec.pos + headerSize
	off := data & rec.r.segMask
	if end := off + uint64(rec.n); end <= uint64(len(rec.s.mem)) {
		return append(dst, rec.s.mem[off:end]...) // the common case: one piece
	}
	dst = append(dst, rec.s.mem[off:]...)
	pos, n := data+uint64(len(rec.s.mem))-off, rec.n-(len(rec.s.mem)-int(off))
	for n > 0 {
		k := min(n, len(rec.s.mem))
		dst = append(dst, rec.r.seg(pos).mem[:k]...)
		pos, n = pos+uint64(k), n-k
	}
	return dst
}

// Drain passes committed records to fn in order, starting at the tail, until
// it reaches one not yet committed, the head, or fn returns false (that
// record is not consumed). Drain then releases the consumed space, giving
// back every segment the tail has passed, and returns the new tail
// position. Only the consumer may call it.
func (r *Ring) Drain(fn func(rec Record) bool) uint64 {
	start := r.tail.Load()
	pos := start
	head := r.head.Load()
	for pos != head {
		s := r.seg(pos)
		if s == nil {
			break // reserved, its segment not yet installed
		}
		hdr := atomic.LoadUint64(r.header(s, pos))
		if hdr == 0 {
			break // reserved, not yet committed
		}
		n := int(uint32(hdr))
		data := pos + headerSize
		if data&r.segMask == 0 {
			s = r.seg(data) // the header ends its segment
		}
		if !fn(Record{r: r, s: s, pos: pos, n: n, tag: uint32(hdr >> tagShift)}) {
			break
		}
		pos += recordSize(n)
	}
	if pos != start {
		r.release(start, pos)
	}
	return pos
}

// release gives back the segments wholly in [from, to), then hands the
// space to producers.
func (r *Ring) release(from, to uint64) {
	for n := from >> r.segShift; (n+1)<<r.segShift <= to; n++ {
		slot := &r.table[n&r.slotMask]
		if s := slot.Swap(nil); s != nil {
			clear(s.mem)
			r.pool.put(s)
		}
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

// free gives back all the ring's memory, for tests: nothing may use the
// ring afterwards.
func (r *Ring) free() { freeSegments(segments{r.table, r.pool}) }

// segments are a ring's segment table and pool, freed by a cleanup once the
// ring is unreachable. The ring cannot free them earlier: a Writer's Write
// may still be copying into the ring after Close.
type segments struct {
	table []atomic.Pointer[segment]
	pool  *pool
}

func freeSegments(m segments) {
	var installed []*segment
	for i := range m.table {
		if s := m.table[i].Swap(nil); s != nil {
			installed = append(installed, s)
		}
	}
	m.pool.release(installed)
}
