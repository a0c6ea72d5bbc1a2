package zapsls

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compressor turns a batch's LogGroup into the body that is posted. It
// belongs to the batcher goroutine and is not safe for concurrent use.
//
// Compression writes into one scratch buffer, and only the result is copied
// into a pooled body of about its own size, so that batches in flight hold
// what they send, not a worst-case bound each. The scratch buffer is given
// back when a batch much smaller than it follows (see shrink), so a burst
// does not pin its worst case for the Writer's life.
type compressor struct {
	method  string
	zstd    *zstd.Encoder // nil unless method is CompressZstd
	scratch []byte
}

func newCompressor(method string) (*compressor, error) {
	c := &compressor{method: method}
	if method == CompressZstd {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("zapsls: zstd: %w", err)
		}
		c.zstd = enc
	}
	return c, nil
}

// compress returns the body for the LogGroup raw, in a buffer from the
// body pool that the caller owns (putBody when done).
func (c *compressor) compress(raw []byte) []byte {
	out := raw
	c.shrink(lz4.CompressBlockBound(len(raw))) // either method writes at most about len(raw)
	switch c.method {
	case CompressZstd:
		c.scratch = c.zstd.EncodeAll(raw, c.scratch[:0])
		out = c.scratch
	case CompressLZ4:
		bound := lz4.CompressBlockBound(len(raw))
		if cap(c.scratch) < bound {
			c.scratch = make([]byte, bound)
		}
		// lz4.CompressBlock takes its hash table (136 KiB) from a pool
		// that every Writer in the process shares.
		n, err := lz4.CompressBlock(raw, c.scratch[:bound], nil)
		if err != nil || n == 0 {
			// Incompressible: an LZ4 block of one literal run.
			c.scratch = appendLiteralBlock(c.scratch[:0], raw)
		} else {
			c.scratch = c.scratch[:n]
		}
		out = c.scratch
	}
	return append(getBody(len(out)), out...)
}

// shrink drops a scratch buffer more than four times what the next batch
// needs, so that one large burst does not keep its bound resident.
func (c *compressor) shrink(need int) {
	if cap(c.scratch) > 4*need && cap(c.scratch) > 256<<10 {
		c.scratch = nil
	}
}

func (c *compressor) close() {
	if c.zstd != nil {
		c.zstd.Close()
	}
}

// appendLiteralBlock writes src as an LZ4 block holding a single literal
// sequence, which every LZ4 block decoder accepts.
func appendLiteralBlock(dst, src []byte) []byte {
	n := len(src)
	if n < 15 {
		dst = append(dst, byte(n<<4))
	} else {
		dst = append(dst, 0xF0)
		for n -= 15; n >= 255; n -= 255 {
			dst = append(dst, 0xFF)
		}
		dst = append(dst, byte(n))
	}
	return append(dst, src...)
}

// bodyPool holds request bodies (*[]byte) between batches.
var bodyPool sync.Pool

// maxPooledBody is the largest body kept for reuse.
const maxPooledBody = 4 << 20

// getBody returns an empty buffer with room for n bytes. A new one gets a
// quarter more, so that the next batches, of about the same size, reuse it.
func getBody(n int) []byte {
	if p, ok := bodyPool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n+n/4)
}

func putBody(b []byte) {
	if b != nil && cap(b) <= maxPooledBody {
		bodyPool.Put(&b)
	}
}
