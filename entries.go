package zapsls

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"go.uber.org/multierr"

	"github.com/zapsls/zapsls/internal/pb"
)

// forEachEntry splits what Writer.Write received into framed Logs and calls
// fn for each. p holds either framed Logs as the zapsls Encoder writes them
// (each optionally followed by its repair count), or JSON objects, one per
// line, which are converted. A part it cannot use (a bad JSON line, a Log
// SLS would refuse) is skipped and the entries after it are still passed to
// fn; the returned error has one error per skipped part (multierr.Errors
// lists them). Only after a broken frame (a bad tag or length) can nothing
// further be found: the rest of p is that one bad part. So is all of p when
// it starts like neither (binary that is not a frame, say).
func forEachEntry(p []byte, fn func(frame []byte, repairs int)) error {
	if looksFramed(p) {
		return forEachFrame(p, fn)
	}
	if rest := bytes.TrimLeft(p, " \t\r\n"); len(rest) > 0 && rest[0] != '{' {
		first, _, _ := bytes.Cut(rest, []byte("\n"))
		return fmt.Errorf("invalid entry: want a framed SLS Log or a JSON object, got %q", clip(bytes.TrimSpace(first)))
	}
	var errs error
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := jsonLineToLog(line, fn); err != nil {
			errs = multierr.Append(errs, err)
		}
	}
	return errs
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
		repairs := 0
		if len(p) > 0 && p[0] == pb.TagRepairs {
			v, m := pb.ConsumeVarint(p[1:])
			if m == 0 {
				return multierr.Append(errs, errors.New("invalid entry: truncated repair count"))
			}
			repairs, p = int(v), p[1+m:]
		}
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
	case !utf8.Valid(key) || !utf8.Valid(value):
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

// jsonConf is how JSON lines become contents: keys flattened by the same
// rules as the Encoder's, values kept as text.
var jsonConf = &encoderConf{sep: ".", maxValue: DefaultMaxValueBytes}

// jsonLineToLog converts one JSON object into a framed Log: each top-level
// key becomes a content, strings unquoted, other values as JSON text. The
// Log's time is the time of the call, since the object's time key and
// format are the encoder config's business, not the Writer's.
func jsonLineToLog(line []byte, fn func(frame []byte, repairs int)) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("invalid entry: want a framed SLS Log or a JSON object, got %q", clip(line))
	}
	now := time.Now()
	e := getEncoder(jsonConf)
	defer putEncoder(e)
	e.begin(now)
	if !utf8.Valid(line) {
		// encoding/json replaces invalid bytes with U+FFFD as it decodes:
		// a repair, counted as the Encoder counts its own.
		e.repairs++
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid entry: JSON: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("invalid entry: JSON value of %q: %w", key, err)
		}
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			e.AddString(key, s)
		} else {
			e.AddByteString(key, raw)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("invalid entry: JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("invalid entry: text after the JSON object in %q", clip(line))
	}
	e.finish(now)
	fn(e.buf, e.repairs)
	return nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
