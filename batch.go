package zapsls

import (
	"crypto/md5"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zapsls/zapsls/internal/pb"
)

// batch is a sealed run of entries for one route, ready to post: its
// compressed body never changes, so every retry is byte-identical and
// carries the same __pack_id__.
//
// The batcher creates it; from then on the poster that took it from the
// work channel owns it until the ledger resolves it. lastErr is read by
// Syncs under the ledger's mutex.
type batch struct {
	route *route
	// first is the buffer position of its first entry; the ledger keeps
	// Sync's accounting by it. 0 for a batch replayed from the spool.
	first uint64
	// seq orders the batches of an ordered route (route.ordered): the
	// batcher seals them 0, 1, 2, ... and posters post them in that order.
	// Replayed batches have ordered false and are posted as they come.
	seq         uint64
	ordered     bool
	count       int
	rawSize     int
	body        []byte // compressed LogGroup, from bodyPool
	packID      string
	compression string
	spoolFile   string        // set when replayed from the spool
	lastErr     *PutLogsError // its last failed attempt while it retries; under ledger.mu
	bodyHeld    bool          // a transport may still read body: do not pool it

	// How it was delivered, set by the poster on success, for Delivery.
	requestID string
	attempts  int
	latency   time.Duration
}

// packIDTagMax bounds the encoded __pack_id__ LogTag: 16 hex digits, a dash,
// up to 16 hex digits of sequence, and framing.
const packIDTagMax = 64

// packIDs hands out __pack_id__ values: a prefix unique to the Writer and
// a sequence, as the SDK's producer does (producer_batch.go), so that SLS
// can show an entry's neighbours and a retried batch is recognisable.
type packIDs struct {
	prefix string
	seq    atomic.Uint64
}

// newPackIDs takes 16 upper-case hex digits from the host, the process and
// the time, so that ids from different Writers do not collide.
func newPackIDs() *packIDs {
	host, _ := os.Hostname()
	sum := md5.Sum([]byte(host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)))
	return &packIDs{prefix: fmt.Sprintf("%X", sum[:8])}
}

func (p *packIDs) next() string {
	return p.prefix + "-" + strings.ToUpper(strconv.FormatUint(p.seq.Add(1)-1, 16))
}

// sealBatch completes the LogGroup whose framed Logs are in raw, with the
// route's Topic, Source and LogTags and a new pack id, and compresses it.
// It also returns raw as appended to (it may have grown), which the caller
// may reuse. Only the batcher goroutine calls it.
func sealBatch(r *route, raw []byte, count int, first uint64, ids *packIDs, c *compressor) (*batch, []byte) {
	b := &batch{route: r, first: first, count: count, compression: c.method, packID: ids.next()}
	if r.ordered() {
		b.seq, b.ordered = r.sealed, true
		r.sealed++
	}
	group := append(raw, r.groupTail...)
	group = pb.AppendPair(group, pb.TagGroupTag, "__pack_id__", b.packID)
	b.rawSize = len(group)
	b.body = c.compress(group)
	return b, group
}
