package ring

// Benchmarks of the ring alone against the two designs it replaces, in one
// run:
//
//	go test -run XXX -bench . -benchmem ./internal/ring
//
// Every queue moves records of benchRecordSize bytes from N producer
// goroutines, each reusing one buffer as a logger's caller does, to a single
// consumer goroutine that drains in batches and appends every record to a
// batch buffer, as the Writer's sender does. Every design holds about
// benchQueueBytes of records and blocks producers while it is full. One op
// is one record, timed from the first write until the consumer has taken the
// last; -benchmem's allocs/op are per record too.
//
//   - lockfree: this package's Ring (Write, Drain, ArmWake).
//   - mutex: the same byte ring, with a sync.Mutex: reserve and copy under
//     the lock; the consumer takes what is committed under the lock, reads
//     it outside it, and releases it under the lock again.
//   - chan-freelist: a buffered channel of []byte; the producer takes a
//     preallocated buffer from a free list (another channel), copies its
//     record in and sends it; the consumer returns it to the free list.
//   - chan-syncpool: the same with buffers from a sync.Pool.

import (
	"encoding/binary"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	benchRecordSize = 200
	benchQueueBytes = 4 << 20
	benchBatchBytes = 512 << 10
	// benchSlots is how many records the channel designs hold: the same
	// bytes as the rings, each record taking its ring footprint.
	benchSlots = benchQueueBytes / (headerSize + benchRecordSize)
)

// benchQueue is one design under test.
type benchQueue interface {
	// put copies p in, waiting while the queue is full.
	put(p []byte)
	// consume hands every record to sink, in batches, until it has taken n.
	consume(n int, sink *benchSink)
}

// benchSink is the consumer's work per record: append it to a batch, which
// is emptied whenever it holds benchBatchBytes (where the sender would seal
// and compress it).
type benchSink struct {
	batch   []byte
	records int
	bad     int
}

func newBenchSink() *benchSink {
	return &benchSink{batch: make([]byte, 0, benchBatchBytes+benchRecordSize)}
}

func (s *benchSink) add(a, b []byte) {
	if len(a)+len(b) != benchRecordSize {
		s.bad++
	}
	if len(s.batch) >= benchBatchBytes {
		s.batch = s.batch[:0]
	}
	s.batch = append(append(s.batch, a...), b...)
	s.records++
}

// addRecord is add for a Record of the Ring.
func (s *benchSink) addRecord(rec Record) {
	if rec.Len() != benchRecordSize {
		s.bad++
	}
	if len(s.batch) >= benchBatchBytes {
		s.batch = s.batch[:0]
	}
	s.batch = rec.AppendTo(s.batch)
	s.records++
}

// --- lockfree: the Ring ---

type benchLockFree struct{ r *Ring }

func (q benchLockFree) put(p []byte) {
	if _, ok := q.r.Write(0, p, time.Minute); !ok {
		panic("ring: write timed out")
	}
}

func (q benchLockFree) consume(n int, sink *benchSink) {
	fn := func(rec Record) bool { sink.addRecord(rec); return true }
	for sink.records < n {
		before := sink.records
		q.r.Drain(fn)
		// Arm the doorbell only when idle: every ArmWake writes the
		// wakeAt word that each producer reads after its commit.
		if sink.records == before && q.r.ArmWake(0) {
			<-q.r.Wakeup()
		}
	}
}

// --- mutex: the same byte ring under a sync.Mutex ---

type benchMutexRing struct {
	mu       sync.Mutex
	notFull  sync.Cond // producers wait for space
	notEmpty sync.Cond // the consumer waits for records
	mem      []byte
	mask     uint64
	head     uint64 // guarded by mu
	tail     uint64 // guarded by mu

	producersWaiting int  // guarded by mu
	consumerWaiting  bool // guarded by mu
}

func newBenchMutexRing(capacity int) *benchMutexRing {
	q := &benchMutexRing{mem: make([]byte, capacity), mask: uint64(capacity - 1)}
	q.notFull.L = &q.mu
	q.notEmpty.L = &q.mu
	return q
}

func (q *benchMutexRing) put(p []byte) {
	need := recordSize(len(p))
	q.mu.Lock()
	for q.head+need-q.tail > uint64(len(q.mem)) {
		q.producersWaiting++
		q.notFull.Wait()
		q.producersWaiting--
	}
	pos := q.head
	binary.LittleEndian.PutUint64(q.mem[pos&q.mask:], uint64(len(p)))
	data := (pos + headerSize) & q.mask
	n := copy(q.mem[data:], p)
	copy(q.mem, p[n:])
	q.head = pos + need
	if q.consumerWaiting {
		q.notEmpty.Signal()
	}
	q.mu.Unlock()
}

func (q *benchMutexRing) consume(n int, sink *benchSink) {
	for sink.records < n {
		q.mu.Lock()
		for q.head == q.tail {
			q.consumerWaiting = true
			q.notEmpty.Wait()
			q.consumerWaiting = false
		}
		start, end := q.tail, q.head
		q.mu.Unlock()

		// [start, end) is complete and no producer writes there until the
		// tail moves.
		for pos := start; pos != end; {
			size := binary.LittleEndian.Uint64(q.mem[pos&q.mask:])
			data := (pos + headerSize) & q.mask
			if data+size <= uint64(len(q.mem)) {
				sink.add(q.mem[data:data+size], nil)
			} else {
				sink.add(q.mem[data:], q.mem[:data+size-uint64(len(q.mem))])
			}
			pos += recordSize(int(size))
		}

		q.mu.Lock()
		q.tail = end
		if q.producersWaiting > 0 {
			q.notFull.Broadcast()
		}
		q.mu.Unlock()
	}
}

// --- chan-freelist: a channel of preallocated buffers ---

type benchChanFreeList struct {
	ch   chan []byte
	free chan []byte
}

func newBenchChanFreeList() *benchChanFreeList {
	q := &benchChanFreeList{ch: make(chan []byte, benchSlots), free: make(chan []byte, benchSlots)}
	for i := 0; i < benchSlots; i++ {
		q.free <- make([]byte, 0, benchRecordSize)
	}
	return q
}

func (q *benchChanFreeList) put(p []byte) {
	buf := <-q.free
	q.ch <- append(buf[:0], p...)
}

func (q *benchChanFreeList) consume(n int, sink *benchSink) {
	for sink.records < n {
		rec := <-q.ch // wait for one, then take what is there
		for {
			sink.add(rec, nil)
			q.free <- rec
			if sink.records == n {
				return
			}
			select {
			case rec = <-q.ch:
				continue
			default:
			}
			break
		}
	}
}

// --- chan-syncpool: a channel of buffers from a sync.Pool ---

type benchChanPool struct {
	ch   chan *[]byte
	pool sync.Pool
}

func newBenchChanPool() *benchChanPool {
	q := &benchChanPool{ch: make(chan *[]byte, benchSlots)}
	q.pool.New = func() any {
		b := make([]byte, 0, benchRecordSize)
		return &b
	}
	return q
}

func (q *benchChanPool) put(p []byte) {
	buf := q.pool.Get().(*[]byte)
	*buf = append((*buf)[:0], p...)
	q.ch <- buf
}

func (q *benchChanPool) consume(n int, sink *benchSink) {
	for sink.records < n {
		rec := <-q.ch
		for {
			sink.add(*rec, nil)
			q.pool.Put(rec)
			if sink.records == n {
				return
			}
			select {
			case rec = <-q.ch:
				continue
			default:
			}
			break
		}
	}
}

// --- the benchmark ---

func BenchmarkQueue(b *testing.B) {
	designs := []struct {
		name  string
		build func() (q benchQueue, release func())
	}{
		{"lockfree", func() (benchQueue, func()) {
			r := New(benchQueueBytes)
			// Fill the ring once and drain it, so that it holds its
			// memory as a long-running logger's ring does after its first
			// burst, and the benchmark measures the steady state: the
			// other designs preallocate theirs too.
			p := make([]byte, benchRecordSize)
			for {
				if _, ok := r.TryWrite(0, p); !ok {
					break
				}
			}
			r.Drain(func(Record) bool { return true })
			return benchLockFree{r}, r.Close
		}},
		{"mutex", func() (benchQueue, func()) { return newBenchMutexRing(benchQueueBytes), func() {} }},
		{"chan-freelist", func() (benchQueue, func()) { return newBenchChanFreeList(), func() {} }},
		{"chan-syncpool", func() (benchQueue, func()) { return newBenchChanPool(), func() {} }},
	}
	for _, d := range designs {
		b.Run(d.name, func(b *testing.B) {
			for _, producers := range []int{1, 2, 4, 8} {
				b.Run("producers="+strconv.Itoa(producers), func(b *testing.B) {
					q, release := d.build()
					defer release()
					benchQueueRun(b, q, producers)
				})
			}
		})
	}
}

// benchQueueRun moves b.N records through q from producers goroutines to
// one consumer goroutine, and waits for both sides to finish.
func benchQueueRun(b *testing.B, q benchQueue, producers int) {
	sink := newBenchSink()
	bufs := make([][]byte, producers)
	for i := range bufs {
		bufs[i] = make([]byte, benchRecordSize)
		for j := range bufs[i] {
			bufs[i][j] = byte(i + j)
		}
	}
	start := make(chan struct{})
	consumed := make(chan struct{})
	var wg sync.WaitGroup

	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(consumed)
		<-start
		q.consume(b.N, sink)
	}()
	for p := 0; p < producers; p++ {
		count := b.N / producers
		if p < b.N%producers {
			count++
		}
		wg.Add(1)
		go func(buf []byte, count int) {
			defer wg.Done()
			<-start
			for i := 0; i < count; i++ {
				binary.LittleEndian.PutUint64(buf, uint64(i)) // the caller's buffer changes
				q.put(buf)
			}
		}(bufs[p], count)
	}
	close(start)
	wg.Wait()
	<-consumed
	b.StopTimer()

	if sink.records != b.N || sink.bad != 0 {
		b.Fatalf("consumed %d records (%d of the wrong size), want %d", sink.records, sink.bad, b.N)
	}
}

// BenchmarkBacklogMemory measures what chose the ring's memory (see the
// package doc): the process's RSS over its start while the ring holds a
// 64 MiB backlog of 550-byte records and the program allocates 200 MB of
// short-lived garbage beside it, 3 s after the consumer drained it, and 5 s
// after a GC that follows; and the time to fill the ring. Linux only (it reads
// /proc/self/status); run each kind of memory in a process of its own:
//
//	go test -run '^$' -bench 'BacklogMemory/mmap' -benchtime 1x ./internal/ring
//	go test -run '^$' -bench 'BacklogMemory/heap' -benchtime 1x ./internal/ring
func BenchmarkBacklogMemory(b *testing.B) {
	for _, heap := range []bool{false, true} {
		name := "mmap"
		if heap {
			name = "heap"
		}
		b.Run(name, func(b *testing.B) {
			if _, ok := benchRSS(); !ok {
				b.Skip("no /proc/self/status")
			}
			for i := 0; i < b.N; i++ {
				benchBacklogMemory(b, heap)
			}
		})
	}
}

var benchGarbage [][]byte

func benchBacklogMemory(b *testing.B, heap bool) {
	garbage := func(n int) {
		for i := 0; i < n; i++ {
			benchGarbage = append(benchGarbage, make([]byte, 512))
			if len(benchGarbage) == 1000 {
				benchGarbage = benchGarbage[:0]
			}
		}
	}
	runtime.GC()
	base, _ := benchRSS()
	r := newRing(64<<20, SegmentSize)
	r.pool.heap = heap
	p := make([]byte, 550)
	peak := base
	start := time.Now()
	n := 0
	for ; ; n++ {
		if _, ok := r.TryWrite(0, p); !ok {
			break
		}
	}
	fill := time.Since(start)
	for i := 0; i < 40; i++ { // 200 MB of garbage, 5 MB at a time
		garbage(10000)
		rss, _ := benchRSS()
		peak = max(peak, rss)
	}
	var batch []byte
	r.Drain(func(rec Record) bool { batch = rec.AppendTo(batch[:0]); return true })
	time.Sleep(3 * time.Second) // the ring's trims give the memory back
	drained, _ := benchRSS()
	runtime.GC()
	time.Sleep(5 * time.Second)
	later, _ := benchRSS()
	r.free()

	mib := func(v uint64) float64 { return float64(int64(v)-int64(base)) / (1 << 20) }
	b.ReportMetric(mib(peak), "peak-MiB")
	b.ReportMetric(mib(drained), "3s-after-MiB")
	b.ReportMetric(mib(later), "gc+5s-MiB")
	b.ReportMetric(float64(fill.Nanoseconds())/float64(n), "fill-ns/record")
}

// benchRSS is the process's resident set size in bytes (VmRSS).
func benchRSS() (uint64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
