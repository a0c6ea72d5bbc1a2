package zapsls

import (
	"encoding/binary"
	"time"

	"github.com/zapsls/zapsls/internal/pb"
)

// The window of entry times SLS accepts. SLS refuses a whole request when
// one of its logs is more than about 7 days old or more than 15 minutes
// ahead of the service's clock (README.md, "What lands in SLS"), so the
// batcher repairs an entry outside a slightly narrower window when it
// drains it: the entry is stamped with the time it was drained, and its
// own time is kept in the content OriginalTimeKey. The margins leave room
// for a batch that is retried or waits for a poster (an hour) and for the
// host's clock running ahead of the service's (5 minutes).
const (
	// MaxEntryAge is how old an entry's time may be when it is batched.
	MaxEntryAge = 7*24*time.Hour - time.Hour
	// MaxEntryAhead is how far ahead of the host's clock an entry's time
	// may be when it is batched.
	MaxEntryAhead = 10 * time.Minute
	// OriginalTimeKey is the content that keeps the time of an entry whose
	// time was repaired, in RFC 3339 with nanoseconds, UTC
	// ("2006-01-02T15:04:05.999999999Z").
	OriginalTimeKey = "zapsls_original_time"
)

// windowSlack, in seconds, is more than the most Log.TimeNs (a uint32) and
// the fraction of a second of the clock can move a time.
const windowSlack = 6

// timeRepairMax bounds how many bytes repairing a framed Log's time adds:
// the OriginalTimeKey content (at most 2+2+len(key)+2+35), a Time varint
// grown from 1 byte to 5, and a frame length varint grown by up to 4.
const timeRepairMax = 2 + 2 + len(OriginalTimeKey) + 2 + 35 + 4 + 4

// appendTimeRepaired appends to dst the framed Log frame with its time
// repaired, and reports true, when the Log's time lies outside the window
// around now; otherwise it returns dst unchanged and false. A frame it
// cannot read (not a framed Log with Time as its first field) is left
// alone: the Writer validated it, and only zapsls's encoders write it.
func appendTimeRepaired(dst, frame []byte, now time.Time) ([]byte, bool) {
	if len(frame) < 2 || frame[0] != pb.TagGroupLog {
		return dst, false
	}
	size, n := pb.ConsumeVarint(frame[1:])
	log := frame[1+n:]
	if n == 0 || uint64(len(log)) != size || len(log) < 2 || log[0] != pb.TagLogTime {
		return dst, false
	}
	secs, m := pb.ConsumeVarint(log[1:])
	if m == 0 {
		return dst, false
	}
	rest := log[1+m:]
	// Log.TimeNs moves the time by less than windowSlack (it is a uint32 of
	// nanoseconds): seconds that far inside the window put the entry in it
	// whatever they are, and the Log's contents need not be read for them.
	if ahead := int64(uint32(secs)) - now.Unix(); ahead > -int64(MaxEntryAge/time.Second)+windowSlack && ahead < int64(MaxEntryAhead/time.Second)-windowSlack {
		return dst, false
	}
	ns, ok := timeNs(rest)
	if !ok {
		return dst, false
	}
	t := time.Unix(int64(uint32(secs)), int64(ns))
	if age := now.Sub(t); age <= MaxEntryAge && age >= -MaxEntryAhead {
		return dst, false
	}
	stamp := uint64(uint32(now.Unix()))
	original := t.UTC().Format(time.RFC3339Nano)
	content := 2 + pb.SizeVarint(uint64(len(OriginalTimeKey))) + len(OriginalTimeKey) + pb.SizeVarint(uint64(len(original))) + len(original)
	logSize := 1 + pb.SizeVarint(stamp) + len(rest) + 1 + pb.SizeVarint(uint64(content)) + content
	dst = append(dst, pb.TagGroupLog)
	dst = pb.AppendVarint(dst, uint64(logSize))
	dst = append(dst, pb.TagLogTime)
	dst = pb.AppendVarint(dst, stamp)
	dst = append(dst, rest...)
	return pb.AppendPair(dst, pb.TagLogContent, OriginalTimeKey, original), true
}

// timeNs finds Log.TimeNs among the fields after Time (0 when there is
// none); ok is false when the fields do not parse.
func timeNs(b []byte) (ns uint32, ok bool) {
	for len(b) > 0 {
		switch b[0] {
		case pb.TagLogTimeNs:
			if len(b) < 5 {
				return 0, false
			}
			ns, b = binary.LittleEndian.Uint32(b[1:5]), b[5:]
		case pb.TagLogContent:
			size, n := pb.ConsumeVarint(b[1:])
			if n == 0 || size > uint64(len(b)-1-n) {
				return 0, false
			}
			b = b[1+n+int(size):]
		default:
			return 0, false
		}
	}
	return ns, true
}
