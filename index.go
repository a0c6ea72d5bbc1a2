package zapsls

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"go.uber.org/zap/zapcore"
)

// Index key types, the values of IndexKey.Type and of sls.IndexKey.Type.
const (
	// IndexText indexes a value as text, split into words at the
	// delimiters SLS proposes for a new index (see NewIndex): searchable by
	// word, and groupable in SQL as a varchar.
	IndexText = "text"
	// IndexLong indexes an integer: range queries (line > 100) and SQL
	// arithmetic (bigint).
	IndexLong = "long"
	// IndexDouble indexes a floating-point number (SQL double).
	IndexDouble = "double"
	// IndexJSON indexes JSON text, such as what the encoder writes for
	// arrays and zap.Any of maps, structs and slices. NewIndex names no
	// json_keys: add the sub-keys you query in the SLS console.
	IndexJSON = "json"
)

// indexTokenSet is the delimiters NewIndex splits text at (see NewIndex).
var indexTokenSet = []string{",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r"}

// IndexKey is a key to index beyond those NewIndex derives, such as a field
// the application logs: {"user.id", IndexLong} for zap.Object("user", u)
// with an int "id" field (flattened keys use the encoder's separator, "."
// by default), or {"error", IndexText} for zap.Error.
//
// Name is the key as SLS stores it: for a field the encoder renames (see
// RenamedKeyPrefix), the renamed key. The fields SLS adds itself may be
// named too: __topic__, __source__ and __tag__:KEY, for Config.Topic,
// Config.Source and Config.Tags. __time__ is indexed by SLS already and
// cannot be named, nor can the other keys SLS reserves.
type IndexKey struct {
	Name string `json:"name" yaml:"name"`
	// Type is IndexText, IndexLong, IndexDouble or IndexJSON, in any case.
	Type string `json:"type" yaml:"type"`
	// From, for NewIndexFor, says that Name is a key found in messages:
	// IndexFromMessageJSON or IndexFromMessageKV. The index then names the
	// key as the encoder stores it, with that Extract's Prefix and Suffix
	// and the key rules applied. Empty: Name is the stored key.
	From string `json:"from,omitempty" yaml:"from,omitempty"`
}

// Values of IndexKey.From.
const (
	IndexFromMessageJSON = "messageJSON" // a key WithMessageJSON extracts
	IndexFromMessageKV   = "messageKV"   // a key WithMessageKV extracts
)

// NewIndex returns the SLS index under which the logs an encoder built
// with NewEncoder(cfg, WithFieldSet(fs)) writes are searchable and can be
// analysed with SQL, plus the extra keys. Apply it with the SDK's
// CreateIndex, or with the zapsls command (cmd/zapsls):
//
//	zapsls index --url sls://... --apply
//
// The index has:
//
//   - a full-text index (line) over every key, case-insensitive, so that a
//     bare word finds the logs that contain it;
//   - a text key for each of the EncoderConfig's MessageKey, LevelKey,
//     NameKey, CallerKey, FunctionKey and StacktraceKey that is set (LevelKey
//     only with an EncodeLevel, as the encoder writes it only then), and for
//     the FieldSet's FileKey, ProgramKey and HostnameKey;
//   - a long key for the FieldSet's LineKey and PIDKey;
//   - for the TimeKey, the type of what EncodeTime writes: double for the
//     epoch encoders that write a float (seconds, milliseconds), long for
//     those that write an integer (nanoseconds, and a nil EncodeTime), text
//     for layouts (ISO 8601, RFC 3339);
//   - each extra key, with its type.
//
// Every key is case-insensitive, without Chinese word segmentation, and
// has doc_value (SQL analysis, "| select ... group by ...") turned on.
// Full text and text and json keys are split into words at the delimiters
// SLS proposes for a new index, plus the carriage return:
//
//	, '";=()[]{}?@&<>/:   the space, \n, \t and \r
//
// Keys are stored as the encoder writes them: a reserved key such as
// "__topic__" as MessageKey is indexed as "field___topic__".
//
// Two sources naming one key with different types (a LineKey equal to the
// FileKey, an extra key reusing MessageKey with type long), an unknown
// type, and an extra key SLS does not let one index are errors.
func NewIndex(cfg zapcore.EncoderConfig, fs FieldSet, extra ...IndexKey) (sls.Index, error) {
	return NewIndexFor(cfg, []EncoderOption{WithFieldSet(fs)}, extra...)
}

// NewIndexFor is NewIndex for an encoder built with NewEncoder(cfg,
// opts...): the FieldSet of WithFieldSet, the keys as WithBuiltinAffixes
// renames them, and with WithBuiltinRoot one json key for the root content
// in place of the built-in keys. The FieldSet's LevelNumberKey, LineKey,
// PIDKey and UptimeKey are long; FileKey, FileNameKey, ModuleKey,
// ProgramKey and HostnameKey text. An extra key with From set is a key
// found in messages, stored with that extraction's affixes (see IndexKey);
// naming an extraction that opts do not turn on is an error.
func NewIndexFor(cfg zapcore.EncoderConfig, opts []EncoderOption, extra ...IndexKey) (sls.Index, error) {
	conf := &encoderConf{EncoderConfig: cfg, fields: DefaultFieldSet()}
	for _, o := range opts {
		o.apply(conf)
	}
	conf.prepare()
	cfg, fs := conf.EncoderConfig, conf.fields
	b := indexBuilder{keys: map[string]indexSource{}}
	text := func(source, key string) {
		if key != "" {
			b.add(source, storedKey(key), IndexText)
		}
	}
	long := func(source, key string) {
		if key != "" {
			b.add(source, storedKey(key), IndexLong)
		}
	}
	if conf.root != "" {
		// Every built-in field is inside the root content.
		b.add("WithBuiltinRoot", storedKey(conf.root), IndexJSON)
		cfg, fs = zapcore.EncoderConfig{}, FieldSet{}
	}
	text("EncoderConfig.MessageKey", cfg.MessageKey)
	if cfg.EncodeLevel != nil {
		text("EncoderConfig.LevelKey", cfg.LevelKey)
	}
	if cfg.TimeKey != "" {
		b.add("EncoderConfig.TimeKey", storedKey(cfg.TimeKey), timeType(cfg.EncodeTime))
	}
	text("EncoderConfig.NameKey", cfg.NameKey)
	text("EncoderConfig.CallerKey", cfg.CallerKey)
	text("EncoderConfig.FunctionKey", cfg.FunctionKey)
	text("EncoderConfig.StacktraceKey", cfg.StacktraceKey)
	text("FieldSet.FileKey", fs.FileKey)
	long("FieldSet.LineKey", fs.LineKey)
	long("FieldSet.PIDKey", fs.PIDKey)
	text("FieldSet.ProgramKey", fs.ProgramKey)
	text("FieldSet.HostnameKey", fs.HostnameKey)
	long("FieldSet.LevelNumberKey", fs.LevelNumberKey)
	text("FieldSet.FileNameKey", fs.FileNameKey)
	text("FieldSet.ModuleKey", fs.ModuleKey)
	long("FieldSet.UptimeKey", fs.UptimeKey)
	for _, k := range extra {
		if k.From != "" {
			x := conf.msgJSON
			if k.From == IndexFromMessageKV {
				x = conf.msgKV
			} else if k.From != IndexFromMessageJSON {
				b.errs = append(b.errs, fmt.Errorf("zapsls: index key %q: from %q: want %s or %s", k.Name, k.From, IndexFromMessageJSON, IndexFromMessageKV))
				continue
			}
			if x == nil {
				b.errs = append(b.errs, fmt.Errorf("zapsls: index key %q: from %s, but the encoder options do not turn %s on", k.Name, k.From, k.From))
				continue
			}
			k.Name = storedKey(x.Prefix + k.Name + x.Suffix)
		}
		if err := checkExtraKey(k.Name); err != nil {
			b.errs = append(b.errs, err)
			continue
		}
		typ := strings.ToLower(k.Type)
		switch typ {
		case IndexText, IndexLong, IndexDouble, IndexJSON:
		default:
			b.errs = append(b.errs, fmt.Errorf("zapsls: index key %q: type %q: want text, long, double or json", k.Name, k.Type))
			continue
		}
		b.add("extra key", k.Name, typ)
	}
	if len(b.errs) > 0 {
		return sls.Index{}, joinIndexErrors(b.errs)
	}

	idx := sls.Index{
		Keys: make(map[string]sls.IndexKey, len(b.keys)),
		Line: &sls.IndexLine{Token: indexTokens(), CaseSensitive: false, Chn: false},
	}
	for name, src := range b.keys {
		k := sls.IndexKey{Type: src.typ, DocValue: true, Token: []string{}}
		if src.typ == IndexText || src.typ == IndexJSON {
			k.Token = indexTokens()
		}
		idx.Keys[name] = k
	}
	return idx, nil
}

// indexSource is where a key's type came from, for conflict messages.
type indexSource struct {
	source, typ string
}

type indexBuilder struct {
	keys map[string]indexSource
	errs []error
}

func (b *indexBuilder) add(source, name, typ string) {
	prev, ok := b.keys[name]
	switch {
	case !ok:
		b.keys[name] = indexSource{source: source, typ: typ}
	case prev.typ != typ:
		b.errs = append(b.errs, fmt.Errorf("zapsls: index key %q: %s makes it %s, %s makes it %s", name, prev.source, prev.typ, source, typ))
	}
}

func joinIndexErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = strings.TrimPrefix(e.Error(), "zapsls: ")
	}
	sort.Strings(msgs)
	return fmt.Errorf("zapsls: %s", strings.Join(msgs, "; "))
}

// indexTokens returns a copy of indexTokenSet, so that no two keys of an
// Index share a slice that a caller might modify.
func indexTokens() []string {
	return append([]string(nil), indexTokenSet...)
}

// storedKey is the key under which the encoder stores a content named key
// at the top level: the key itself, or its repaired form (renamed, cut).
func storedKey(key string) string {
	e := &encoder{conf: &encoderConf{}}
	if e.keyOK(key) {
		return key
	}
	return string(e.repairKey(key))
}

// checkExtraKey refuses the names SLS does not let one index.
func checkExtraKey(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("zapsls: index key with an empty name")
	case len(name) > MaxKeyBytes:
		return fmt.Errorf("zapsls: index key %q: %d bytes, SLS allows at most %d", name, len(name), MaxKeyBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("zapsls: index key %q: not valid UTF-8", name)
	case name == "__tag__:":
		return fmt.Errorf("zapsls: index key %q: name the tag, as in __tag__:env", name)
	case name == "__topic__" || name == "__source__" || strings.HasPrefix(name, "__tag__:"):
		return nil // fields SLS adds, indexable like any other
	case reservedKey(name):
		return fmt.Errorf("zapsls: index key %q: SLS reserves it and cannot index it as a key", name)
	}
	return nil
}

// timeType is the index type of what enc writes for a time: the type of
// its first append, or long for a nil encoder or one that appends nothing
// (the encoder then writes UnixNano).
func timeType(enc zapcore.TimeEncoder) string {
	if enc == nil {
		return IndexLong
	}
	var r kindRecorder
	enc(time.Unix(1700000000, 123456789), &r)
	if r.kind == "" {
		return IndexLong
	}
	return r.kind
}

// kindRecorder is a zapcore.PrimitiveArrayEncoder that remembers the index
// type of the first value appended to it.
type kindRecorder struct{ kind string }

func (r *kindRecorder) set(kind string) {
	if r.kind == "" {
		r.kind = kind
	}
}

func (r *kindRecorder) AppendBool(bool)             { r.set(IndexText) }
func (r *kindRecorder) AppendByteString([]byte)     { r.set(IndexText) }
func (r *kindRecorder) AppendComplex128(complex128) { r.set(IndexText) }
func (r *kindRecorder) AppendComplex64(complex64)   { r.set(IndexText) }
func (r *kindRecorder) AppendFloat64(float64)       { r.set(IndexDouble) }
func (r *kindRecorder) AppendFloat32(float32)       { r.set(IndexDouble) }
func (r *kindRecorder) AppendInt(int)               { r.set(IndexLong) }
func (r *kindRecorder) AppendInt64(int64)           { r.set(IndexLong) }
func (r *kindRecorder) AppendInt32(int32)           { r.set(IndexLong) }
func (r *kindRecorder) AppendInt16(int16)           { r.set(IndexLong) }
func (r *kindRecorder) AppendInt8(int8)             { r.set(IndexLong) }
func (r *kindRecorder) AppendString(string)         { r.set(IndexText) }
func (r *kindRecorder) AppendUint(uint)             { r.set(IndexLong) }
func (r *kindRecorder) AppendUint64(uint64)         { r.set(IndexLong) }
func (r *kindRecorder) AppendUint32(uint32)         { r.set(IndexLong) }
func (r *kindRecorder) AppendUint16(uint16)         { r.set(IndexLong) }
func (r *kindRecorder) AppendUint8(uint8)           { r.set(IndexLong) }
func (r *kindRecorder) AppendUintptr(uintptr)       { r.set(IndexLong) }
