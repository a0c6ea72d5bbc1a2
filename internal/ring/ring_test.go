package ring

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// -ring.stress runs the concurrent tests for longer (about a minute each
// under -race), to catch rare orderings such as a record published before
// its bytes are copied in:
//
//	go test -race -run 'Concurrent|Randomized' ./internal/ring -ring.stress
//
// -ring.seed reruns the randomized interleaving test with one seed only.
var (
	stress   = flag.Bool("ring.stress", false, "run the concurrent ring tests for longer")
	seedFlag = flag.Uint64("ring.seed", 0, "run TestRingRandomizedInterleavings with this seed only")
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memories runs f for each kind of segment memory: mapped where the
// system allows it, and Go heap.
func memories(t *testing.T, f func(t *testing.T, heap bool)) {
	t.Run("mmap", func(t *testing.T) { f(t, false) })
	t.Run("heap", func(t *testing.T) { f(t, true) })
}

// testRing is newRing that checks, when the test ends, that the memory
// it holds is what Held says.
func testRing(t *testing.T, capacity, segSize int, heap bool) *Ring {
	r := newRing(capacity, segSize)
	r.pool.heap = heap
	t.Cleanup(func() {
		r.free()
		assert.Zero(t, r.Held(), "memory held after free")
	})
	return r
}

// fillPattern fills p with bytes that depend on seed and on their index,
// so that a record moved, cut or mixed with another is noticed.
func fillPattern(p []byte, seed uint32) {
	for j := range p {
		p[j] = byte(seed*131 + uint32(j)*7 + uint32(j>>8))
	}
}

func checkPattern(t *testing.T, p []byte, seed uint32, n int) {
	t.Helper()
	require.Len(t, p, n, "record %d", seed)
	for j := range p {
		if p[j] != byte(seed*131+uint32(j)*7+uint32(j>>8)) {
			t.Fatalf("record %d (%d bytes): corrupt byte %d", seed, n, j)
		}
	}
}

func drainAll(r *Ring) [][]byte {
	var out [][]byte
	r.Drain(func(rec Record) bool {
		out = append(out, rec.AppendTo(nil))
		return true
	})
	return out
}

// sparesHeld is the memory in the spare list.
func sparesHeld(r *Ring) int64 {
	r.pool.mu.Lock()
	defer r.pool.mu.Unlock()
	n := int64(0)
	for _, s := range r.pool.spares {
		n += int64(len(s.mem))
	}
	return n
}

// installedHeld is the memory installed in the table.
func installedHeld(r *Ring) int64 {
	n := int64(0)
	for i := range r.table {
		if s := r.table[i].Load(); s != nil {
			n += int64(len(s.mem))
		}
	}
	return n
}

// checkHeld asserts that the ring's own accounting of memory matches the
// segments it holds, and that it holds no more than the segments spanning
// [tail, head) and its spare list.
func checkHeld(t *testing.T, r *Ring) {
	t.Helper()
	seg := int64(r.segMask + 1)
	require.Equal(t, installedHeld(r)+sparesHeld(r), r.Held(), "Held matches the segments in the table and the spare list")
	// The segments from the one holding the tail to the one holding the
	// last byte before the head.
	tail, head := r.Tail(), r.Head()
	spanned := int64((head+r.segMask)>>r.segShift-tail>>r.segShift) * seg
	require.LessOrEqual(t, installedHeld(r), spanned, "segments installed outside [tail, head)")
	r.pool.mu.Lock()
	inUse := r.pool.inUse
	r.pool.mu.Unlock()
	require.Equal(t, installedHeld(r), int64(inUse)*seg, "the pool counts the segments in the table")
}

func TestRingOrderAndWrap(t *testing.T) {
	memories(t, func(t *testing.T, heap bool) {
		r := testRing(t, 4096, 64, heap)
		// Records of varying sizes, around the segment table many times.
		var want [][]byte
		seq := uint32(0)
		for lap := 0; lap < 200; lap++ {
			for i := 1; i <= 5; i++ {
				p := make([]byte, (lap*37+i*101)%900+1)
				fillPattern(p, seq)
				seq++
				_, ok := r.TryWrite(0, p)
				require.True(t, ok)
				want = append(want, p)
			}
			checkHeld(t, r)
			got := drainAll(r)
			require.Equal(t, want, got)
			want = want[:0]
			require.Zero(t, r.Used())
			checkHeld(t, r)
		}
		tableSpan := uint64(len(r.table)) * (r.segMask + 1)
		require.Greater(t, r.Tail(), 20*tableSpan, "positions wrapped around the table many times")
	})
}

func TestRingFullAndRelease(t *testing.T) {
	r := testRing(t, 4096, 1024, false)
	p := make([]byte, 1000) // 1008 bytes a record
	for i := 0; i < 4; i++ {
		_, ok := r.TryWrite(0, p)
		require.True(t, ok, "record %d", i)
	}
	_, ok := r.TryWrite(0, p)
	assert.False(t, ok, "the fifth record does not fit")

	// Stop after the first record: only it is released.
	n := 0
	r.Drain(func(Record) bool { n++; return n == 1 })
	_, ok = r.TryWrite(0, p)
	assert.True(t, ok, "space released by Drain is reusable")
	assert.Equal(t, 4096-8, r.MaxRecord())
	_, ok = r.TryWrite(0, make([]byte, 4096-7))
	assert.False(t, ok)
}

func TestRingCapacityRounding(t *testing.T) {
	assert.Equal(t, 4096-8, New(1).MaxRecord(), "at least 4 KiB")
	r := New(10001)
	assert.Equal(t, 10008-8, r.MaxRecord(), "rounded up to a multiple of 8")
	_, ok := r.TryWrite(0, make([]byte, r.MaxRecord()))
	assert.True(t, ok, "a record of MaxRecord bytes fits")
	r.free()
	assert.Panics(t, func() { newRing(4096, 100) })
	assert.Equal(t, int64(0), New(64<<20).Held(), "nothing held before the first record")
}

// TestRingEverySize writes records of every size up to the maximum, each
// starting at another offset in its segment, and reads them back.
func TestRingEverySize(t *testing.T) {
	memories(t, func(t *testing.T, heap bool) {
		r := testRing(t, 4096, 64, heap)
		for n := 1; n <= r.MaxRecord(); n++ {
			writeAfterFiller(t, r, n%64+1, n)
		}
	})
	// With the real segment size: around one, two and three segments, and
	// the maximum, again at moving offsets.
	r := testRing(t, 4*SegmentSize, SegmentSize, false)
	i := 0
	for _, around := range []int{SegmentSize, 2 * SegmentSize, 3 * SegmentSize, r.MaxRecord() - 24} {
		for n := around - 24; n <= around+24 && n <= r.MaxRecord(); n++ {
			writeAfterFiller(t, r, (i*8)%SegmentSize+1, n)
			i++
		}
	}
}

// writeAfterFiller writes a filler record of fill bytes, when both fit, so
// that the next record starts at another offset, then a record of n bytes,
// and checks what Drain returns.
func writeAfterFiller(t *testing.T, r *Ring, fill, n int) {
	t.Helper()
	want := 1
	if recordSize(fill)+recordSize(n) <= r.capacity {
		_, ok := r.TryWrite(0, make([]byte, fill))
		require.True(t, ok)
		want++
	}
	p := make([]byte, n)
	fillPattern(p, uint32(n))
	_, ok := r.TryWrite(0, p)
	require.True(t, ok, "%d bytes", n)
	got := drainAll(r)
	require.Len(t, got, want)
	checkPattern(t, got[want-1], uint32(n), n)
	checkHeld(t, r)
}

// TestRingSegmentBoundaries places headers and records on and across the
// edges of segments and checks which segments are held.
func TestRingSegmentBoundaries(t *testing.T) {
	const seg = 64
	r := testRing(t, 4096, seg, false)
	write := func(n int, seed uint32) {
		t.Helper()
		p := make([]byte, n)
		fillPattern(p, seed)
		_, ok := r.TryWrite(0, p)
		require.True(t, ok)
	}

	// A record that ends exactly at the end of segment 0: the consumer
	// passes the segment, which goes to the spare list.
	write(seg-headerSize, 1)
	assert.Equal(t, int64(seg), r.Held())
	got := drainAll(r)
	checkPattern(t, got[0], 1, seg-headerSize)
	assert.Equal(t, uint64(seg), r.Tail())
	assert.Nil(t, r.seg(0), "segment 0 left the table")
	assert.Equal(t, int64(seg), sparesHeld(r), "and waits in the spare list, zeroed")
	for _, b := range r.pool.spares[0].mem {
		require.Zero(t, b)
	}

	// A header in the last word of segment 1, its bytes in segment 2.
	write(seg-2*headerSize, 2) // [64, 120)
	write(40, 3)               // header at [120, 128), bytes from 128
	assert.Equal(t, uint64(128+40), r.Head())
	assert.Equal(t, int64(2*seg), r.Held(), "segment 1 from the spare list, segment 2 new")
	assert.Zero(t, sparesHeld(r))
	got = drainAll(r)
	checkPattern(t, got[0], 2, seg-2*headerSize)
	checkPattern(t, got[1], 3, 40)
	checkHeld(t, r)

	// A record over three segments and a bit of a fourth.
	pos := r.Head() // 168, in segment 2
	write(3*seg, 4)
	assert.Equal(t, pos+recordSize(3*seg), r.Head())
	checkHeld(t, r)
	assert.Equal(t, int64(4*seg), r.Held(), "segments 2 to 5, one of them from the spare list")
	assert.Zero(t, sparesHeld(r))
	got = drainAll(r)
	checkPattern(t, got[0], 4, 3*seg)
	checkHeld(t, r)
}

func TestRingUncommittedStopsDrain(t *testing.T) {
	r := testRing(t, 4096, 64, false)
	// Reserve by hand without committing, then write a committed record
	// after it: Drain must not skip the gap.
	pos, ok := r.reserve(recordSize(10))
	require.True(t, ok)
	r.install(pos)
	_, ok = r.TryWrite(0, []byte("after"))
	require.True(t, ok)
	assert.False(t, r.Committed())
	assert.Empty(t, drainAll(r))

	// A reservation whose segment is not installed yet stops Drain too.
	r2 := testRing(t, 4096, 64, false)
	_, ok = r2.reserve(64)
	require.True(t, ok)
	_, ok = r2.TryWrite(0, []byte("after"))
	require.True(t, ok)
	assert.False(t, r2.Committed())
	assert.Empty(t, drainAll(r2))
}

// waitWaiting waits until n producers are blocked in Write.
func waitWaiting(t *testing.T, r *Ring, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d producers waiting, want %d", r.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRingBlockingWrite(t *testing.T) {
	r := testRing(t, 4096, 256, false)
	p := make([]byte, 2000)
	_, ok := r.TryWrite(0, p)
	require.True(t, ok)
	_, ok = r.TryWrite(0, p)
	require.True(t, ok)

	// Times out while nobody drains.
	_, ok = r.Write(0, p, 20*time.Millisecond)
	assert.False(t, ok)

	// A consumer lingering with a high threshold is woken by the blocked
	// writer, and the writer succeeds once the consumer releases space.
	require.True(t, r.ArmWake(1<<40))
	done := make(chan bool)
	go func() {
		_, ok := r.Write(0, p, 5*time.Second)
		done <- ok
	}()
	select {
	case <-r.Wakeup():
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked writer must wake the consumer")
	}
	waitWaiting(t, r, 1)
	drainAll(r)
	assert.True(t, <-done)
	checkHeld(t, r)
}

func TestRingCloseWakesWaiters(t *testing.T) {
	r := testRing(t, 4096, 256, false)
	_, ok := r.TryWrite(0, make([]byte, 3000))
	require.True(t, ok)
	const waiters = 4
	done := make(chan bool, waiters)
	for i := 0; i < waiters; i++ {
		go func() {
			_, ok := r.Write(0, make([]byte, 3000), time.Minute)
			done <- ok
		}()
	}
	waitWaiting(t, r, waiters)
	r.Close()
	for i := 0; i < waiters; i++ {
		select {
		case ok := <-done:
			assert.False(t, ok, "Write reports a record it did not write")
		case <-time.After(10 * time.Second):
			t.Fatal("Close must wake every blocked producer")
		}
	}
	// What was written before Close stays readable.
	assert.Len(t, drainAll(r), 1)
	_, ok = r.Write(0, make([]byte, 10), time.Minute)
	assert.True(t, ok, "a ring with room still takes records after Close")
}

func TestRingWakeThreshold(t *testing.T) {
	r := testRing(t, 1<<16, 1024, false)
	require.True(t, r.ArmWake(0))
	r.TryWrite(0, []byte("x"))
	select {
	case <-r.Wakeup():
	default:
		t.Fatal("first record after ArmWake(0) rings")
	}
	drainAll(r)
	require.True(t, r.ArmWake(1000))
	r.TryWrite(0, make([]byte, 100))
	select {
	case <-r.Wakeup():
		t.Fatal("below the threshold: no ring")
	default:
	}
	r.TryWrite(0, make([]byte, 1000))
	select {
	case <-r.Wakeup():
	default:
		t.Fatal("above the threshold: ring")
	}
	assert.False(t, r.ArmWake(0), "committed data: do not wait")
}

// TestRingMemoryReturned fills the ring to its cap with bursts of many
// producers and drains it, and checks on the ring's own accounting that a
// burst that follows reuses the memory, and that once the bursts stop the
// memory comes back, but for keepSpares segments.
func TestRingMemoryReturned(t *testing.T) {
	memories(t, func(t *testing.T, heap bool) {
		const capacity = 64 * SegmentSize // 4 MiB
		r := testRing(t, capacity, SegmentSize, heap)
		r.pool.trimEvery = 20 * time.Millisecond
		require.Zero(t, r.Held(), "no memory before the first record")

		firstHeld := int64(0)
		for burst := 0; burst < 3; burst++ {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					p := make([]byte, 1000+g*8)
					for {
						if _, ok := r.TryWrite(0, p); !ok {
							return // full
						}
					}
				}(g)
			}
			wg.Wait()
			full := r.Used()
			require.Greater(t, full, uint64(capacity-4*1024), "burst %d filled the ring", burst)
			require.GreaterOrEqual(t, r.Held(), int64(full), "burst %d: the backlog is held", burst)
			// A producer that loses the race to install a segment puts
			// its own back as a spare, and meanwhile another may find
			// none: at most a segment more per producer than the
			// segments spanning the backlog.
			const races = 4 * SegmentSize
			if burst == 0 {
				firstHeld = r.Held()
				require.LessOrEqual(t, firstHeld, int64(capacity+SegmentSize+races), "the segments spanning the backlog")
			} else {
				require.LessOrEqual(t, r.Held(), firstHeld+races, "burst %d reuses the memory of the first", burst)
			}
			checkHeld(t, r)
			drainAll(r)
			require.Zero(t, r.Used())
			checkHeld(t, r)
		}

		// Idle: within a few trim periods the ring keeps keepSpares spare
		// segments and the one at the tail.
		deadline := time.Now().Add(10 * time.Second)
		for r.Held() > (keepSpares+1)*SegmentSize {
			require.True(t, time.Now().Before(deadline), "memory held long after the bursts: %d bytes", r.Held())
			time.Sleep(5 * time.Millisecond)
		}
		checkHeld(t, r)
		require.Equal(t, keepSpares, r.pool.spareCount(), "the spares kept however long the ring idles")
	})
}

// TestRingTrimKeepsRecentPeak checks the trim policy: spares that the peak
// use of the last period needed stay, so that steady traffic reuses warm
// memory; those it did not are given back.
func TestRingTrimKeepsRecentPeak(t *testing.T) {
	const seg = 1024
	r := testRing(t, 256*seg, seg, false)
	r.pool.trimEvery = time.Hour // trims only when the test calls trim
	lap := func(segments int) {
		t.Helper()
		p := make([]byte, seg-headerSize) // one record a segment
		for i := 0; i < segments; i++ {
			_, ok := r.TryWrite(0, p)
			require.True(t, ok)
		}
		drainAll(r)
	}
	lap(100) // a burst of 100 segments
	require.Equal(t, int64(100*seg), r.Held())
	r.pool.trim() // the period of the burst: keep what it used
	require.Equal(t, int64(100*seg), r.Held())
	lap(30) // steady traffic of 30 segments a period
	r.pool.trim()
	require.Equal(t, int64(30*seg), r.Held(), "the next period keeps what it used")
	lap(30)
	lap(30)
	r.pool.trim()
	require.Equal(t, int64(30*seg), r.Held(), "steady traffic keeps its memory")
	r.pool.trim() // an idle period
	require.Equal(t, int64(keepSpares*seg), r.Held(), "idle: keepSpares stay")
	r.pool.trim()
	require.Equal(t, int64(keepSpares*seg), r.Held())
	checkHeld(t, r)
}

// TestRingConcurrent checks, under -race, that every record of many
// producers arrives exactly once and intact, in each producer's order, with
// records from a few bytes to several segments. A record published before
// its bytes are copied in is a data race under -race, and corrupt bytes
// without it (-ring.stress makes that likely).
func TestRingConcurrent(t *testing.T) {
	memories(t, func(t *testing.T, heap bool) {
		const producers = 8
		perProducer := 5000
		if *stress {
			perProducer = 200000
		}
		r := testRing(t, 1<<14, 256, heap)
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				buf := make([]byte, 1200)
				for i := 0; i < perProducer; i++ {
					n := 8 + (i*37+p*11)%len(buf[8:])
					if i%4 != 0 {
						n = 8 + (i*7+p)%56 // mostly small, as log entries are
					}
					binary.LittleEndian.PutUint32(buf, uint32(p))
					binary.LittleEndian.PutUint32(buf[4:], uint32(i))
					for j := 8; j < n; j++ {
						buf[j] = byte(i + j)
					}
					if _, ok := r.Write(0, buf[:n], 10*time.Second); !ok {
						select {
						case <-r.closed: // the consumer failed
						default:
							t.Errorf("producer %d: write %d timed out", p, i)
						}
						return
					}
				}
			}(p)
		}
		next := make([]int, producers)
		total := 0
		var rec []byte
		var bad error
		for total < producers*perProducer && bad == nil {
			if r.ArmWake(0) {
				select {
				case <-r.Wakeup():
				case <-time.After(10 * time.Second):
					bad = fmt.Errorf("consumer starved")
				}
			}
			r.Drain(func(record Record) bool {
				rec = record.AppendTo(rec[:0])
				p := binary.LittleEndian.Uint32(rec)
				i := int(binary.LittleEndian.Uint32(rec[4:]))
				if i != next[p] {
					bad = fmt.Errorf("producer %d: got record %d, want %d", p, i, next[p])
					return false
				}
				for j := 8; j < len(rec); j++ {
					if rec[j] != byte(i+j) {
						bad = fmt.Errorf("producer %d record %d (%d bytes): corrupt byte %d", p, i, len(rec), j)
						return false
					}
				}
				next[p]++
				total++
				return true
			})
		}
		if bad != nil {
			r.Close() // release the producers
			wg.Wait()
			t.Fatal(bad)
		}
		wg.Wait()
		assert.Zero(t, r.Used())
		checkHeld(t, r)
	})
}

// TestRingRandomizedInterleavings runs producers as step machines (reserve,
// fill, commit) interleaved with the consumer's Drain, ArmWake and partial
// drains in an order drawn from a seeded generator, so that any failure
// reproduces with -ring.seed. After every step it checks what Drain
// returned, the memory accounting and the doorbell.
func TestRingRandomizedInterleavings(t *testing.T) {
	seeds := 300
	if *stress {
		seeds = 20000
	}
	if *seedFlag != 0 {
		interleave(t, *seedFlag)
		return
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		if !interleave(t, seed) {
			return
		}
	}
}

type vproducer struct {
	state int // 0 idle, 1 reserved, 2 filled
	pos   uint64
	p     []byte
	seg   *segment
}

// interleave runs one seeded schedule and reports whether it passed.
func interleave(t *testing.T, seed uint64) bool {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	segSize := 64 << rng.IntN(3)
	capacity := 1024 + 8*rng.IntN(512)
	r := newRing(capacity, segSize)
	r.pool.heap = rng.IntN(2) == 0
	defer r.free()
	fail := func(format string, args ...any) bool {
		t.Errorf("seed %d (rerun with -ring.seed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
		return false
	}

	type reservation struct {
		pos       uint64
		p         []byte
		committed bool
	}
	var pending []*reservation // reserved, in position order
	byPos := map[uint64]*reservation{}
	producers := make([]vproducer, 1+rng.IntN(6))
	seq := uint32(0)
	armed := false // ArmWake returned true and the doorbell has not rung since
	threshold := uint64(0)
	newRecord := func() []byte {
		n := 1 + rng.IntN(min(r.MaxRecord(), 3*segSize))
		if rng.IntN(20) == 0 {
			n = r.MaxRecord() - rng.IntN(16)
		}
		p := make([]byte, n)
		fillPattern(p, seq)
		seq++
		return p
	}

	for step := 0; step < 400; step++ {
		switch k := rng.IntN(10); {
		case k < 6: // a producer takes one step
			v := &producers[rng.IntN(len(producers))]
			switch v.state {
			case 0:
				v.p = newRecord()
				pos, ok := r.reserve(recordSize(len(v.p)))
				if !ok {
					continue // full: try again later
				}
				v.pos, v.state = pos, 1
				res := &reservation{pos: pos, p: v.p}
				pending = append(pending, res)
				byPos[pos] = res
			case 1:
				v.seg = r.fill(v.pos, v.p)
				v.state = 2
			case 2:
				r.commit(v.seg, v.pos, len(v.p), uint32(v.pos%MaxTag))
				r.ringIfAsked()
				byPos[v.pos].committed = true
				v.state = 0
			}
		case k == 6: // a whole TryWrite
			p := newRecord()
			pos := r.Head()
			if _, ok := r.TryWrite(0, p); ok {
				res := &reservation{pos: pos, p: p, committed: true}
				pending = append(pending, res)
				byPos[pos] = res
			}
		case k == 7: // the consumer arms the doorbell
			threshold = uint64(rng.IntN(2 * capacity))
			if rng.IntN(2) == 0 {
				threshold = 0
			}
			ready := r.Used() >= threshold && len(pending) > 0 && pending[0].committed
			if r.ArmWake(threshold) == ready {
				return fail("ArmWake(%d) = %v with %d bytes used, first record committed %v",
					threshold, !ready, r.Used(), len(pending) > 0 && pending[0].committed)
			}
			armed = !ready
		default: // the consumer wakes for another reason and drains, maybe stopping early
			r.Disarm()
			armed = false
			select {
			case <-r.Wakeup():
			default:
			}
			limit := len(pending)
			if rng.IntN(3) == 0 {
				limit = rng.IntN(len(pending) + 1)
			}
			taken := 0
			var err error
			r.Drain(func(rec Record) bool {
				if taken == limit {
					return false
				}
				if taken >= len(pending) || !pending[taken].committed {
					err = fmt.Errorf("Drain returned a record not committed, at %d", rec.Pos())
					return false
				}
				want := pending[taken]
				if rec.Pos() != want.pos {
					err = fmt.Errorf("Drain returned the record at %d, want %d", rec.Pos(), want.pos)
					return false
				}
				if rec.Len() != len(want.p) || string(rec.AppendTo(nil)) != string(want.p) {
					err = fmt.Errorf("record at %d (%d bytes) corrupt", want.pos, len(want.p))
					return false
				}
				taken++
				return true
			})
			if err != nil {
				return fail("%v", err)
			}
			ready := 0
			for ready < len(pending) && pending[ready].committed {
				ready++
			}
			if taken != min(limit, ready) {
				return fail("Drain took %d records, want %d", taken, min(limit, ready))
			}
			for _, res := range pending[:taken] {
				delete(byPos, res.pos)
			}
			pending = pending[taken:]
			if len(pending) > 0 && r.Tail() != pending[0].pos || len(pending) == 0 && r.Tail() != r.Head() {
				return fail("tail %d after Drain, head %d", r.Tail(), r.Head())
			}
		}
		// Invariants after every step.
		if got, want := r.Held(), installedHeld(r)+sparesHeld(r); got != want {
			return fail("Held %d, segments held %d", got, want)
		}
		if r.Used() > r.capacity {
			return fail("%d bytes used, capacity %d", r.Used(), r.capacity)
		}
		// No lost wakeup: once every producer has committed, an armed
		// consumer whose threshold is reached has been rung.
		idle := true
		for i := range producers {
			idle = idle && producers[i].state == 0
		}
		if armed && idle && len(pending) > 0 && r.Used() >= threshold {
			select {
			case <-r.Wakeup():
				armed = false
			default:
				return fail("armed at %d with %d bytes committed, and not rung", threshold, r.Used())
			}
		}
	}
	return true
}

// TestRingUnreachableUnmapped checks that the memory of a ring nobody
// references any more is unmapped, spare list and all.
func TestRingUnreachableUnmapped(t *testing.T) {
	before := mappedBytes.Load()
	func() {
		r := New(4 << 20)
		p := make([]byte, 1000)
		for {
			if _, ok := r.TryWrite(0, p); !ok {
				break
			}
		}
		require.Greater(t, r.Held(), int64(3<<20))
		r.Drain(func(Record) bool { return true })
		_, ok := r.TryWrite(0, p)
		require.True(t, ok)
		if mappedBytes.Load() == before {
			t.Skip("this system gives the ring no mapped memory")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for mappedBytes.Load() != before {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still mapped after the ring became unreachable", mappedBytes.Load()-before)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func TestRingTagsAndPositions(t *testing.T) {
	r := newRing(4096, 1024)
	defer r.Close()
	tags := []uint32{0, 1, 7, 4095, MaxTag}
	ends := make([]uint64, len(tags))
	for lap := 0; lap < 20; lap++ { // wraps around, over segment boundaries
		for i, tag := range tags {
			end, ok := r.TryWrite(tag, bytes.Repeat([]byte{byte(i + 1)}, 100+i*37))
			require.True(t, ok)
			ends[i] = end
		}
		var got []uint32
		prevEnd := r.Tail()
		i := 0
		r.Drain(func(rec Record) bool {
			assert.Equal(t, prevEnd, rec.Pos(), "a record starts where the one before ended")
			assert.Equal(t, 100+i*37, rec.Len())
			assert.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, 100+i*37), rec.AppendTo(nil))
			got = append(got, rec.Tag())
			prevEnd = ends[i]
			i++
			return true
		})
		require.Equal(t, tags, got)
	}
}
