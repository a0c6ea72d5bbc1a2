package zapsls

import (
	"sync/atomic"
	"time"
)

// counters are the Stats counters. Every stage updates its own with atomic
// adds; Writer.Stats reads them all.
type counters struct {
	enqueued, delivered, dropped, failed, repaired  atomic.Uint64
	retries, requests, batches, rawBytes, wireBytes atomic.Uint64
	spooled, replayed, spoolEvicted                 atomic.Uint64
	reportsCoalesced, reportsSuppressed             atomic.Uint64
	inflight                                        atomic.Int64
}

// Stats is a snapshot of a Writer's counters. Every entry passed to Write is
// eventually counted once as Delivered, Dropped (never entered the buffer),
// Failed (entered it, but SLS did not store it) or Spooled (kept in
// SpoolDir for the next Writer); until then it is pending:
// Enqueued - Delivered - Failed - Spooled.
type Stats struct {
	Enqueued  uint64 `json:"enqueued"`  // entries accepted into the buffer
	Delivered uint64 `json:"delivered"` // entries SLS acknowledged
	Dropped   uint64 `json:"dropped"`   // entries refused: buffer full, closed, too large, invalid
	Failed    uint64 `json:"failed"`    // entries whose batch SLS did not store
	Spooled   uint64 `json:"spooled"`   // entries not delivered, kept in SpoolDir
	// Replayed counts entries from SpoolDir, spooled by an earlier Writer,
	// that this one delivered; SpoolEvicted, spooled entries deleted to keep
	// SpoolDir within SpoolMaxBytes.
	Replayed     uint64 `json:"replayed"`
	SpoolEvicted uint64 `json:"spoolEvicted"`
	Repaired     uint64 `json:"repaired"` // entries whose keys or values were renamed, cut or made valid UTF-8, or whose time SLS would refuse was restamped
	// ReportsCoalesced counts reports OnError received only inside a
	// *CoalescedError (they came faster than it took them);
	// ReportsSuppressed, reports it never received: those raised while it
	// ran by entries it logged into this Writer (delivering them would feed
	// the failure), and those raised after Close (Write returned ErrClosed
	// to its caller). Both kinds are counted in Dropped, Failed and
	// Spooled like any other.
	ReportsCoalesced  uint64 `json:"reportsCoalesced"`
	ReportsSuppressed uint64 `json:"reportsSuppressed"`
	Retries           uint64 `json:"retries"`   // attempts that were retried
	Requests          uint64 `json:"requests"`  // HTTP requests made
	Batches           uint64 `json:"batches"`   // batches delivered
	RawBytes          uint64 `json:"rawBytes"`  // uncompressed bytes delivered
	WireBytes         uint64 `json:"wireBytes"` // compressed bytes delivered
	Inflight          int    `json:"inflight"`  // requests in flight now
	Buffered          int    `json:"buffered"`  // bytes of entries in the buffer now
	// BufferMemory is the memory the buffer holds now, in bytes: the
	// segments that hold Buffered, and spare ones: what the peak of the
	// last second used, and at least 1 MiB once it has been used (see
	// README.md, "Memory").
	BufferMemory int `json:"bufferMemory"`
	// Destinations breaks the entries settled or dropped down by
	// destination: one row for every destination that has seen one.
	Destinations []DestinationStats `json:"destinations,omitempty"`
	// LastError is the text of the last background error (no credentials
	// ever), and when it happened.
	LastError     string    `json:"lastError,omitempty"`
	LastErrorTime time.Time `json:"lastErrorTime,omitempty"`
}

func (c *counters) snapshot() Stats {
	return Stats{
		Enqueued:     c.enqueued.Load(),
		Delivered:    c.delivered.Load(),
		Dropped:      c.dropped.Load(),
		Failed:       c.failed.Load(),
		Spooled:      c.spooled.Load(),
		Replayed:     c.replayed.Load(),
		SpoolEvicted: c.spoolEvicted.Load(),
		Repaired:     c.repaired.Load(),

		ReportsCoalesced:  c.reportsCoalesced.Load(),
		ReportsSuppressed: c.reportsSuppressed.Load(),
		Retries:           c.retries.Load(),
		Requests:          c.requests.Load(),
		Batches:           c.batches.Load(),
		RawBytes:          c.rawBytes.Load(),
		WireBytes:         c.wireBytes.Load(),
		Inflight:          int(c.inflight.Load()),
	}
}

// pending is the number of entries enqueued and not yet resolved.
func (c *counters) pending(enqueued uint64) int {
	return int(enqueued) - int(c.delivered.Load()+c.failed.Load()+c.spooled.Load())
}
