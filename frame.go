package zapsls

// The framed Log: the unit that travels from an encoder through the buffer
// into a batch. This file owns its format and the SLS limits every entry is
// kept within (DESIGN.md, "The framed Log").
//
// A framed Log is field 1 of a LogGroup: the tag 0x0A, a varint length and
// the Log's bytes (Time, Contents, TimeNs), so that a LogGroup body is the
// concatenation of framed Logs followed by the group's Topic, Source and
// LogTags. The zapsls Encoder may follow a frame with a repair trailer:
// field 15 (TagRepairs), a varint counting the keys and values it repaired.
// Protobuf decoders skip unknown fields, and the Writer strips the trailer
// before anything is buffered, so it never reaches SLS.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/multierr"

	"github.com/zapsls/zapsls/internal/pb"
)

// SLS limits every framed Log is kept within, so that no entry can make the
// service refuse the batch it rides in (README.md, "What lands in SLS").
const (
	// MaxKeyBytes is the longest content key SLS accepts.
	MaxKeyBytes = 128
	// DefaultMaxValueBytes is the default cap on one content value. SLS
	// documents values "up to 1 MB"; 1,000,000 bytes is the reading of that
	// which is safe whichever megabyte is meant.
	DefaultMaxValueBytes = 1_000_000

	// TruncatedMarker ends a value or key that was cut to fit a limit.
	TruncatedMarker = "...[truncated]"
	// RenamedKeyPrefix is put in front of a key SLS reserves for itself
	// (__time__, __topic__, __source__, __partition_time__,
	// _extract_others_, __extract_others__, anything starting with
	// __tag__:) and in front of an empty key, so that the field is kept
	// under a name SLS accepts: "__topic__" arrives as "field___topic__".
	RenamedKeyPrefix = "field_"
)

// reservedKey reports whether SLS keeps key for itself.
func reservedKey(key string) bool {
	switch key {
	case "__time__", "__topic__", "__source__", "__partition_time__", "_extract_others_", "__extract_others__":
		return true
	}
	return strings.HasPrefix(key, "__tag__:")
}

// frameGap is room left at the start of a Log for its frame: the LogGroup
// field tag and a varint length of up to 5 bytes.
const frameGap = 1 + pb.MaxVarintLen32

// repairsTrailerMax is the longest repair trailer: its tag and a varint.
const repairsTrailerMax = 1 + 10

// appendRepairs appends the repair trailer for n repairs to b.
func appendRepairs(b []byte, n int) []byte {
	return pb.AppendVarint(append(b, pb.TagRepairs), uint64(n))
}

// consumeRepairs reads a repair trailer at the front of p, if there is one:
// the repair count and the trailer's length (0, 0 when p does not start
// with one). ok is false for a truncated trailer.
func consumeRepairs(p []byte) (repairs, n int, ok bool) {
	if len(p) == 0 || p[0] != pb.TagRepairs {
		return 0, 0, true
	}
	v, m := pb.ConsumeVarint(p[1:])
	if m == 0 {
		return 0, 0, false
	}
	return int(v), 1 + m, true
}

// begin starts a Log at t in e.buf, leaving room for its frame.
func (e *encoder) begin(t time.Time) {
	e.buf = append(e.buf[:0], make([]byte, frameGap)...)
	e.buf = append(e.buf, pb.TagLogTime)
	e.buf = pb.AppendVarint(e.buf, uint64(uint32(t.Unix())))
}

// finish adds the nanoseconds of t, frames the Log and returns the frame:
// exactly 0x0A, varint length, Log. The frame is the end of e.buf: its tag
// and length are written into the end of the gap begin left, so that the
// Log is never moved. It is valid until e.buf changes.
func (e *encoder) finish(t time.Time) []byte {
	if ns := t.Nanosecond(); ns != 0 {
		e.buf = append(e.buf, pb.TagLogTimeNs)
		e.buf = pb.AppendFixed32(e.buf, uint32(ns))
	}
	size := len(e.buf) - frameGap
	start := frameGap - 1 - pb.SizeVarint(uint64(size))
	frame := append(e.buf[start:start], pb.TagGroupLog) // writes into the gap
	pb.AppendVarint(frame, uint64(size))
	return e.buf[start:]
}

// looksFramed tells framed Logs from JSON lines. The frame's tag, 0x0A, is
// also a newline, so it takes the Log's first field too: Time (0x08), which
// the Encoder, like every protobuf marshaller, writes first. JSON text never
// has a control byte after its first newline and one more byte.
func looksFramed(p []byte) bool {
	if len(p) == 0 || p[0] != pb.TagGroupLog {
		return false
	}
	_, n := pb.ConsumeVarint(p[1:])
	return n > 0 && len(p) > 1+n && p[1+n] == pb.TagLogTime
}

func forEachFrame(p []byte, fn func(frame []byte, repairs int)) error {
	var errs error
	for len(p) > 0 {
		if p[0] != pb.TagGroupLog {
			return multierr.Append(errs, fmt.Errorf("invalid entry: unexpected protobuf tag 0x%02x where a framed Log belongs", p[0]))
		}
		size, n := pb.ConsumeVarint(p[1:])
		if n == 0 || size > uint64(len(p)-1-n) {
			return multierr.Append(errs, errors.New("invalid entry: truncated Log frame"))
		}
		end := 1 + n + int(size)
		frame := p[:end]
		p = p[end:]
		repairs, m, ok := consumeRepairs(p)
		if !ok {
			return multierr.Append(errs, errors.New("invalid entry: truncated repair count"))
		}
		p = p[m:]
		if err := validateLog(frame[1+n:]); err != nil {
			errs = multierr.Append(errs, fmt.Errorf("invalid entry: %w", err))
			continue // well framed: the next frame is still found
		}
		fn(frame, repairs)
	}
	return errs
}

// validateLog checks that a Log from outside the Encoder is one SLS will
// accept, so that it cannot make the service refuse the batch it rides in.
func validateLog(b []byte) error {
	hasTime := false
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		switch tag {
		case pb.TagLogTime:
			_, n := pb.ConsumeVarint(b)
			if n == 0 {
				return errors.New("bad Log.Time")
			}
			b, hasTime = b[n:], true
		case pb.TagLogTimeNs:
			if len(b) < 4 {
				return errors.New("bad Log.TimeNs")
			}
			b = b[4:]
		case pb.TagLogContent:
			content, rest, err := consumeBytes(b)
			if err != nil {
				return err
			}
			if err := validateContent(content); err != nil {
				return err
			}
			b = rest
		default:
			return fmt.Errorf("unexpected field tag 0x%02x in Log", tag)
		}
	}
	if !hasTime {
		return errors.New("no Log.Time")
	}
	return nil
}

func validateContent(b []byte) error {
	var key, value []byte
	var haveKey, haveValue bool
	for len(b) > 0 {
		tag := b[0]
		field, rest, err := consumeBytes(b[1:])
		if err != nil {
			return err
		}
		switch tag {
		case pb.TagKey:
			key, haveKey = field, true
		case pb.TagValue:
			value, haveValue = field, true
		default:
			return fmt.Errorf("unexpected field tag 0x%02x in Content", tag)
		}
		b = rest
	}
	switch {
	case !haveKey || !haveValue:
		return errors.New("content without key or value")
	case len(key) == 0 || len(key) > MaxKeyBytes:
		return fmt.Errorf("content key of %d bytes", len(key))
	case !validBytes(key) || !validBytes(value):
		return errors.New("content is not valid UTF-8")
	case reservedKey(string(key)):
		return fmt.Errorf("content key %q is reserved by SLS", key)
	case len(value) > DefaultMaxValueBytes:
		return fmt.Errorf("content value of %d bytes", len(value))
	}
	return nil
}

func consumeBytes(b []byte) (field, rest []byte, err error) {
	size, n := pb.ConsumeVarint(b)
	if n == 0 || size > uint64(len(b)-n) {
		return nil, nil, errors.New("truncated length-delimited field")
	}
	return b[n : n+int(size)], b[n+int(size):], nil
}
