package zapsls

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// pairs returns a Log's contents in order, duplicates kept.
func pairs(l *sls.Log) [][2]string {
	var out [][2]string
	for _, c := range l.Contents {
		out = append(out, [2]string{c.GetKey(), c.GetValue()})
	}
	return out
}

// encodeFrame encodes one entry and returns the Log as the SDK decodes it
// and the repair count the encoder reported after the frame.
func encodeFrame(t *testing.T, enc zapcore.Encoder, ent zapcore.Entry, fields ...zapcore.Field) (*sls.Log, int) {
	t.Helper()
	buf, err := enc.EncodeEntry(ent, fields)
	require.NoError(t, err)
	defer buf.Free()
	var l *sls.Log
	repairs := -1
	require.NoError(t, forEachFrame(buf.Bytes(), func(frame []byte, r int) {
		l, repairs = decodeLog(t, frame), r
	}))
	require.NotNil(t, l)
	return l, repairs
}

func TestMessageJSONExtraction(t *testing.T) {
	cfg := testEncoderConfig()
	for _, tc := range []struct {
		name    string
		x       Extract
		msg     string
		fields  []zapcore.Field
		want    [][2]string
		repairs int
	}{
		{"flat object", Extract{}, `{"user":"ann","n":3,"ok":true,"none":null}`, nil,
			[][2]string{{"level", "info"}, {"user", "ann"}, {"n", "3"}, {"ok", "true"}, {"none", "null"}, {"msg", `{"user":"ann","n":3,"ok":true,"none":null}`}}, 0},
		{"prefix, suffix, drop", Extract{Prefix: "m_", Suffix: "_", DropMessage: true}, ` {"user":"ann"} `, nil,
			[][2]string{{"level", "info"}, {"m_user_", "ann"}}, 0},
		{"nested JSON kept as its text", Extract{DropMessage: true}, `{"req":{"id":7, "tags":["a","b"]},"list":[1, {"x":null}]}`, nil,
			[][2]string{{"level", "info"}, {"req", `{"id":7, "tags":["a","b"]}`}, {"list", `[1, {"x":null}]`}}, 0},
		{"escapes resolved", Extract{DropMessage: true}, `{"q\"k":"line\n\"two\" \u00e9\ud83d\ude00 \/"}`, nil,
			[][2]string{{"level", "info"}, {`q"k`, "line\n\"two\" é😀 /"}}, 0},
		{"duplicate keys with the fields are all kept", Extract{DropMessage: true}, `{"user":"ann","user":"bob"}`, []zapcore.Field{zap.String("user", "cat")},
			[][2]string{{"level", "info"}, {"user", "ann"}, {"user", "bob"}, {"user", "cat"}}, 0},
		{"array is not an object", Extract{DropMessage: true}, `[{"a":1}]`, nil,
			[][2]string{{"level", "info"}, {"msg", `[{"a":1}]`}}, 0},
		{"string is not an object", Extract{DropMessage: true}, `"{\"a\":1}"`, nil,
			[][2]string{{"level", "info"}, {"msg", `"{\"a\":1}"`}}, 0},
		{"broken JSON is kept as it is", Extract{DropMessage: true}, `{"a":1,"b":}`, nil,
			[][2]string{{"level", "info"}, {"msg", `{"a":1,"b":}`}}, 0},
		{"text after the object", Extract{DropMessage: true}, `{"a":1} and more`, nil,
			[][2]string{{"level", "info"}, {"msg", `{"a":1} and more`}}, 0},
		{"broken after a repaired key rolls the repair back", Extract{DropMessage: true}, `{"__topic__":1,"b":tru}`, nil,
			[][2]string{{"level", "info"}, {"msg", `{"__topic__":1,"b":tru}`}}, 0},
		{"empty object keeps the message", Extract{DropMessage: true}, `{}`, nil,
			[][2]string{{"level", "info"}, {"msg", `{}`}}, 0},
		{"reserved and empty keys renamed, counted", Extract{DropMessage: true}, `{"__topic__":"t","":"e","__tag__:x":"y"}`, nil,
			[][2]string{{"level", "info"}, {"field___topic__", "t"}, {"field_", "e"}, {"field___tag__:x", "y"}}, 3},
		{"prefix makes a reserved key", Extract{Prefix: "__", Suffix: "__", DropMessage: true}, `{"time":1}`, nil,
			[][2]string{{"level", "info"}, {"field___time__", "1"}}, 1},
		{"invalid UTF-8 in values repaired, counted", Extract{DropMessage: true}, "{\"a\":\"x\xffy\",\"b\":[\"\xfe\"]}", nil,
			[][2]string{{"level", "info"}, {"a", "x\uFFFDy"}, {"b", "[\"\uFFFD\"]"}}, 2},
		{"invalid UTF-8 in a key repaired, counted", Extract{DropMessage: true}, "{\"k\xffey\":\"v\"}", nil,
			[][2]string{{"level", "info"}, {"k\uFFFDey", "v"}}, 1},
		{"long key cut", Extract{DropMessage: true}, `{"` + strings.Repeat("k", 200) + `":1}`, nil,
			[][2]string{{"level", "info"}, {strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker)) + TruncatedMarker, "1"}}, 1},
		{"not JSON at all", Extract{DropMessage: true}, `user=ann`, nil,
			[][2]string{{"level", "info"}, {"msg", "user=ann"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewEncoder(cfg, WithFieldSet(NoFieldSet()), WithMessageJSON(tc.x))
			l, repairs := encodeFrame(t, enc, zapcore.Entry{Message: tc.msg}, tc.fields...)
			assert.Equal(t, tc.want, pairs(l))
			assert.Equal(t, tc.repairs, repairs, "repairs")
		})
	}
}

func TestMessageKVExtraction(t *testing.T) {
	cfg := testEncoderConfig()
	for _, tc := range []struct {
		name    string
		x       Extract
		msg     string
		want    [][2]string
		repairs int
	}{
		{"plain pairs", Extract{}, "took 15ms user=ann status = 200, path=/a/b",
			[][2]string{{"level", "info"}, {"user", "ann"}, {"status", "200"}, {"path", "/a/b"}, {"msg", "took 15ms user=ann status = 200, path=/a/b"}}, 0},
		{"quoted values with = and spaces", Extract{DropMessage: true}, `q="a = b, c" empty="" k.v-1=x;y=z`,
			[][2]string{{"level", "info"}, {"q", "a = b, c"}, {"empty", ""}, {"k.v-1", "x"}, {"y", "z"}}, 0},
		{"unterminated quote is no pair", Extract{DropMessage: true}, `a="open b=1`,
			[][2]string{{"level", "info"}, {"b", "1"}}, 0},
		{"separator, prefix, suffix", Extract{Separator: ":", Prefix: "kv.", Suffix: "!", DropMessage: true}, "user: ann code:7 a=b",
			[][2]string{{"level", "info"}, {"kv.user!", "ann"}, {"kv.code!", "7"}}, 0},
		{"multi-byte separator and keys", Extract{Separator: "=>", DropMessage: true}, "名前=>太郎 x => 1",
			[][2]string{{"level", "info"}, {"名前", "太郎"}, {"x", "1"}}, 0},
		{"no pairs keeps the message", Extract{DropMessage: true}, "a = , =b",
			[][2]string{{"level", "info"}, {"msg", "a = , =b"}}, 0},
		{"no separator", Extract{DropMessage: true}, "nothing to see",
			[][2]string{{"level", "info"}, {"msg", "nothing to see"}}, 0},
		{"reserved keys renamed, counted", Extract{DropMessage: true}, "__time__=1 __source__=x",
			[][2]string{{"level", "info"}, {"field___time__", "1"}, {"field___source__", "x"}}, 2},
		{"invalid UTF-8 in a value repaired, counted", Extract{DropMessage: true}, "a=x\xff b=\"\xfe y\"",
			[][2]string{{"level", "info"}, {"a", "x\uFFFD"}, {"b", "\uFFFD y"}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewEncoder(cfg, WithFieldSet(NoFieldSet()), WithMessageKV(tc.x))
			l, repairs := encodeFrame(t, enc, zapcore.Entry{Message: tc.msg})
			assert.Equal(t, tc.want, pairs(l))
			assert.Equal(t, tc.repairs, repairs, "repairs")
		})
	}
}

func TestMessageJSONAndKVTogether(t *testing.T) {
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()),
		WithMessageJSON(Extract{Prefix: "j.", DropMessage: true}), WithMessageKV(Extract{Prefix: "kv."}))
	l, _ := encodeFrame(t, enc, zapcore.Entry{Message: `{"a":"x=1"}`})
	assert.Equal(t, [][2]string{{"level", "info"}, {"j.a", "x=1"}}, pairs(l), "a JSON object is not searched for pairs")
	l, _ = encodeFrame(t, enc, zapcore.Entry{Message: `{"a": broken x=1`})
	assert.Equal(t, [][2]string{{"level", "info"}, {"kv.x", "1"}, {"msg", `{"a": broken x=1`}}, pairs(l), "a message that fails JSON is searched for pairs")
	// The With context and fields follow the extracted contents.
	child := enc.Clone()
	zap.String("svc", "api").AddTo(child)
	l, _ = encodeFrame(t, child, zapcore.Entry{Message: `{"a":1}`}, zap.Int("n", 2))
	assert.Equal(t, [][2]string{{"level", "info"}, {"j.a", "1"}, {"svc", "api"}, {"n", "2"}}, pairs(l))
}

func TestBuiltinAffixesAndNewFields(t *testing.T) {
	cfg := zap.NewProductionEncoderConfig()
	cfg.FunctionKey = "func"
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	fs := FieldSet{FileKey: "file", LineKey: "line", LevelNumberKey: "levelno", FileNameKey: "filename", ModuleKey: "module", UptimeKey: "uptime"}
	enc := NewEncoder(cfg, WithFieldSet(fs), WithBuiltinAffixes("__", "_"))
	when := processStart.Add(1500 * time.Millisecond)
	ent := zapcore.Entry{Level: zapcore.WarnLevel, Time: when, LoggerName: "app", Message: "m", Stack: "st",
		Caller: zapcore.EntryCaller{Defined: true, File: "/src/shop/cart/cart.go", Line: 42, Function: "github.com/acme/shop/cart.(*Cart).Add.func1"}}
	l, _ := encodeFrame(t, enc, ent, zap.String("user", "ann"))
	m := contents(t, l)
	assert.Equal(t, "warn", m["__level_"])
	assert.Equal(t, "1", m["__levelno_"])
	assert.Equal(t, when.Format("2006-01-02T15:04:05.000Z0700"), m["__ts_"])
	assert.Equal(t, "1500", m["__uptime_"])
	assert.Equal(t, "app", m["__logger_"])
	assert.Equal(t, "cart/cart.go:42", m["__caller_"])
	assert.Equal(t, "github.com/acme/shop/cart.(*Cart).Add.func1", m["__func_"])
	assert.Equal(t, "/src/shop/cart/cart.go", m["__file_"])
	assert.Equal(t, "42", m["__line_"])
	assert.Equal(t, "cart.go", m["__filename_"])
	assert.Equal(t, "github.com/acme/shop/cart", m["__module_"])
	assert.Equal(t, "m", m["__msg_"])
	assert.Equal(t, "st", m["__stacktrace_"])
	assert.NotEmpty(t, m["__pid_"])
	assert.NotEmpty(t, m["__program_"])
	assert.NotEmpty(t, m["__hostname_"])
	assert.Equal(t, "ann", m["user"], "the application's fields keep their names")
	assert.Len(t, m, 17)

	// A function name without a package path, and no caller at all.
	ent.Caller.Function = "main.main"
	l, _ = encodeFrame(t, enc, ent)
	assert.Equal(t, "main", contents(t, l)["__module_"])
	ent.Caller = zapcore.EntryCaller{}
	l, _ = encodeFrame(t, enc, ent)
	m = contents(t, l)
	assert.NotContains(t, m, "__module_")
	assert.NotContains(t, m, "__filename_")
	assert.Equal(t, "1", m["__levelno_"], "the level number needs no caller")
}

func TestBuiltinRoot(t *testing.T) {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.EpochMillisTimeEncoder
	when := time.UnixMilli(1700000000123)
	ent := zapcore.Entry{Level: zapcore.ErrorLevel, Time: when, Message: "m\xff \"q\"", Stack: "st",
		Caller: zapcore.EntryCaller{Defined: true, File: "/x/y.go", Line: 3, Function: "example.com/p.F"}}
	enc := NewEncoder(cfg, WithFieldSet(FieldSet{LevelNumberKey: "levelno", ModuleKey: "module"}),
		WithBuiltinAffixes("b_", ""), WithBuiltinRoot("__topic__"), WithMessageKV(Extract{}))
	l, repairs := encodeFrame(t, enc, ent, zap.String("user", "ann"))
	require.Len(t, l.Contents, 2)
	assert.Equal(t, [2]string{"user", "ann"}, pairs(l)[0])
	assert.Equal(t, "field___topic__", l.Contents[1].GetKey(), "the root key obeys the key rules")
	assert.Equal(t, 2, repairs, "the renamed root key and the message's invalid byte")
	var root map[string]string
	require.NoError(t, json.Unmarshal([]byte(l.Contents[1].GetValue()), &root), l.Contents[1].GetValue())
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"b_level": "error", "b_levelno": "2", "b_ts": "1700000000123", "b_caller": "x/y.go:3",
		"b_module": "example.com/p", "b_msg": "m\uFFFD \"q\"", "b_stacktrace": "st",
		"b_pid": strconv.Itoa(os.Getpid()), "b_program": filepath.Base(os.Args[0]), "b_hostname": host,
	}, root)

	// Extracted contents stay top-level; a dropped message leaves the root.
	enc = NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()), WithBuiltinRoot("meta"), WithMessageKV(Extract{DropMessage: true}))
	l, _ = encodeFrame(t, enc, zapcore.Entry{Message: "a=1"})
	assert.Equal(t, [][2]string{{"a", "1"}, {"meta", `{"level":"info"}`}}, pairs(l))
	// Nothing built in: no root content.
	cfg = zapcore.EncoderConfig{}
	enc = NewEncoder(cfg, WithFieldSet(NoFieldSet()), WithBuiltinRoot("meta"))
	l, _ = encodeFrame(t, enc, zapcore.Entry{Message: "x"}, zap.Int("n", 1))
	assert.Equal(t, [][2]string{{"n", "1"}}, pairs(l))
}

func TestFieldSetEmptyKeyMeansDefault(t *testing.T) {
	cfg := testEncoderConfig()
	ent := zapcore.Entry{Message: "m", Caller: zapcore.EntryCaller{Defined: true, File: "/a/b.go", Line: 1}}
	keys := func(fs FieldSet) []string {
		l, _ := encodeFrame(t, NewEncoder(cfg, WithFieldSet(fs)), ent)
		var ks []string
		for _, p := range pairs(l) {
			ks = append(ks, p[0])
		}
		return ks
	}
	assert.Equal(t, []string{"level", "caller", "msg", "pid", "program", "hostname"}, keys(FieldSet{}), "the zero FieldSet is the default")
	assert.Equal(t, keys(DefaultFieldSet()), keys(FieldSet{}))
	assert.Equal(t, []string{"level", "caller", "file", "msg", "pid", "program", "hostname"}, keys(FieldSet{FileKey: "file"}),
		"setting one key keeps the defaults")
	assert.Equal(t, []string{"level", "caller", "msg", "program", "host"}, keys(FieldSet{PIDKey: FieldOff, HostnameKey: "host"}))
	assert.Equal(t, []string{"level", "caller", "msg"}, keys(NoFieldSet()))
}

func TestEncoderOptionsNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(), Message: "nothing to extract here",
		Caller: zapcore.EntryCaller{Defined: true, File: "/a/b.go", Line: 1, Function: "x.y/z.F"}}
	cfg := testEncoderConfig()
	cfg.CallerKey = "" // zap's caller encoders allocate the trimmed path
	for name, opts := range map[string][]EncoderOption{
		"json":       {WithMessageJSON(Extract{})},
		"kv":         {WithMessageKV(Extract{})},
		"affixes":    {WithBuiltinAffixes("_", "_")},
		"root":       {WithBuiltinRoot("meta")},
		"new fields": {WithFieldSet(FieldSet{LevelNumberKey: "ln", FileNameKey: "fn", ModuleKey: "mod", UptimeKey: "up"})},
	} {
		enc := NewEncoder(cfg, opts...)
		allocs := testing.AllocsPerRun(100, func() {
			buf, _ := enc.EncodeEntry(ent, nil)
			buf.Free()
		})
		assert.Zero(t, allocs, name)
	}
	// Extracting allocates nothing either, once the encoder's buffers grew.
	enc := NewEncoder(cfg, WithMessageJSON(Extract{Prefix: "j_"}), WithMessageKV(Extract{}))
	for _, msg := range []string{`{"a":"x\ny","b":[1,2],"c":{"d":null}}`, `a=1 b="two words" c=3`} {
		ent.Message = msg
		allocs := testing.AllocsPerRun(100, func() {
			buf, _ := enc.EncodeEntry(ent, nil)
			buf.Free()
		})
		assert.Zero(t, allocs, msg)
	}
}

// FuzzMessageExtraction throws arbitrary messages at WithMessageJSON and
// WithMessageKV: every output decodes with the SDK and passes the Writer's
// check of what SLS accepts, and the JSON scanner agrees with
// encoding/json on which messages are one JSON object with members.
func FuzzMessageExtraction(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":"x","c":[1,{"d":null}]}`, `{}`, `[1]`, `{"a":}`, `{"a":1} x`, "{\"\xff\":\"\xfe\"}",
		`{"__topic__":"\ud83d\ude00\ud800"}`, `k=v q="a = b" __time__=1`, `a="open b=1`, `=`, "",
	} {
		f.Add(seed, "=")
	}
	f.Add("a:1 b : 2", ":")
	f.Fuzz(func(t *testing.T, msg, sep string) {
		if sep == "" || strings.ContainsAny(sep, "\" \t") {
			sep = "="
		}
		enc := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()),
			WithMessageJSON(Extract{DropMessage: true}), WithMessageKV(Extract{Prefix: "kv_", Separator: sep}))
		buf, err := enc.EncodeEntry(zapcore.Entry{Message: msg}, nil)
		require.NoError(t, err)
		defer buf.Free()
		var l *sls.Log
		require.NoError(t, forEachFrame(buf.Bytes(), func(frame []byte, _ int) {
			l = decodeLog(t, frame)
		}), "the Writer refuses the output")

		if strings.Count(msg, "{")+strings.Count(msg, "[") > maxJSONDepth/2 {
			return // encoding/json follows deeper nesting than the scanner
		}
		members := -1 // not one JSON object
		var obj map[string]json.RawMessage
		if strings.HasPrefix(strings.TrimLeft(msg, " \t\r\n"), "{") && json.Valid([]byte(msg)) && json.Unmarshal([]byte(msg), &obj) == nil {
			members = 0
			dec := json.NewDecoder(strings.NewReader(msg))
			_, _ = dec.Token()
			for dec.More() {
				_, _ = dec.Token()
				var skip json.RawMessage
				require.NoError(t, dec.Decode(&skip))
				members++
			}
		}
		hasMsg := false
		for _, c := range l.Contents {
			hasMsg = hasMsg || c.GetKey() == "msg"
		}
		if members > 0 {
			assert.False(t, hasMsg, "an object with members is extracted and dropped: %q", msg)
			assert.Len(t, l.Contents, 1+members, "one content per member: %q", msg)
		} else {
			assert.True(t, hasMsg, "a message that is not an object with members is kept: %q", msg)
		}
	})
}
