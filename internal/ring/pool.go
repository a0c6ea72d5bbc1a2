package ring

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// keepSpares is how many spare segments (1 MiB) a ring keeps however
	// long it is idle.
	keepSpares = 16
	// trimEvery is how often a ring with more spares than keepSpares gives
	// back those its recent peak did not use.
	trimEvery = time.Second
)

// segment is one piece of ring memory, aligned for the atomic header words.
type segment struct {
	mem    []byte
	mapped bool // mem is an mmap'd region to unmap, not Go heap
}

// pool is a ring's segment memory: it maps segments, keeps the spare ones
// (zeroed) and counts what is held. Producers take from it on the slow
// path, once per segment; the consumer gives segments back as the tail
// passes them. It holds no reference to its ring, so a ring nobody uses
// can be unmapped while a trim is pending.
type pool struct {
	segSize   int
	heap      bool          // Go heap segments even where mmap works (tests)
	trimEvery time.Duration // settable in tests
	held      atomic.Int64  // bytes mapped or allocated, in the table or spare

	mu     sync.Mutex
	spares []*segment // zeroed, ready to install
	inUse  int        // segments installed in the ring's table
	peak   int        // most segments in use since the last trim
	timer  *time.Timer
	armed  bool // the timer will trim
}

// take returns a zeroed segment, spare or new, counted as in use.
func (p *pool) take() *segment {
	p.mu.Lock()
	p.inUse++
	p.peak = max(p.peak, p.inUse)
	if n := len(p.spares); n > 0 {
		s := p.spares[n-1]
		p.spares[n-1] = nil
		p.spares = p.spares[:n-1]
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	return p.alloc()
}

// put keeps a zeroed segment that left the table as a spare. Spares beyond
// keepSpares stay until the next trim, so that a backlog that drains and
// refills reuses them instead of unmapping and mapping them again.
func (p *pool) put(s *segment) {
	p.mu.Lock()
	p.inUse--
	p.spares = append(p.spares, s)
	if len(p.spares) > keepSpares && !p.armed {
		p.armed = true
		if p.timer == nil {
			p.timer = time.AfterFunc(p.trimEvery, p.trim)
		} else {
			p.timer.Reset(p.trimEvery)
		}
	}
	p.mu.Unlock()
}

// trim frees the spares beyond keepSpares that the peak use since the last
// trim did not need, and starts a new period. A backlog that has drained is
// so given back within two periods.
func (p *pool) trim() {
	p.mu.Lock()
	keep := max(keepSpares, p.peak-p.inUse)
	var free []*segment
	if len(p.spares) > keep {
		free = append(free, p.spares[keep:]...)
		clear(p.spares[keep:])
		p.spares = p.spares[:keep]
	}
	p.peak = p.inUse
	p.armed = len(p.spares) > keepSpares
	if p.armed {
		p.timer.Reset(p.trimEvery)
	}
	p.mu.Unlock()
	for _, s := range free {
		p.free(s)
	}
}

// release frees every spare and segments, which have left the table, and
// stops trimming.
func (p *pool) release(segments []*segment) {
	p.mu.Lock()
	free := append(segments, p.spares...)
	p.spares = nil
	p.inUse -= len(segments)
	if p.timer != nil {
		p.timer.Stop()
	}
	p.armed = false
	p.mu.Unlock()
	for _, s := range free {
		p.free(s)
	}
}

func (p *pool) alloc() *segment {
	var s *segment
	if !p.heap {
		s = mapSegment(p.segSize)
	}
	if s == nil {
		// Heap memory, as 8-byte words so that headers are aligned.
		words := make([]uint64, p.segSize/8)
		s = &segment{mem: unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), p.segSize)}
	}
	p.held.Add(int64(p.segSize))
	return s
}

func (p *pool) free(s *segment) {
	p.held.Add(-int64(len(s.mem)))
	if s.mapped {
		unmapSegment(s)
	}
}

// spareCount is the number of spare segments, for tests.
func (p *pool) spareCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.spares)
}
