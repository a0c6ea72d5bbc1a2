package zapsls

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/multierr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// decodeLog decodes one EncodeEntry output the way SLS would: as the body
// of a LogGroup, with the SDK's generated types.
func decodeLog(t testing.TB, b []byte) *sls.Log {
	t.Helper()
	var g sls.LogGroup
	require.NoError(t, g.Unmarshal(b))
	require.Len(t, g.Logs, 1)
	return g.Logs[0]
}

// contents returns a Log's contents as a map, failing on duplicate keys.
func contents(t testing.TB, l *sls.Log) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, c := range l.Contents {
		_, dup := m[c.GetKey()]
		require.False(t, dup, "duplicate key %q", c.GetKey())
		m[c.GetKey()] = c.GetValue()
	}
	return m
}

func encodeOne(t testing.TB, enc zapcore.Encoder, ent zapcore.Entry, fields ...zapcore.Field) (*sls.Log, map[string]string) {
	t.Helper()
	buf, err := enc.EncodeEntry(ent, fields)
	require.NoError(t, err)
	defer buf.Free()
	l := decodeLog(t, buf.Bytes())
	return l, contents(t, l)
}

type user struct {
	Name  string
	Email string
	Tags  []string
}

func (u user) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", u.Name)
	enc.AddString("email", u.Email)
	return enc.AddArray("tags", zapcore.ArrayMarshalerFunc(func(a zapcore.ArrayEncoder) error {
		for _, t := range u.Tags {
			a.AppendString(t)
		}
		return nil
	}))
}

type address struct{ City string }

func (a address) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("city", a.City)
	enc.OpenNamespace("geo")
	enc.AddFloat64("lat", 30.25)
	return nil
}

type panicStringer struct{}

func (panicStringer) String() string { panic("boom") }

type verboseError struct{}

func (verboseError) Error() string { return "short" }
func (verboseError) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('+') {
		fmt.Fprint(s, "short\nwith detail")
		return
	}
	fmt.Fprint(s, "short")
}

func TestEncoderFieldMapping(t *testing.T) {
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()))
	when := time.Date(2026, 11, 25, 10, 30, 0, 123456789, time.UTC)
	ent := zapcore.Entry{
		Level: zapcore.WarnLevel, Time: when, LoggerName: "api.http", Message: "hello",
		Caller: zapcore.NewEntryCaller(0, "/src/app/main.go", 42, true),
		Stack:  "goroutine 1",
	}
	ent.Caller.Function = "main.run"
	l, m := encodeOne(t, enc, ent,
		zap.String("s", "text"),
		zap.Bool("b", true),
		zap.Int("i", -42),
		zap.Uint64("u", math.MaxUint64),
		zap.Float64("f", 0.1),
		zap.Float64("big", 1e300),
		zap.Float32("f32", 1.5),
		zap.Float64("nan", math.NaN()),
		zap.Float64("inf", math.Inf(1)),
		zap.Float64("ninf", math.Inf(-1)),
		zap.Complex128("c", complex(1, -2)),
		zap.Duration("d", 1500*time.Millisecond),
		zap.Time("t", time.Unix(1, 0).UTC()),
		zap.Binary("bin", []byte{0, 1, 2, 255}),
		zap.ByteString("bs", []byte("bytes")),
		zap.Error(errors.New("plain")),
		zap.NamedError("verr", verboseError{}),
		zap.NamedError("multi", multierr.Combine(errors.New("e1"), errors.New("e2"))),
		zap.Ints("ints", []int{1, 2, 3}),
		zap.Strings("strs", []string{"a", `q"b`}),
		zap.Object("user", user{Name: "Jane", Email: "j@x", Tags: []string{"x"}}),
		zap.Object("empty", zapcore.ObjectMarshalerFunc(func(zapcore.ObjectEncoder) error { return nil })),
		zap.Any("map", map[string]int{"a": 1}),
		zap.Reflect("nilv", nil),
		zap.Stringer("str", panicStringer{}),
		zap.Object("addr", address{City: "Hangzhou"}),
		zap.Array("objs", zapcore.ArrayMarshalerFunc(func(a zapcore.ArrayEncoder) error {
			_ = a.AppendObject(user{Name: "a"})
			return a.AppendObject(address{City: "c"})
		})),
		zap.Inline(address{City: "inline"}),
		zap.String("after", "inline's namespace stays open, as in zap's JSON"),
	)
	assert.Equal(t, uint32(when.Unix()), l.GetTime())
	assert.Equal(t, uint32(123456789), l.GetTimeNs())
	want := map[string]string{
		"level":        "warn",
		"logger":       "api.http",
		"caller":       "app/main.go:42",
		"msg":          "hello",
		"stacktrace":   "goroutine 1",
		"s":            "text",
		"b":            "true",
		"i":            "-42",
		"u":            "18446744073709551615",
		"f":            "0.1",
		"big":          "1e+300",
		"f32":          "1.5",
		"nan":          "NaN",
		"inf":          "+Inf",
		"ninf":         "-Inf",
		"c":            "1-2i",
		"d":            "1.5",
		"t":            "1",
		"bin":          "AAEC/w==",
		"bs":           "bytes",
		"error":        "plain",
		"verr":         "short",
		"verrVerbose":  "short\nwith detail",
		"multi":        "e1; e2",
		"multiCauses":  `[{"error":"e1"},{"error":"e2"}]`,
		"ints":         "[1,2,3]",
		"strs":         `["a","q\"b"]`,
		"user.name":    "Jane",
		"user.email":   "j@x",
		"user.tags":    `["x"]`,
		"empty":        "{}",
		"map":          `{"a":1}`,
		"nilv":         "null",
		"strError":     "PANIC=boom",
		"addr.city":    "Hangzhou",
		"addr.geo.lat": "30.25",
		"city":         "inline",
		"geo.lat":      "30.25",
		"objs":         `[{"name":"a","email":"","tags":[]},{"city":"c","geo":{"lat":30.25}}]`,
		"geo.after":    "inline's namespace stays open, as in zap's JSON",
	}
	assert.Equal(t, want, m)
}

func TestEncoderTimeKeyAndFieldSet(t *testing.T) {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.FunctionKey = "func"
	enc := NewEncoder(cfg, WithFieldSet(FieldSet{FileKey: "file", LineKey: "line", PIDKey: "pid", HostnameKey: "host", ProgramKey: "prog"}))
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: when, Message: "m", Caller: zapcore.NewEntryCaller(0, "/a/b/c.go", 7, true)}
	ent.Caller.Function = "pkg.F"
	l, m := encodeOne(t, enc, ent)
	assert.Equal(t, uint32(0), l.GetTimeNs(), "no TimeNs for whole seconds")
	assert.Equal(t, "2026-01-02T03:04:05.000Z", m["ts"])
	assert.Equal(t, "/a/b/c.go", m["file"])
	assert.Equal(t, "7", m["line"])
	assert.Equal(t, "pkg.F", m["func"])
	assert.NotEmpty(t, m["pid"])
	assert.NotEmpty(t, m["host"])
	assert.NotEmpty(t, m["prog"])

	// The default FieldSet: pid, program, hostname, and no file or line.
	_, m = encodeOne(t, NewEncoder(cfg), ent)
	assert.Contains(t, m, "pid")
	assert.Contains(t, m, "program")
	assert.Contains(t, m, "hostname")
	assert.NotContains(t, m, "file")
	assert.NotContains(t, m, "line")
}

func TestEncoderWithAndNamespaces(t *testing.T) {
	root := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()), WithKeySeparator("_"))
	parent := root.Clone()
	zap.String("svc", "api").AddTo(parent)
	zap.Namespace("req").AddTo(parent)
	zap.String("id", "r1").AddTo(parent)

	child := parent.Clone()
	zap.Int("attempt", 2).AddTo(child)

	_, m := encodeOne(t, child, zapcore.Entry{Message: "x"}, zap.String("path", "/"))
	assert.Equal(t, map[string]string{"level": "info", "msg": "x", "svc": "api", "req_id": "r1", "req_attempt": "2", "req_path": "/"}, m)

	// The parent is unchanged by the child.
	_, m = encodeOne(t, parent, zapcore.Entry{Message: "y"})
	assert.Equal(t, map[string]string{"level": "info", "msg": "y", "svc": "api", "req_id": "r1"}, m)
}

func TestEncoderRepairs(t *testing.T) {
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()), WithMaxValueBytes(100))
	long := strings.Repeat("é", 80) // 160 bytes
	buf, err := enc.EncodeEntry(zapcore.Entry{Message: "m"}, []zapcore.Field{
		zap.String("__topic__", "t"),
		zap.String("__tag__:host", "h"),
		zap.String("", "empty key"),
		zap.String("_extract_others_", "x"),
		zap.String(strings.Repeat("k", 200), "long key"),
		zap.String("bad", "a\xffb"),
		zap.ByteString("badkey\xfe", []byte("v")),
		zap.String("long", long),
		zap.String("_ok_", "underscore but allowed"),
	})
	require.NoError(t, err)
	raw := buf.Bytes()
	l := decodeLog(t, raw)
	m := contents(t, l)

	assert.Equal(t, "t", m["field___topic__"])
	assert.Equal(t, "h", m["field___tag__:host"])
	assert.Equal(t, "empty key", m["field_"])
	assert.Equal(t, "x", m["field__extract_others_"])
	assert.Equal(t, "long key", m[strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker))+TruncatedMarker])
	assert.Equal(t, "a\uFFFDb", m["bad"])
	assert.Equal(t, "v", m["badkey\uFFFD"])
	assert.Equal(t, "underscore but allowed", m["_ok_"])
	v := m["long"]
	assert.LessOrEqual(t, len(v), 100)
	assert.True(t, strings.HasSuffix(v, TruncatedMarker))
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(v, TruncatedMarker)))

	// The repair count follows the frame.
	var count int
	err = newLineReader(LineOptions{}).forEachEntry(raw, func(frame []byte, repairs int) { count = repairs })
	require.NoError(t, err)
	assert.Equal(t, 8, count)
	buf.Free()
}

// A byte that is not ASCII, wherever it stands in a key or a value of any
// length, takes the UTF-8 check (the fast path only takes ASCII as it is):
// valid text arrives unchanged, an invalid byte is repaired.
func TestEncoderUTF8AtEveryPosition(t *testing.T) {
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(NoFieldSet()))
	for n := 1; n <= 40; n++ {
		for i := 0; i < n; i++ {
			ascii := strings.Repeat("a", n)
			assert.True(t, isASCII(ascii))
			bad := ascii[:i] + "\xff" + ascii[i+1:]
			require.False(t, isASCII(bad), "%q", bad)
			require.False(t, isASCII([]byte(bad)), "%q", bad)
			fixed := ascii[:i] + "\uFFFD" + ascii[i+1:]
			valid := ascii[:i] + "é" + ascii[i:] // two bytes, valid UTF-8

			_, m := encodeOne(t, enc, zapcore.Entry{Message: "m"},
				zap.String("v", bad), zap.ByteString("b", []byte(bad)), zap.String(bad, "k"),
				zap.String("u", valid), zap.String(valid, "uk"))
			assert.Equal(t, fixed, m["v"], "%q", bad)
			assert.Equal(t, fixed, m["b"], "%q", bad)
			assert.Equal(t, "k", m[fixed], "%q", bad)
			assert.Equal(t, valid, m["u"])
			assert.Equal(t, "uk", m[valid])
		}
	}
	// Lengths that take more than a byte, as a string, as bytes, and as the
	// message.
	for _, n := range []int{120, 123, 124, 127, 128, 129, 300, 20000} {
		v := strings.Repeat("v", n)
		_, m := encodeOne(t, enc, zapcore.Entry{Message: v}, zap.String("s", v), zap.ByteString("b", []byte(v)))
		assert.Equal(t, v, m["s"], n)
		assert.Equal(t, v, m["b"], n)
		assert.Equal(t, v, m["msg"], n)
	}
}

func TestEncoderNoAllocsWithContext(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	enc := NewEncoder(testEncoderConfig())
	zap.String("service", "api").AddTo(enc)
	zap.Int("shard", 3).AddTo(enc)
	ent := zapcore.Entry{Message: "steady", Time: time.Now()}
	e := enc.(*encoder)
	allocs := testing.AllocsPerRun(100, func() {
		final, _ := e.encode(ent, nil)
		putEncoder(final)
	})
	assert.Zero(t, allocs)
}
