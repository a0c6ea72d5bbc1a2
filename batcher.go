package zapsls

import (
	"time"

	"github.com/zapsls/zapsls/internal/ring"
)

// batcher is the stage between the buffer and the posters: one goroutine
// (run) drains entries from the buffer many at a time into an open batch
// per route, seals a batch when it is full (MaxBatchBytes, MaxBatchCount),
// when its Linger passes, when a Sync asks for it, or at Close, and hands
// sealed batches to the posters through work. Its state is run's locals;
// the fields are fixed at NewWriter.
type batcher struct {
	cfg    *Config
	buf    *ring.Ring
	ledger *ledger
	life   *lifecycle
	routes *routes // each entry's route, by the tag it carries in the buffer
	ids    *packIDs
	comp   *compressor
	work   chan<- *batch
}

// openBatch is a batch being filled: framed Logs appended to raw.
type openBatch struct {
	route *route
	raw   []byte
	count int
	first uint64    // buffer position of its first entry
	since time.Time // its Linger runs from then: when its first entry was drained, or may have been written (run)
}

// steadyBatchBytes and minSealInterval size batches to the traffic
// (DESIGN.md, "Memory"). A batch is sealed once it holds steadyBatchBytes,
// unless its route's previous batch was sealed less than minSealInterval
// before: then it may grow to MaxBatchBytes (or until the interval has
// passed). Light traffic so keeps a 128 KiB batch in memory, not
// MaxBatchBytes' worth, and heavy traffic, a burst or a recovery, posts
// batches of up to MaxBatchBytes, one short of it at most about twenty
// times a second per route (full ones as fast as the traffic fills them),
// not hundreds of small ones: a shard takes about 500 writes/s, and
// every request costs the client CPU of its own. LZ4 matches reach back 64
// KiB, so batches past 128 KiB barely compress better.
//
// Measured with the benchmarks' memory scenario (README.md, "Memory"):
// at 2,000 entries/s with four Writers, the process's anonymous memory
// over its start at the end of the 10 s (RssAnon) was 14.0 MiB with 512
// KiB batches (the SDK producer's size), 8.5 MiB with 256 KiB and 6.9 MiB
// with 128 KiB (zap to four files: 4.7 MiB); README.md gives the peaks.
// At 2,000 entries/s of 550 bytes a Writer posts about nine requests a
// second. With a 100 ms interval, four Writers took 1.2 MiB more: a batch
// that starts with entries already waiting reaches 128 KiB early, and
// held on, it doubled its buffer.
const (
	steadyBatchBytes = 128 << 10
	minSealInterval  = 50 * time.Millisecond
)

// batchLimit is how many framed-Log bytes a batch to r may hold at now:
// r's bound (MaxBatchBytes) within minSealInterval of its last seal, else
// at most steadyBatchBytes.
func batchLimit(r *route, now time.Time) int {
	if now.Sub(r.lastSeal) < minSealInterval {
		return r.maxBody
	}
	return min(r.maxBody, steadyBatchBytes)
}

// atLimit reports whether ob may take no more entries now: it holds what a
// batch to its route may hold at now (batchLimit), or maxCount entries.
func (ob *openBatch) atLimit(now time.Time, maxCount int) bool {
	return len(ob.raw) >= batchLimit(ob.route, now) || ob.count == maxCount
}

// drainBytes is the most the buffer holds for an open batch before the
// batcher drains it: half a buffer segment, so that steady traffic keeps
// about two segments. Waiting for a whole batch's worth kept each entry
// twice, in the buffer and then in the batch.
const drainBytes = 32 << 10

// maxFreeRaw is how many emptied batch buffers the batcher keeps for reuse;
// initialRaw, the capacity of a new one.
const (
	maxFreeRaw = 4
	initialRaw = 64 << 10
)

// run is the batcher goroutine. It returns after Close's final pass, once
// every entry it drained is sealed and handed on; it then closes work.
func (bt *batcher) run() {
	defer close(bt.work)
	open := map[*route]*openBatch{}
	var free [][]byte  // emptied batch buffers, for the next batches
	var scratch []byte // a frame whose time is being repaired
	openBytes := 0     // framed-Log bytes in all open batches
	stopping := false
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()

	seal := func(ob *openBatch) {
		ob.route.lastSeal = time.Now()
		b, raw := sealBatch(ob.route, ob.raw, ob.count, ob.first, bt.ids, bt.comp)
		delete(open, ob.route)
		openBytes -= len(ob.raw)
		free = keepFree(free, raw, b.rawSize)
		bt.ledger.add(b)
		bt.work <- b
	}
	var lastPass time.Time // when the previous pass drained the buffer
	for {
		var full *openBatch
		now := time.Now()
		// since for a batch this pass opens. The batcher slept on an empty
		// buffer when nothing was open, and the first entry woke it; but
		// while a batch was open it slept until that batch was due or
		// drainBytes came, and an entry to another route may have waited
		// in the buffer since the previous pass: its Linger runs from then.
		since := now
		if len(open) > 0 {
			since = lastPass
		}
		lastPass = now
		// Read before draining: every entry before flushTo was committed
		// before the Sync that set it, so this drain takes them all, and
		// sealing below for it never cuts its entries into two batches (a
		// Sync between the drain and a later read did, under load).
		flushTo := bt.ledger.flushTo.Load()
		end := bt.buf.Drain(func(rec ring.Record) bool {
			r := bt.routes.get(rec.Tag())
			n := rec.Len()
			ob := open[r]
			// Full: it is at its limits, or the entry would take it past
			// MaxBatchBytes. Below batchLimit an entry joins its
			// neighbours even if it takes the batch past it: the batch is
			// sealed then.
			if ob != nil && (ob.atLimit(now, bt.cfg.MaxBatchCount) || len(ob.raw)+n > r.maxBody) {
				full = ob
				return false
			}
			if ob == nil {
				ob = &openBatch{route: r, first: rec.Pos(), since: since}
				if k := len(free); k > 0 {
					ob.raw, free = free[k-1], free[:k-1]
				} else {
					// Grown by append as entries come: a batch takes
					// what its entries need, not MaxBatchBytes up front.
					ob.raw = make([]byte, 0, min(r.maxBody, initialRaw))
				}
				open[r] = ob
			}
			start := len(ob.raw)
			ob.raw = rec.AppendTo(growRaw(ob.raw, n, r))
			// An entry whose time SLS would refuse is stamped with now
			// and keeps its time in a content (timewindow.go).
			if fixed, ok := appendTimeRepaired(scratch[:0], ob.raw[start:], now); ok {
				scratch = fixed
				if ob.count > 0 && start+len(fixed) > r.maxBody {
					ob.raw = ob.raw[:start] // not consumed: the next batch takes it
					full = ob
					return false
				}
				ob.raw = append(ob.raw[:start], fixed...)
				bt.ledger.stats.repaired.Add(1)
			}
			ob.count++
			openBytes += len(ob.raw) - start
			return true
		})
		if full != nil {
			seal(full)
		}
		// Seal what is due: lingered long enough, reached its size or
		// MaxBatchCount, asked for by a Sync, or the final pass; and,
		// should many routes hold open batches, the largest while they
		// hold more than two batches' worth.
		for _, ob := range open {
			if stopping || ob.first < flushTo || now.Sub(ob.since) >= bt.cfg.Linger || ob.atLimit(now, bt.cfg.MaxBatchCount) {
				seal(ob)
			}
		}
		for openBytes > 2*bt.cfg.MaxBatchBytes {
			seal(largest(open))
		}
		settledTo := end
		for _, ob := range open {
			settledTo = min(settledTo, ob.first)
		}
		bt.ledger.setOpen(settledTo)
		if full != nil {
			continue
		}
		if stopping {
			if len(open) == 0 && bt.finalPass() {
				return
			}
			continue
		}

		// Wait: for any entry when nothing is open, otherwise for enough
		// to fill the fullest open batch, a Linger, a Sync or Close.
		threshold := uint64(0)
		if len(open) > 0 {
			// No batch is due later than a Linger from now: each
			// opened at this pass or before.
			room, due := int(^uint(0)>>1), now.Add(bt.cfg.Linger)
			for _, ob := range open {
				r := ob.route
				room = min(room, max(batchLimit(r, now)-len(ob.raw), 0))
				t := ob.since.Add(bt.cfg.Linger)
				if len(ob.raw) >= min(r.maxBody, steadyBatchBytes) {
					// Held past steadyBatchBytes only until the
					// interval since its route's last seal has passed.
					t = earliest(t, r.lastSeal.Add(minSealInterval))
				}
				due = earliest(due, t)
			}
			// Drain at least every drainBytes, however much room the
			// batch has: entries then wait in the batch, not in the
			// buffer too, whose segments go back to its spares.
			threshold = uint64(min(room+1, drainBytes))
			linger.Reset(time.Until(due))
		}
		if !bt.buf.ArmWake(threshold) || len(open) > 0 && bt.ledger.flushTo.Load() > settledTo {
			bt.buf.Disarm()
			linger.Stop()
			continue
		}
		select {
		case <-bt.buf.Wakeup():
		case <-linger.C:
		case <-bt.life.stop:
			stopping = true
		}
		bt.buf.Disarm()
		linger.Stop()
	}
}

// finalPass runs the batcher's last passes over the buffer: after the
// first, an entry committed to the buffer is reported as dropped by its
// Write. It returns true when the buffer is empty and the batcher may exit.
func (bt *batcher) finalPass() bool {
	if !bt.life.draining.Load() {
		bt.life.draining.Store(true)
		return false // drain once more: entries committed before draining was seen
	}
	if bt.buf.Used() != 0 {
		// A producer between reserving and committing: wait for it, so
		// that no entry it reports as written is left behind.
		time.Sleep(50 * time.Microsecond)
		return false
	}
	bt.life.finalTail = bt.buf.Tail()
	close(bt.life.drained)
	return true
}

// keepFree keeps an emptied batch buffer for reuse, unless the free list is
// full or the buffer is more than four times the batch it last held (a
// burst's buffer is let go once batches are small again).
func keepFree(free [][]byte, raw []byte, used int) [][]byte {
	if len(free) >= maxFreeRaw || cap(raw) > 4*used && cap(raw) > 256<<10 {
		return free
	}
	return append(free, raw[:0])
}

// largest returns the open batch holding the most bytes.
func largest(open map[*route]*openBatch) *openBatch {
	var big *openBatch
	for _, ob := range open {
		if big == nil || len(ob.raw) > len(big.raw) {
			big = ob
		}
	}
	return big
}

// growRaw returns raw with room for n more bytes, doubling its capacity
// rather than letting append grow a large slice by a quarter at a time (a
// batch growing to a megabyte then leaves two megabytes of garbage, not
// five), with room for the group's tail. Below steadyBatchBytes it grows
// to that size and an eighth at most, room for the entry that takes it
// past: a batch of light traffic then never doubles for its last entry,
// even when it is held a little past that size (batchLimit). Past it, the
// batch grows with the traffic, up to r's bound.
func growRaw(raw []byte, n int, r *route) []byte {
	if cap(raw)-len(raw) >= n {
		return raw
	}
	limit := r.maxBody
	if steady := min(r.maxBody, steadyBatchBytes); len(raw) < steady {
		limit = steady + steady/8
	}
	limit += len(r.groupTail) + packIDTagMax
	newCap := max(min(2*cap(raw), limit), len(raw)+n)
	return append(make([]byte, 0, newCap), raw...)
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
