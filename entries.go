package zapsls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"go.uber.org/multierr"
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
