package zapsls

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/jsontext"
	"github.com/zapsls/zapsls/internal/pb"
)

// EncoderOption configures NewEncoder.
type EncoderOption interface {
	apply(*encoderConf)
}

type encoderOptionFunc func(*encoderConf)

func (f encoderOptionFunc) apply(c *encoderConf) { f(c) }

// WithFieldSet chooses the built-in fields beyond the EncoderConfig keys.
// Without it, NewEncoder uses DefaultFieldSet; an empty key in fs means that
// field's default (see FieldSet).
func WithFieldSet(fs FieldSet) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) { c.fields = fs })
}

// WithKeySeparator sets the separator between the parts of a flattened key:
// zap.Object("user", u) with a "name" field arrives as "user.name" by
// default. An empty separator is ignored.
func WithKeySeparator(sep string) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) {
		if sep != "" {
			c.sep = sep
		}
	})
}

// WithMaxValueBytes caps each content value; longer values are cut at a
// UTF-8 boundary and end with TruncatedMarker. The default, and the most
// SLS accepts, is DefaultMaxValueBytes: a longer value would make SLS
// refuse the whole batch it rides in, so n above it is lowered to it, and
// NewCore reports that, once per encoder and its clones, through the
// Writer's OnError as a *ConfigError whose Field is "WithMaxValueBytes".
// Values of n below 64 are raised to 64.
func WithMaxValueBytes(n int) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) {
		c.maxValue = min(max(n, 64), DefaultMaxValueBytes)
		c.optionErr = nil
		if n > DefaultMaxValueBytes {
			c.optionErr = &ConfigError{Field: "WithMaxValueBytes", Problem: fmt.Sprintf(
				"%d: SLS accepts values of at most %d bytes; longer values are cut to %d", n, DefaultMaxValueBytes, DefaultMaxValueBytes)}
		}
	})
}

// encoderConf is shared, read-only, by an encoder and all its clones.
type encoderConf struct {
	zapcore.EncoderConfig // keys with the built-in affixes, after prepare
	fields                FieldSet
	sep                   string
	maxValue              int

	// optionErr is an option that was beyond SLS's limits and was brought
	// within them; NewCore reports it once (optionReported).
	optionErr      *ConfigError
	optionReported atomic.Bool

	msgJSON, msgKV               *Extract // nil: off
	builtinPrefix, builtinSuffix string
	// root, when set, is the content that holds the built-in fields as a
	// JSON object (WithBuiltinRoot); rootProcess is then the per-process
	// members of that object, each led by a comma.
	root        string
	rootProcess []byte
}

// prepare resolves the FieldSet and puts the built-in affixes around every
// built-in key, once, so that encoding costs nothing for them.
func (c *encoderConf) prepare() {
	c.fields = c.fields.resolved().affixed(c.builtinPrefix, c.builtinSuffix)
	if c.builtinPrefix == "" && c.builtinSuffix == "" {
		return
	}
	for _, k := range []*string{&c.MessageKey, &c.LevelKey, &c.TimeKey, &c.NameKey, &c.CallerKey, &c.FunctionKey, &c.StacktraceKey} {
		if *k != "" {
			*k = c.builtinPrefix + *k + c.builtinSuffix
		}
	}
}

// encoder implements zapcore.Encoder by writing SLS Log protobuf bytes.
//
// Objects and namespaces are flattened into key prefixes, so that every
// scalar lands in a content of its own; arrays and reflected values are JSON
// text. An encoder is not safe for concurrent use, as zap requires; With
// clones it, and clones share nothing mutable.
type encoder struct {
	conf *encoderConf
	// buf holds encoded Log.Contents: the accumulated context of a With
	// chain (its prefix bytes included), or the Log being built during
	// encode.
	buf []byte
	// prefix is prepended to every key: open namespaces and objects, each
	// followed by the separator.
	prefix []byte
	// repairs counts keys renamed or cut and values cut or re-encoded.
	repairs int
	// skipped tells whether encode met a zapcore.SkipType field, which
	// routing fields are (Core.Write looks for them only then).
	skipped bool
	// root collects the built-in fields with WithBuiltinRoot: JSON object
	// members, each led by a comma.
	root []byte

	scratch    []byte // a value being formatted
	keyScratch []byte // a key being repaired
	text       textEncoder
	json       jsontext.Encoder
	reflectBuf *bytes.Buffer
	reflectEnc zapcore.ReflectedEncoder
}

var _ zapcore.Encoder = (*encoder)(nil)

// NewEncoder returns a zapcore.Encoder whose EncodeEntry writes one SLS Log,
// framed as field 1 of a LogGroup (0x0A, varint length, Log), so that a
// LogGroup body is the concatenation of entries. The field mapping:
//
//   - entry time: Log.Time (seconds) and Log.TimeNs (nanoseconds part); a
//     content under TimeKey only when TimeKey is set, encoded by EncodeTime.
//   - level, logger name, caller, function, message, stack: contents under
//     the EncoderConfig keys, encoded by its Encode* functions; an empty key
//     leaves the part out. FieldSet adds file, line, pid, program, hostname,
//     level number, file name, module and uptime. WithBuiltinAffixes renames
//     all these keys at once; WithBuiltinRoot gathers them in one content.
//   - the message: WithMessageJSON and WithMessageKV add the contents found
//     in it, where the message stands.
//   - strings, bools, integers, floats: their text. Floats are the shortest
//     text that round-trips, NaN, +Inf and -Inf spelled so.
//   - zap.Error: key = Error(), keyVerbose = %+v when that adds detail,
//     keyCauses for multiple errors, as zap's JSON encoder does.
//   - zap.Object, zap.Namespace, zap.Inline: flattened to keys joined by the
//     separator ("user.name"); an object with no fields is "{}".
//   - arrays, reflected values (zap.Any of maps, structs, slices): JSON text.
//   - zap.Binary: standard base64. Strings and byte strings: valid UTF-8,
//     each invalid byte replaced by U+FFFD.
//   - zap.Duration, zap.Time: EncodeDuration, EncodeTime of the config.
//   - keys SLS reserves, and empty keys: prefixed with RenamedKeyPrefix.
//     Keys over MaxKeyBytes and values over the value cap: cut, with
//     TruncatedMarker.
//
// Duplicate keys are kept as zap produced them (zap's own JSON encoder does
// the same); nothing is dropped.
//
// When it had to repair something, EncodeEntry appends a varint field 15 to
// the LogGroup-level bytes after the framed Log, with the number of repairs:
// protobuf decoders skip it, and Writer.Write strips it and adds it to
// Stats.Repaired.
func NewEncoder(cfg zapcore.EncoderConfig, opts ...EncoderOption) zapcore.Encoder {
	conf := &encoderConf{
		EncoderConfig: cfg,
		fields:        DefaultFieldSet(),
		sep:           ".",
		maxValue:      DefaultMaxValueBytes,
	}
	for _, o := range opts {
		o.apply(conf)
	}
	conf.prepare()
	enc := newEncoder(conf)
	for _, kv := range conf.fields.processValues() {
		if conf.root == "" {
			enc.AddString(kv[0], kv[1])
		} else {
			conf.rootProcess = appendRootMember(conf.rootProcess, kv[0], kv[1])
		}
	}
	return enc
}

func newEncoder(conf *encoderConf) *encoder {
	e := &encoder{conf: conf}
	e.json.Config = &conf.EncoderConfig
	e.json.Reflect = e.encodeReflected
	return e
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

// maxPooledBytes caps the buffers an encoder keeps when it returns to the
// pool, so that one huge entry does not pin its memory for ever.
const maxPooledBytes = 64 << 10

func getEncoder(conf *encoderConf) *encoder {
	e := encoderPool.Get().(*encoder)
	if e.conf != conf {
		e.conf = conf
		e.json.Config = &conf.EncoderConfig
		e.reflectBuf, e.reflectEnc = nil, nil
	}
	if e.json.Reflect == nil {
		e.json.Reflect = e.encodeReflected
	}
	return e
}

func putEncoder(e *encoder) {
	if cap(e.buf) > maxPooledBytes || cap(e.scratch) > maxPooledBytes || cap(e.json.Buf) > maxPooledBytes {
		return
	}
	if e.reflectBuf != nil && e.reflectBuf.Cap() > maxPooledBytes {
		e.reflectBuf, e.reflectEnc = nil, nil
	}
	if cap(e.root) > maxPooledBytes {
		e.root = nil
	}
	e.buf, e.prefix, e.repairs, e.root = e.buf[:0], e.prefix[:0], 0, e.root[:0]
	encoderPool.Put(e)
}

// Clone copies the encoder, with its accumulated context.
func (e *encoder) Clone() zapcore.Encoder {
	c := newEncoder(e.conf)
	c.buf = append(make([]byte, 0, len(e.buf)+256), e.buf...)
	c.prefix = append([]byte(nil), e.prefix...)
	c.repairs = e.repairs
	return c
}

// bufferPool provides EncodeEntry's results; zap frees them after Write.
var bufferPool = buffer.NewPool()

// EncodeEntry returns the framed Log (see NewEncoder). The caller owns the
// buffer and frees it, as with every zapcore.Encoder.
func (e *encoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	final, frame := e.encode(ent, fields)
	out := bufferPool.Get()
	for out.Cap() > maxPooledBytes { // zap's pool keeps any size; shed big ones
		out = bufferPool.Get()
	}
	_, _ = out.Write(frame)
	if final.repairs > 0 {
		var trailer [repairsTrailerMax]byte
		_, _ = out.Write(appendRepairs(trailer[:0], final.repairs))
	}
	putEncoder(final)
	return out, nil
}

// encode builds the framed Log for ent in a pooled encoder and returns it,
// with the frame (see finish), valid until the caller puts the encoder back
// with putEncoder, as it must.
func (e *encoder) encode(ent zapcore.Entry, fields []zapcore.Field) (final *encoder, frame []byte) {
	final = getEncoder(e.conf)
	if ent.Time.IsZero() {
		ent.Time = time.Now()
	}
	final.begin(ent.Time)
	final.repairs = e.repairs

	c := &e.conf.EncoderConfig
	fs := &e.conf.fields
	if c.LevelKey != "" && c.EncodeLevel != nil {
		final.text.buf = final.scratch[:0]
		c.EncodeLevel(ent.Level, &final.text)
		final.builtinEncoded(c.LevelKey, ent.Level.String())
	}
	if fs.LevelNumberKey != "" {
		final.builtinInt(fs.LevelNumberKey, int64(ent.Level))
	}
	if c.TimeKey != "" {
		final.builtinTime(c.TimeKey, ent.Time)
	}
	if fs.UptimeKey != "" {
		final.builtinInt(fs.UptimeKey, ent.Time.Sub(processStart).Milliseconds())
	}
	if ent.LoggerName != "" && c.NameKey != "" {
		final.text.buf = final.scratch[:0]
		name := c.EncodeName
		if name == nil {
			name = zapcore.FullNameEncoder
		}
		name(ent.LoggerName, &final.text)
		final.builtinEncoded(c.NameKey, ent.LoggerName)
	}
	if ent.Caller.Defined {
		if c.CallerKey != "" {
			final.text.buf = final.scratch[:0]
			if c.EncodeCaller != nil {
				c.EncodeCaller(ent.Caller, &final.text)
			}
			if len(final.text.buf) == 0 {
				builtin(final, c.CallerKey, ent.Caller.String(), utf8.ValidString)
			} else {
				final.builtinEncoded(c.CallerKey, "")
			}
		}
		if c.FunctionKey != "" {
			builtin(final, c.FunctionKey, ent.Caller.Function, utf8.ValidString)
		}
		if fs.FileKey != "" {
			builtin(final, fs.FileKey, ent.Caller.File, utf8.ValidString)
		}
		if fs.LineKey != "" {
			final.builtinInt(fs.LineKey, int64(ent.Caller.Line))
		}
		if fs.FileNameKey != "" {
			builtin(final, fs.FileNameKey, fileBase(ent.Caller.File), utf8.ValidString)
		}
		if fs.ModuleKey != "" && ent.Caller.Function != "" {
			builtin(final, fs.ModuleKey, packagePath(ent.Caller.Function), utf8.ValidString)
		}
	}
	final.addMessage(c.MessageKey, ent.Message)
	final.buf = append(final.buf, e.buf...)
	final.prefix = append(final.prefix[:0], e.prefix...)
	final.skipped = false
	for i := range fields {
		switch f := &fields[i]; f.Type {
		case zapcore.StringType:
			final.AddString(f.Key, f.String) // what AddTo does, without its switch
		case zapcore.SkipType:
			final.skipped = true // nothing to add; maybe a routing field
		default:
			f.AddTo(final)
		}
	}
	final.prefix = final.prefix[:0]
	if ent.Stack != "" && c.StacktraceKey != "" {
		builtin(final, c.StacktraceKey, ent.Stack, utf8.ValidString)
	}
	if e.conf.root != "" {
		final.addRoot()
	}
	return final, final.finish(ent.Time)
}

// builtin adds a built-in field: as a content, or with WithBuiltinRoot as a
// member of the root object. valid is as addValue's.
func builtin[S string | []byte](e *encoder, key string, val S, valid func(S) bool) {
	if e.conf.root == "" {
		addValue(e, key, val, valid)
		return
	}
	if !isASCII(val) && !valid(val) {
		e.repairs++ // appendRootMember writes each invalid byte as \ufffd
	}
	e.root = appendRootMember(e.root, key, val)
}

// appendRootMember appends ,"key":"val" to a root object's members.
func appendRootMember[S string | []byte](b []byte, key string, val S) []byte {
	b = jsontext.AppendString(append(b, ','), key)
	b = append(b, ':')
	switch v := any(val).(type) {
	case string:
		return jsontext.AppendString(b, v)
	case []byte:
		return jsontext.AppendBytes(b, v)
	}
	return b
}

// addRoot adds the root content (WithBuiltinRoot) that builtin collected,
// with the per-process members, unless there is none.
func (e *encoder) addRoot() {
	e.root = append(e.root, e.conf.rootProcess...)
	if len(e.root) == 0 {
		return
	}
	e.root[0] = '{'
	e.root = append(e.root, '}')
	addValue(e, e.conf.root, e.root, alwaysValid)
}

// builtinEncoded adds, as a built-in field, the value an Encode* function
// wrote into e.text, or fallback when it wrote nothing.
func (e *encoder) builtinEncoded(key, fallback string) {
	if e.conf.root == "" {
		e.addEncoded(key, fallback)
		return
	}
	e.scratch = e.text.buf
	if len(e.scratch) == 0 {
		builtin(e, key, fallback, utf8.ValidString)
		return
	}
	builtin(e, key, e.scratch, utf8.Valid)
}

func (e *encoder) builtinInt(key string, v int64) {
	e.scratch = strconv.AppendInt(e.scratch[:0], v, 10)
	builtin(e, key, e.scratch, alwaysValid)
}

// builtinTime is AddTime for a built-in field.
func (e *encoder) builtinTime(key string, t time.Time) {
	if !e.formatTime(t) {
		e.builtinInt(key, t.UnixNano())
		return
	}
	e.builtinEncoded(key, "")
}

// formatTime writes t into e.text with EncodeTime, and reports whether it
// wrote anything.
func (e *encoder) formatTime(t time.Time) bool {
	e.text.buf = e.scratch[:0]
	if e.conf.EncodeTime != nil {
		e.conf.EncodeTime(t, &e.text)
	}
	return len(e.text.buf) > 0
}

// addEncoded adds the value an Encode* function wrote into e.text, or
// fallback when it wrote nothing, as zap's JSON encoder does.
func (e *encoder) addEncoded(key, fallback string) {
	e.scratch = e.text.buf
	if len(e.scratch) == 0 {
		e.AddString(key, fallback)
		return
	}
	e.AddByteString(key, e.scratch)
}

// addValue appends one Content. It repairs the key and the value where SLS
// would refuse them; the common case, which needs no repair, takes
// addPlain. valid checks a value that is not ASCII (ASCII is valid UTF-8):
// utf8.ValidString or utf8.Valid, or alwaysValid for text the encoder made.
func addValue[S string | []byte](e *encoder, key string, val S, valid func(S) bool) {
	if addPlain(e, key, val, valid) {
		return
	}
	keyPart := e.prefix
	if !e.keyOK(key) {
		keyPart, key = e.repairKey(key), ""
	}
	if len(val) > e.conf.maxValue || !isASCII(val) && !valid(val) {
		e.addRepaired(keyPart, key, string(val))
		return
	}
	e.appendContent(keyPart, key, len(val))
	e.buf = append(e.buf, val...)
}

// appendContent appends a Content's header, key included, for a value of
// valLen bytes that the caller appends next.
func (e *encoder) appendContent(keyPart []byte, key string, valLen int) {
	keyLen := len(keyPart) + len(key)
	if inner := 4 + keyLen + valLen; inner < 0x80 {
		// Every length fits in one byte, the common case: fewer appends.
		e.buf = append(e.buf, pb.TagLogContent, byte(inner), pb.TagKey, byte(keyLen))
		e.buf = append(e.buf, keyPart...)
		e.buf = append(e.buf, key...)
		e.buf = append(e.buf, pb.TagValue, byte(valLen))
		return
	}
	inner := 2 + pb.SizeVarint(uint64(keyLen)) + keyLen + pb.SizeVarint(uint64(valLen)) + valLen
	e.buf = append(e.buf, pb.TagLogContent)
	e.buf = pb.AppendVarint(e.buf, uint64(inner))
	e.buf = append(e.buf, pb.TagKey)
	e.buf = pb.AppendVarint(e.buf, uint64(keyLen))
	e.buf = append(e.buf, keyPart...)
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, pb.TagValue)
	e.buf = pb.AppendVarint(e.buf, uint64(valLen))
}

// addRepaired adds a value that is invalid UTF-8 or too long.
func (e *encoder) addRepaired(keyPart []byte, key, val string) {
	e.repairs++
	fixed := appendValidUTF8(e.scratch[:0], val)
	if len(fixed) > e.conf.maxValue {
		fixed = append(truncateUTF8(fixed, e.conf.maxValue-len(TruncatedMarker)), TruncatedMarker...)
	}
	e.scratch = fixed
	e.appendContent(keyPart, key, len(fixed))
	e.buf = append(e.buf, fixed...)
}

// keyOK reports whether prefix+key is a key SLS accepts as it is. It is the
// fast path: short, valid, not starting with an underscore.
func (e *encoder) keyOK(key string) bool {
	n := len(e.prefix) + len(key)
	if n == 0 || n > MaxKeyBytes {
		return false
	}
	first := byte(0)
	if len(e.prefix) > 0 {
		first = e.prefix[0]
	} else {
		first = key[0]
	}
	if first == '_' {
		full := append(e.keyScratch[:0], e.prefix...)
		full = append(full, key...)
		e.keyScratch = full
		if reservedKey(string(full)) {
			return false
		}
	}
	return validString(key) && (len(e.prefix) == 0 || validBytes(e.prefix))
}

// repairKey returns the full key made acceptable: renamed, made valid UTF-8,
// cut to MaxKeyBytes.
func (e *encoder) repairKey(key string) []byte {
	e.repairs++
	full := append(e.keyScratch[:0], e.prefix...)
	full = append(full, key...)
	if len(full) == 0 || reservedKey(string(full)) {
		full = append([]byte(RenamedKeyPrefix), full...)
	}
	if !utf8.Valid(full) {
		full = appendValidUTF8(nil, string(full))
	}
	if len(full) > MaxKeyBytes {
		full = append(truncateUTF8(full, MaxKeyBytes-len(TruncatedMarker)), TruncatedMarker...)
	}
	e.keyScratch = full
	return full
}

// appendValidUTF8 appends s with each invalid byte replaced by U+FFFD.
func appendValidUTF8(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// validString is utf8.ValidString, faster on ASCII, the common case.
func validString(s string) bool { return isASCII(s) || utf8.ValidString(s) }

// validBytes is utf8.Valid, faster on ASCII, the common case.
func validBytes(b []byte) bool { return isASCII(b) || utf8.Valid(b) }

// isASCII reports whether s is ASCII, and thus valid UTF-8, eight bytes at
// a time: on the short strings of log contents, about twice as fast as
// the utf8 package, whose loop is general.
func isASCII[S string | []byte](s S) bool {
	const high = 0x8080808080808080
	if len(s) < 8 {
		var or byte
		for i := 0; i < len(s); i++ {
			or |= s[i]
		}
		return or < utf8.RuneSelf
	}
	or := word(s[len(s)-8:]) // the last eight bytes; the loop may stop short of them
	for i := 0; i+16 <= len(s); i += 16 {
		or |= word(s[i:]) | word(s[i+8:])
	}
	if len(s)&8 != 0 {
		or |= word(s[len(s)&^15:])
	}
	return or&high == 0
}

// word is the first eight bytes of s, little-endian: one load where the
// compiler can.
func word[S string | []byte](s S) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// truncateUTF8 cuts valid UTF-8 b to at most n bytes without splitting a
// rune.
func truncateUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

func (e *encoder) AddString(key, val string) { addValue(e, key, val, utf8.ValidString) }

// addPlain adds key and val as they are, and reports true, when they need
// no repair: an ASCII key SLS accepts as it is (see keyOK), outside any
// object or namespace, and a value within the cap that is ASCII or, by
// valid, valid UTF-8 (text in most of the world's languages). It is
// addValue's common case, without its key checks; when it reports false,
// nothing was added.
func addPlain[S string | []byte](e *encoder, key string, val S, valid func(S) bool) bool {
	if len(e.prefix) != 0 || len(key) == 0 || len(key) > MaxKeyBytes || key[0] == '_' ||
		len(val) > e.conf.maxValue || !isASCII(key) || !isASCII(val) && !valid(val) {
		return false
	}
	inner := 4 + len(key) + len(val)
	if inner >= 0x80 {
		e.appendContent(nil, key, len(val))
		e.buf = append(e.buf, val...)
		return true
	}
	// Every length fits in one byte: one capacity check, and the bytes
	// stored in place.
	b, n := e.buf, len(e.buf)
	b = slices.Grow(b, 2+inner)[:n+2+inner]
	b[n], b[n+1], b[n+2], b[n+3] = pb.TagLogContent, byte(inner), pb.TagKey, byte(len(key))
	n += 4 + copy(b[n+4:], key)
	b[n], b[n+1] = pb.TagValue, byte(len(val))
	copy(b[n+2:], val)
	e.buf = b
	return true
}

func (e *encoder) AddByteString(key string, val []byte) { addValue(e, key, val, utf8.Valid) }

func alwaysValid([]byte) bool { return true }

// addText adds a value the encoder formatted itself: valid UTF-8 already.
func (e *encoder) addText(key string, val []byte) {
	e.scratch = val
	addValue(e, key, val, alwaysValid)
}

func (e *encoder) AddBool(key string, val bool) {
	e.addText(key, strconv.AppendBool(e.scratch[:0], val))
}

func (e *encoder) AddInt64(key string, val int64) {
	e.addText(key, strconv.AppendInt(e.scratch[:0], val, 10))
}

func (e *encoder) AddUint64(key string, val uint64) {
	e.addText(key, strconv.AppendUint(e.scratch[:0], val, 10))
}

func (e *encoder) AddInt(key string, val int)         { e.AddInt64(key, int64(val)) }
func (e *encoder) AddInt32(key string, val int32)     { e.AddInt64(key, int64(val)) }
func (e *encoder) AddInt16(key string, val int16)     { e.AddInt64(key, int64(val)) }
func (e *encoder) AddInt8(key string, val int8)       { e.AddInt64(key, int64(val)) }
func (e *encoder) AddUint(key string, val uint)       { e.AddUint64(key, uint64(val)) }
func (e *encoder) AddUint32(key string, val uint32)   { e.AddUint64(key, uint64(val)) }
func (e *encoder) AddUint16(key string, val uint16)   { e.AddUint64(key, uint64(val)) }
func (e *encoder) AddUint8(key string, val uint8)     { e.AddUint64(key, uint64(val)) }
func (e *encoder) AddUintptr(key string, val uintptr) { e.AddUint64(key, uint64(val)) }

func (e *encoder) AddFloat64(key string, val float64) {
	e.addText(key, jsontext.AppendFloat(e.scratch[:0], val, 64))
}

func (e *encoder) AddFloat32(key string, val float32) {
	e.addText(key, jsontext.AppendFloat(e.scratch[:0], float64(val), 32))
}

func (e *encoder) AddComplex128(key string, val complex128) {
	e.addText(key, jsontext.AppendComplex(e.scratch[:0], val, 64))
}

func (e *encoder) AddComplex64(key string, val complex64) {
	e.addText(key, jsontext.AppendComplex(e.scratch[:0], complex128(val), 32))
}

func (e *encoder) AddBinary(key string, val []byte) {
	e.addText(key, base64.StdEncoding.AppendEncode(e.scratch[:0], val))
}

// AddDuration uses EncodeDuration, falling back to nanoseconds.
func (e *encoder) AddDuration(key string, val time.Duration) {
	e.text.buf = e.scratch[:0]
	if e.conf.EncodeDuration != nil {
		e.conf.EncodeDuration(val, &e.text)
	}
	if len(e.text.buf) == 0 {
		e.AddInt64(key, int64(val))
		return
	}
	e.addEncoded(key, "")
}

// AddTime uses EncodeTime, falling back to Unix nanoseconds.
func (e *encoder) AddTime(key string, val time.Time) {
	if !e.formatTime(val) {
		e.AddInt64(key, val.UnixNano())
		return
	}
	e.addEncoded(key, "")
}

// AddArray stores arr as JSON text.
func (e *encoder) AddArray(key string, arr zapcore.ArrayMarshaler) error {
	e.json.Buf = e.json.Buf[:0]
	err := e.json.WriteArray(arr)
	// jsontext writes valid UTF-8 (invalid input bytes become \ufffd).
	addValue(e, key, e.json.Buf, alwaysValid)
	return err
}

// AddObject flattens obj: its fields become contents under key+separator.
func (e *encoder) AddObject(key string, obj zapcore.ObjectMarshaler) error {
	outer := len(e.prefix)
	e.prefix = append(append(e.prefix, key...), e.conf.sep...)
	before := len(e.buf)
	err := obj.MarshalLogObject(e)
	e.prefix = e.prefix[:outer]
	if len(e.buf) == before {
		e.AddString(key, "{}")
	}
	return err
}

// OpenNamespace prefixes the keys of the fields that follow, until the end
// of the enclosing object or entry.
func (e *encoder) OpenNamespace(key string) {
	e.prefix = append(append(e.prefix, key...), e.conf.sep...)
}

// AddReflected stores obj as the JSON text of the configured reflected
// encoder (encoding/json without HTML escaping by default).
func (e *encoder) AddReflected(key string, obj interface{}) error {
	b, err := e.encodeReflected(obj)
	if err != nil {
		return err
	}
	addValue(e, key, b, utf8.Valid)
	return nil
}

func (e *encoder) encodeReflected(obj interface{}) ([]byte, error) {
	if obj == nil {
		return []byte("null"), nil
	}
	if e.reflectBuf == nil {
		e.reflectBuf = new(bytes.Buffer)
		if e.conf.NewReflectedEncoder != nil {
			e.reflectEnc = e.conf.NewReflectedEncoder(e.reflectBuf)
		} else {
			je := json.NewEncoder(e.reflectBuf)
			je.SetEscapeHTML(false)
			e.reflectEnc = je
		}
	}
	e.reflectBuf.Reset()
	if err := e.reflectEnc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.reflectBuf.Bytes(), []byte("\n")), nil
}

// textEncoder receives what the config's Encode* functions write for one
// value, as plain text.
type textEncoder struct{ buf []byte }

var _ zapcore.PrimitiveArrayEncoder = (*textEncoder)(nil)

func (t *textEncoder) AppendBool(v bool)         { t.buf = strconv.AppendBool(t.buf, v) }
func (t *textEncoder) AppendByteString(v []byte) { t.buf = append(t.buf, v...) }
func (t *textEncoder) AppendComplex128(v complex128) {
	t.buf = jsontext.AppendComplex(t.buf, v, 64)
}
func (t *textEncoder) AppendComplex64(v complex64) {
	t.buf = jsontext.AppendComplex(t.buf, complex128(v), 32)
}
func (t *textEncoder) AppendFloat64(v float64) { t.buf = jsontext.AppendFloat(t.buf, v, 64) }
func (t *textEncoder) AppendFloat32(v float32) { t.buf = jsontext.AppendFloat(t.buf, float64(v), 32) }
func (t *textEncoder) AppendInt(v int)         { t.buf = strconv.AppendInt(t.buf, int64(v), 10) }
func (t *textEncoder) AppendInt64(v int64)     { t.buf = strconv.AppendInt(t.buf, v, 10) }
func (t *textEncoder) AppendInt32(v int32)     { t.buf = strconv.AppendInt(t.buf, int64(v), 10) }
func (t *textEncoder) AppendInt16(v int16)     { t.buf = strconv.AppendInt(t.buf, int64(v), 10) }
func (t *textEncoder) AppendInt8(v int8)       { t.buf = strconv.AppendInt(t.buf, int64(v), 10) }
func (t *textEncoder) AppendString(v string)   { t.buf = append(t.buf, v...) }
func (t *textEncoder) AppendUint(v uint)       { t.buf = strconv.AppendUint(t.buf, uint64(v), 10) }
func (t *textEncoder) AppendUint64(v uint64)   { t.buf = strconv.AppendUint(t.buf, v, 10) }
func (t *textEncoder) AppendUint32(v uint32)   { t.buf = strconv.AppendUint(t.buf, uint64(v), 10) }
func (t *textEncoder) AppendUint16(v uint16)   { t.buf = strconv.AppendUint(t.buf, uint64(v), 10) }
func (t *textEncoder) AppendUint8(v uint8)     { t.buf = strconv.AppendUint(t.buf, uint64(v), 10) }
func (t *textEncoder) AppendUintptr(v uintptr) { t.buf = strconv.AppendUint(t.buf, uint64(v), 10) }

// AppendTimeLayout lets zap's layout-based time encoders (ISO8601, RFC3339)
// format without allocating.
func (t *textEncoder) AppendTimeLayout(v time.Time, layout string) {
	t.buf = v.AppendFormat(t.buf, layout)
}
