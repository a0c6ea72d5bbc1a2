package zapsls

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/multierr"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/pb"
)

// lineReader turns what Writer.Write receives into framed Logs, applying
// LineOptions. It is read-only after newLineReader, so safe for concurrent
// use.
type lineReader struct {
	conf *encoderConf // message and built-in options; its keys are affixed
	// builtin maps each built-in key as the lines write it to the key it is
	// stored under.
	builtin map[string]string
	// msgKey, timeKey, levelKey, callerKey and functionKey are as the lines
	// write them ("": none).
	msgKey, timeKey, levelKey, callerKey, functionKey string
	contentKey                                        string // as stored
	// rewrite is whether framed Logs change: a message or built-in option
	// is set.
	rewrite bool
}

func newLineReader(o LineOptions) *lineReader {
	def := keyOrDefault
	var opts []EncoderOption
	if o.MessageJSON != nil {
		opts = append(opts, WithMessageJSON(*o.MessageJSON))
	}
	if o.MessageKV != nil {
		opts = append(opts, WithMessageKV(*o.MessageKV))
	}
	conf := &encoderConf{
		EncoderConfig: zapcore.EncoderConfig{
			MessageKey: def(o.MessageKey, "msg"), LevelKey: def(o.LevelKey, "level"), TimeKey: def(o.TimeKey, "ts"),
			NameKey: def(o.NameKey, "logger"), CallerKey: def(o.CallerKey, "caller"), FunctionKey: def(o.FunctionKey, ""),
			StacktraceKey: def(o.StacktraceKey, "stacktrace"),
		},
		sep:           ".",
		maxValue:      DefaultMaxValueBytes,
		builtinPrefix: o.BuiltinPrefix,
		builtinSuffix: o.BuiltinSuffix,
		root:          o.BuiltinRoot,
		// The FieldSet fields that can be derived from an entry (see
		// LineOptions); the per-process ones are the "sls" encoding's.
		fields: FieldSet{FileKey: FieldOff, LineKey: FieldOff, PIDKey: FieldOff, ProgramKey: FieldOff, HostnameKey: FieldOff,
			LevelNumberKey: o.LevelNumberKey, FileNameKey: o.FileNameKey, ModuleKey: o.ModuleKey, UptimeKey: o.UptimeKey},
	}
	for _, opt := range opts {
		opt.apply(conf)
	}
	r := &lineReader{
		msgKey: conf.MessageKey, timeKey: conf.TimeKey, levelKey: conf.LevelKey,
		callerKey: conf.CallerKey, functionKey: conf.FunctionKey,
		rewrite: len(opts) > 0 || o.BuiltinPrefix != "" || o.BuiltinSuffix != "" || o.BuiltinRoot != "" ||
			keyOrDefault(o.LevelNumberKey, "")+keyOrDefault(o.FileNameKey, "")+keyOrDefault(o.ModuleKey, "")+keyOrDefault(o.UptimeKey, "") != "",
	}
	c := &conf.EncoderConfig
	keys := []*string{&c.MessageKey, &c.LevelKey, &c.TimeKey, &c.NameKey, &c.CallerKey, &c.FunctionKey, &c.StacktraceKey}
	raw := make([]string, len(keys))
	for i, k := range keys {
		raw[i] = *k
	}
	contentRaw := def(o.ContentKey, "content")
	conf.prepare() // affixes the EncoderConfig keys, resolves the FieldSet
	r.conf = conf
	r.builtin = map[string]string{contentRaw: conf.builtinPrefix + contentRaw + conf.builtinSuffix}
	for i, k := range keys {
		if raw[i] != "" {
			r.builtin[raw[i]] = *k
		}
	}
	r.contentKey = r.builtin[contentRaw]
	// The default FieldSet, as the "sls" encoding writes it.
	for _, k := range []string{"pid", "program", "hostname"} {
		r.builtin[k] = conf.builtinPrefix + k + conf.builtinSuffix
	}
	return r
}

// forEachEntry splits what Writer.Write received into framed Logs and calls
// fn for each. p holds either framed Logs as the zapsls Encoder writes them
// (each optionally followed by its repair count; rewritten when the
// LineOptions change anything), or lines: JSON objects, one per line, and
// text (see textToLog). A part it cannot use (a Log SLS would refuse, a
// binary line) is skipped and the entries after it are still passed to
// fn; the returned error has one error per skipped part (multierr.Errors
// lists them). Only after a broken frame (a bad tag or length) can nothing
// further be found: the rest of p is that one bad part. So is all of p
// when it starts like neither (binary that is not a frame, say).
func (r *lineReader) forEachEntry(p []byte, fn func(frame []byte, repairs int)) error {
	if looksFramed(p) {
		if !r.rewrite {
			return forEachFrame(p, fn)
		}
		return forEachFrame(p, func(frame []byte, repairs int) {
			r.rewriteFrame(frame, repairs, fn)
		})
	}
	if rest := bytes.TrimLeft(p, " \t\r\n"); len(rest) > 0 && isBinary(rest[:1]) {
		first, _, _ := bytes.Cut(rest, []byte("\n"))
		return fmt.Errorf("invalid entry: want a framed SLS Log, a JSON object or text, got %q", clip(bytes.TrimSpace(first)))
	}
	var errs error
	// text is the text entry being gathered: a console line and the lines
	// after it that start no entry (its stack trace); multi is whether it
	// may take more lines.
	var text []byte
	multi := false
	flush := func() {
		if len(text) > 0 {
			r.textToLog(text, fn)
			text = text[:0]
		}
	}
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if isBinary(line) {
			flush()
			errs = multierr.Append(errs, fmt.Errorf("invalid entry: want a framed SLS Log, a JSON object or text, got binary %q", clip(line)))
			continue
		}
		if trimmed := bytes.TrimSpace(line); trimmed[0] == '{' {
			flush() // a JSON line, or a text line that starts its own entry
			if r.jsonLineToLog(string(trimmed), fn) {
				continue
			}
		}
		starts := r.startsEntry(line)
		if len(text) > 0 && multi && !starts {
			text = append(append(text, '\n'), line...) // a stack trace line, say
			continue
		}
		flush()
		text, multi = append(text, line...), starts
	}
	flush()
	return errs
}

// isBinary reports whether line has control bytes that no text log has: any
// below 0x20 but tab and escape (ANSI colours), and DEL.
func isBinary(line []byte) bool {
	for _, c := range line {
		if c < 0x20 && c != '\t' && c != 0x1b || c == 0x7f {
			return true
		}
	}
	return false
}

// jsonLineToLog converts one JSON object into a framed Log: each top-level
// key becomes a content, strings unquoted, other values as JSON text, with
// the LineOptions applied. The Log's time is the entry's own, read from the
// time key (see parseLineTime), or the time of the call when the line has
// none that reads. It reports false, having called nothing, when line is
// not exactly one JSON object.
func (r *lineReader) jsonLineToLog(line string, fn func(frame []byte, repairs int)) bool {
	var t time.Time
	if !forEachMember(line, func(rawKey, raw string) {
		if r.timeKey != "" && rawKey == r.timeKey {
			t, _ = parseLineTime(raw)
		}
	}) {
		return false
	}
	e := getEncoder(r.conf)
	defer putEncoder(e)
	t = entryTime(t)
	e.begin(t)
	forEachMember(line, func(rawKey, raw string) {
		key := rawKey
		if strings.IndexByte(rawKey, '\\') >= 0 {
			key = string(appendJSONUnquoted(nil, rawKey))
		}
		if raw[0] == '"' {
			val := string(appendJSONUnquoted(e.scratch[:0], raw[1:len(raw)-1]))
			r.member(e, key, val)
			return
		}
		r.member(e, key, raw)
	})
	r.finish(e, t, fn)
	return true
}

// entryTime is the time to give a Log whose line said t (zero: none that
// reads): t itself, or the time of the call. A time SLS would refuse is the
// batcher's to repair (see MaxEntryAge), as for every entry.
func entryTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// member adds one part of a line or of a frame being rewritten: the
// message, a built-in field, or an application field.
func (r *lineReader) member(e *encoder, key, val string) {
	if key == r.msgKey {
		e.addMessage(r.conf.MessageKey, val)
		return
	}
	if stored, ok := r.builtin[key]; ok {
		builtin(e, stored, val, utf8.ValidString)
		r.derive(e, key, val)
		return
	}
	addValue(e, key, val, utf8.ValidString)
}

// derive adds the FieldSet fields that the built-in part key=val gives
// (see LineOptions.LevelNumberKey).
func (r *lineReader) derive(e *encoder, key, val string) {
	fs := &r.conf.fields
	switch key {
	case r.levelKey:
		if l, ok := consoleLevel([]byte(val)); ok && fs.LevelNumberKey != "" {
			e.builtinInt(fs.LevelNumberKey, int64(l))
		}
	case r.callerKey:
		if fs.FileNameKey != "" {
			if i := strings.LastIndexByte(val, ':'); i > 0 {
				val = val[:i]
			}
			builtin(e, fs.FileNameKey, fileBase(val), utf8.ValidString)
		}
	case r.functionKey:
		if fs.ModuleKey != "" && val != "" {
			builtin(e, fs.ModuleKey, packagePath(val), utf8.ValidString)
		}
	}
}

func (r *lineReader) finish(e *encoder, t time.Time, fn func(frame []byte, repairs int)) {
	if k := r.conf.fields.UptimeKey; k != "" {
		e.builtinInt(k, t.Sub(processStart).Milliseconds())
	}
	if r.conf.root != "" {
		e.addRoot()
	}
	fn(e.finish(t), e.repairs)
}

// rewriteFrame applies the LineOptions to a framed Log that forEachFrame
// checked: its contents go through member, its time stays.
func (r *lineReader) rewriteFrame(frame []byte, repairs int, fn func(frame []byte, repairs int)) {
	_, n := pb.ConsumeVarint(frame[1:])
	log := frame[1+n:]
	var sec uint64
	var ns uint32
	forEachLogField(log, func(tag byte, varint uint64, field []byte) {
		switch tag {
		case pb.TagLogTime:
			sec = varint
		case pb.TagLogTimeNs:
			ns = binary32(field)
		}
	})
	t := time.Unix(int64(sec), int64(ns))
	e := getEncoder(r.conf)
	defer putEncoder(e)
	e.begin(t)
	e.repairs = repairs
	forEachLogField(log, func(tag byte, _ uint64, content []byte) {
		if tag != pb.TagLogContent {
			return
		}
		var key, val []byte
		for len(content) > 0 {
			t := content[0]
			field, rest, _ := consumeBytes(content[1:])
			if t == pb.TagKey {
				key = field
			} else {
				val = field
			}
			content = rest
		}
		r.member(e, string(key), string(val))
	})
	r.finish(e, t, fn)
}

// forEachLogField calls fn for each field of a Log that validateLog
// accepted: Time with its varint, TimeNs and Contents with their bytes.
func forEachLogField(b []byte, fn func(tag byte, varint uint64, field []byte)) {
	for len(b) > 0 {
		tag := b[0]
		b = b[1:]
		switch tag {
		case pb.TagLogTime:
			v, m := pb.ConsumeVarint(b)
			fn(tag, v, nil)
			b = b[m:]
		case pb.TagLogTimeNs:
			fn(tag, 0, b[:4])
			b = b[4:]
		default: // pb.TagLogContent
			field, rest, _ := consumeBytes(b)
			fn(tag, 0, field)
			b = rest
		}
	}
}

func binary32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// parseLineTime reads a time as zap's EncodeTime functions write it:
// epoch seconds, milliseconds or nanoseconds as a JSON number (told apart
// by magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds), or a JSON string in ISO 8601
// (2006-01-02T15:04:05.000Z0700), RFC 3339 or RFC 3339 with nanoseconds.
func parseLineTime(raw string) (time.Time, bool) {
	if raw[0] == '"' {
		s := raw[1 : len(raw)-1]
		if strings.IndexByte(s, '\\') >= 0 {
			s = string(appendJSONUnquoted(nil, s))
		}
		return parseTextTime(s)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, false
	}
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		abs := i
		if abs < 0 {
			abs = -abs
		}
		switch {
		case abs < 1e11:
			return time.Unix(i, 0), true
		case abs < 1e14:
			return time.UnixMilli(i), true
		case abs < 1e17:
			return time.UnixMicro(i), true
		}
		return time.Unix(0, i), true
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	scale := 1e9 // nanoseconds per unit
	switch abs := math.Abs(f); {
	case abs < 1e11:
	case abs < 1e14:
		scale = 1e6
	case abs < 1e17:
		scale = 1e3
	default:
		scale = 1
	}
	sec, frac := math.Modf(f * scale / 1e9)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))), true
}

// textTimeLayouts are the layouts of zap's ISO8601TimeEncoder and
// RFC3339(Nano)TimeEncoder; time.Parse reads fractional seconds whatever
// the layout says.
var textTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700"}

func parseTextTime(s string) (time.Time, bool) {
	for _, layout := range textTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// startsEntry reports whether a text line begins an entry as zap's console
// encoder writes it: its first tab-separated field is a time or a level.
// Other lines (a stack trace's) continue the entry before them.
func (r *lineReader) startsEntry(line []byte) bool {
	first, _, _ := bytes.Cut(line, []byte{'\t'})
	if _, ok := parseTextTime(string(first)); ok {
		return true
	}
	_, ok := consoleLevel(first)
	return ok
}

// consoleLevel reads a level as zap's level encoders write it: lower or
// capital, with or without ANSI colour codes.
func consoleLevel(field []byte) (zapcore.Level, bool) {
	s := string(field)
	if strings.HasPrefix(s, "\x1b[") {
		if i := strings.IndexByte(s, 'm'); i > 0 {
			s = s[i+1:]
		}
		s = strings.TrimSuffix(s, "\x1b[0m")
	}
	var l zapcore.Level
	if s == "" || l.UnmarshalText([]byte(s)) != nil {
		return 0, false
	}
	return l, true
}

// textToLog ships a text entry (a console line and its continuation lines)
// as one content under ContentKey, as the SLS Java appenders do. When the
// console layout allows (time, then level, separated by tabs; either may
// be missing), the time becomes the Log's time and the level a content
// under LevelKey; else the Log has the time of the call.
func (r *lineReader) textToLog(text []byte, fn func(frame []byte, repairs int)) {
	var t time.Time
	first, _, _ := bytes.Cut(text, []byte{'\n'})
	fields := bytes.SplitN(first, []byte{'\t'}, 3)
	i := 0
	if pt, ok := parseTextTime(string(fields[0])); ok {
		t, i = pt, 1
	}
	e := getEncoder(r.conf)
	defer putEncoder(e)
	t = entryTime(t)
	e.begin(t)
	if i < len(fields) && r.levelKey != "" {
		if l, ok := consoleLevel(fields[i]); ok {
			builtin(e, r.conf.LevelKey, l.String(), utf8.ValidString)
			r.derive(e, r.levelKey, l.String())
		}
	}
	builtin(e, r.contentKey, text, utf8.Valid)
	r.finish(e, t, fn)
}
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
