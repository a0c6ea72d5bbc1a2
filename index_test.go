package zapsls

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// indexTokensJSON is the token list every text and json key and the
// full-text index carry, as json.Marshal writes it.
const indexTokensJSON = `[","," ","'","\"",";","=","(",")","[","]","{","}","?","@","\u0026","\u003c","\u003e","/",":","\n","\t","\r"]`

// indexJSON marshals idx with json.Marshal, as the SDK's CreateIndex does,
// and indents it for a readable comparison.
func indexJSON(t *testing.T, idx sls.Index) string {
	t.Helper()
	raw, err := json.Marshal(idx)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, raw, "", "  "))
	return out.String()
}

// golden expands $T in want to indexTokensJSON and indents it like
// indexJSON.
func golden(t *testing.T, want string) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, []byte(strings.ReplaceAll(want, "$T", indexTokensJSON)), "", "  "))
	return out.String()
}

func TestIndexDefaultFieldSetProductionConfig(t *testing.T) {
	idx, err := NewIndex(zap.NewProductionEncoderConfig(), DefaultFieldSet())
	require.NoError(t, err)
	require.Equal(t, golden(t, `{
		"keys": {
			"caller":     {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"hostname":   {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"level":      {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"logger":     {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"msg":        {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"pid":        {"token": [], "caseSensitive": false, "type": "long", "doc_value": true, "chn": false},
			"program":    {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"stacktrace": {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"ts":         {"token": [], "caseSensitive": false, "type": "double", "doc_value": true, "chn": false}
		},
		"line": {"token": $T, "caseSensitive": false, "chn": false},
		"log_reduce": false
	}`), indexJSON(t, idx))
}

func TestIndexCustomFieldSetRenamedKeysAndExtras(t *testing.T) {
	cfg := zap.NewDevelopmentEncoderConfig() // ISO 8601 time: text
	cfg.MessageKey = "message"
	cfg.LevelKey = "severity"
	cfg.NameKey = ""         // left out
	cfg.FunctionKey = "fn"   // on (zap leaves it out by default)
	cfg.TimeKey = "__time__" // reserved: the encoder renames it
	fs := FieldSet{FileKey: "file", LineKey: "line", PIDKey: FieldOff, ProgramKey: "app", HostnameKey: "host"}
	idx, err := NewIndex(cfg, fs,
		IndexKey{Name: "user.id", Type: "long"},         // a flattened zap.Object field
		IndexKey{Name: "latency", Type: "DOUBLE"},       // any case
		IndexKey{Name: "request", Type: IndexJSON},      // zap.Any of a struct
		IndexKey{Name: "__tag__:env", Type: IndexText},  // a Config.Tags key
		IndexKey{Name: "__topic__", Type: IndexText},    // Config.Topic
		IndexKey{Name: "message", Type: IndexText},      // the same as MessageKey: fine
		IndexKey{Name: "line", Type: IndexLong},         // the same as LineKey: fine
		IndexKey{Name: "error", Type: IndexText},        // zap.Error
		IndexKey{Name: "errorVerbose", Type: IndexText}, // its %+v
	)
	require.NoError(t, err)
	require.Equal(t, golden(t, `{
		"keys": {
			"C":               {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"S":               {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"__tag__:env":     {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"__topic__":       {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"app":             {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"error":           {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"errorVerbose":    {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"field___time__":  {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"file":            {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"fn":              {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"host":            {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"latency":         {"token": [], "caseSensitive": false, "type": "double", "doc_value": true, "chn": false},
			"line":            {"token": [], "caseSensitive": false, "type": "long", "doc_value": true, "chn": false},
			"message":         {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"request":         {"token": $T, "caseSensitive": false, "type": "json", "doc_value": true, "chn": false},
			"severity":        {"token": $T, "caseSensitive": false, "type": "text", "doc_value": true, "chn": false},
			"user.id":         {"token": [], "caseSensitive": false, "type": "long", "doc_value": true, "chn": false}
		},
		"line": {"token": $T, "caseSensitive": false, "chn": false},
		"log_reduce": false
	}`), indexJSON(t, idx))
}

// TestIndexCoversWhatTheEncoderWrites encodes entries that carry every
// built-in part and checks that each content key the encoder writes is in
// the index, with a type its value parses as.
func TestIndexCoversWhatTheEncoderWrites(t *testing.T) {
	custom := zap.NewDevelopmentEncoderConfig()
	custom.MessageKey, custom.TimeKey, custom.FunctionKey = "__topic__", "when", "fn"
	custom.EncodeTime = zapcore.EpochNanosTimeEncoder
	for name, tc := range map[string]struct {
		cfg zapcore.EncoderConfig
		fs  FieldSet
	}{
		"production": {zap.NewProductionEncoderConfig(), DefaultFieldSet()},
		"development": {custom, FieldSet{
			FileKey: "file", LineKey: "line", PIDKey: "proc.pid", ProgramKey: "program", HostnameKey: "host",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			idx, err := NewIndex(tc.cfg, tc.fs)
			require.NoError(t, err)
			enc := NewEncoder(tc.cfg, WithFieldSet(tc.fs))
			buf, err := enc.EncodeEntry(zapcore.Entry{
				Level:      zapcore.ErrorLevel,
				Time:       time.Now(),
				LoggerName: "svc.http",
				Message:    "boom",
				Caller:     zapcore.NewEntryCaller(0, "/src/app/main.go", 42, true),
				Stack:      "goroutine 1 [running]:\nmain.main()",
			}, nil)
			require.NoError(t, err)
			defer buf.Free()
			var g sls.LogGroup
			require.NoError(t, g.Unmarshal(buf.Bytes()))
			require.Len(t, g.Logs, 1)
			require.NotEmpty(t, g.Logs[0].Contents)
			for _, c := range g.Logs[0].Contents {
				k, ok := idx.Keys[c.GetKey()]
				require.True(t, ok, "the encoder writes %q, the index lacks it", c.GetKey())
				switch k.Type {
				case IndexLong:
					require.Regexp(t, `^-?[0-9]+$`, c.GetValue(), c.GetKey())
				case IndexDouble:
					require.Regexp(t, `^-?[0-9]+(\.[0-9]+)?$`, c.GetValue(), c.GetKey())
				}
			}
			// And the index names nothing the encoder does not write.
			require.Len(t, idx.Keys, len(g.Logs[0].Contents))
		})
	}
}

// appendsTime is a TimeEncoder that appends what f appends.
func appendsTime(f func(zapcore.PrimitiveArrayEncoder)) zapcore.TimeEncoder {
	return func(_ time.Time, enc zapcore.PrimitiveArrayEncoder) { f(enc) }
}

func TestIndexTimeKeyType(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  zapcore.TimeEncoder
		want string
	}{
		{"epoch", zapcore.EpochTimeEncoder, IndexDouble},
		{"millis", zapcore.EpochMillisTimeEncoder, IndexDouble},
		{"nanos", zapcore.EpochNanosTimeEncoder, IndexLong},
		{"iso8601", zapcore.ISO8601TimeEncoder, IndexText},
		{"rfc3339", zapcore.RFC3339TimeEncoder, IndexText},
		{"rfc3339nano", zapcore.RFC3339NanoTimeEncoder, IndexText},
		{"layout", zapcore.TimeEncoderOfLayout(time.Kitchen), IndexText},
		{"nil: the encoder writes UnixNano", nil, IndexLong},
		{"appends nothing: the encoder writes UnixNano", appendsTime(func(zapcore.PrimitiveArrayEncoder) {}), IndexLong},
		{"seconds as int", appendsTime(func(e zapcore.PrimitiveArrayEncoder) { e.AppendInt64(1) }), IndexLong},
		{"seconds as uint32", appendsTime(func(e zapcore.PrimitiveArrayEncoder) { e.AppendUint32(1) }), IndexLong},
		{"float32", appendsTime(func(e zapcore.PrimitiveArrayEncoder) { e.AppendFloat32(1) }), IndexDouble},
		{"byte string", appendsTime(func(e zapcore.PrimitiveArrayEncoder) { e.AppendByteString([]byte("x")) }), IndexText},
		{"first append decides", appendsTime(func(e zapcore.PrimitiveArrayEncoder) { e.AppendString("x"); e.AppendInt(1) }), IndexText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := zapcore.EncoderConfig{TimeKey: "t", EncodeTime: tc.enc}
			idx, err := NewIndex(cfg, NoFieldSet())
			require.NoError(t, err)
			require.Len(t, idx.Keys, 1)
			require.Equal(t, tc.want, idx.Keys["t"].Type)
		})
	}
}

func TestIndexLeavesOutWhatTheEncoderLeavesOut(t *testing.T) {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeLevel = nil // the encoder writes no level without it
	cfg.TimeKey, cfg.CallerKey, cfg.StacktraceKey, cfg.NameKey = "", "", "", ""
	idx, err := NewIndex(cfg, NoFieldSet())
	require.NoError(t, err)
	require.Len(t, idx.Keys, 1)
	require.Contains(t, idx.Keys, "msg")
	require.NotNil(t, idx.Line, "the full-text index is always there")

	idx, err = NewIndex(zapcore.EncoderConfig{}, NoFieldSet())
	require.NoError(t, err)
	require.Empty(t, idx.Keys)
	require.NotNil(t, idx.Line)
}

func TestIndexTokensAreNotShared(t *testing.T) {
	idx, err := NewIndex(zap.NewProductionEncoderConfig(), DefaultFieldSet())
	require.NoError(t, err)
	idx.Keys["msg"].Token[0] = "changed"
	idx.Line.Token[1] = "changed"
	require.Equal(t, ",", idx.Keys["level"].Token[0])
	require.Equal(t, " ", idx.Keys["caller"].Token[1])
	again, err := NewIndex(zap.NewProductionEncoderConfig(), DefaultFieldSet())
	require.NoError(t, err)
	require.Equal(t, ",", again.Keys["msg"].Token[0])
	require.Equal(t, " ", again.Line.Token[1])
}

func TestIndexErrors(t *testing.T) {
	prod := zap.NewProductionEncoderConfig()
	for _, tc := range []struct {
		name  string
		cfg   zapcore.EncoderConfig
		fs    FieldSet
		extra []IndexKey
		want  []string // each in the error
	}{
		{"unknown type", prod, NoFieldSet(), []IndexKey{{Name: "user.id", Type: "int"}},
			[]string{`"user.id"`, `"int"`, "text, long, double or json"}},
		{"empty type", prod, NoFieldSet(), []IndexKey{{Name: "x"}}, []string{`"x"`, `type ""`}},
		{"extra key conflicts with MessageKey", prod, NoFieldSet(), []IndexKey{{Name: "msg", Type: "long"}},
			[]string{`index key "msg"`, "EncoderConfig.MessageKey makes it text", "extra key makes it long"}},
		{"FileKey and LineKey share a key", prod, FieldSet{FileKey: "src", LineKey: "src"}, nil,
			[]string{`index key "src"`, "FieldSet.FileKey makes it text", "FieldSet.LineKey makes it long"}},
		{"two extra keys conflict", prod, NoFieldSet(), []IndexKey{{Name: "n", Type: "long"}, {Name: "n", Type: "double"}},
			[]string{`index key "n"`, "long", "double"}},
		{"time key conflicts with PIDKey", prod, FieldSet{PIDKey: "ts"}, nil,
			[]string{`index key "ts"`, "EncoderConfig.TimeKey makes it double", "FieldSet.PIDKey makes it long"}},
		{"empty name", prod, NoFieldSet(), []IndexKey{{Type: "text"}}, []string{"empty name"}},
		{"__time__", prod, NoFieldSet(), []IndexKey{{Name: "__time__", Type: "long"}}, []string{`"__time__"`, "reserves"}},
		{"__partition_time__", prod, NoFieldSet(), []IndexKey{{Name: "__partition_time__", Type: "long"}}, []string{"reserves"}},
		{"unnamed tag", prod, NoFieldSet(), []IndexKey{{Name: "__tag__:", Type: "text"}}, []string{"name the tag"}},
		{"too long", prod, NoFieldSet(), []IndexKey{{Name: strings.Repeat("k", MaxKeyBytes+1), Type: "text"}}, []string{"129 bytes", "128"}},
		{"invalid UTF-8", prod, NoFieldSet(), []IndexKey{{Name: "k\xff", Type: "text"}}, []string{"UTF-8"}},
		{"every problem at once", prod, NoFieldSet(), []IndexKey{{Name: "a", Type: "int"}, {Name: "level", Type: "long"}},
			[]string{`"a"`, `"int"`, `index key "level"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := NewIndex(tc.cfg, tc.fs, tc.extra...)
			require.Error(t, err)
			require.Empty(t, idx.Keys)
			require.Nil(t, idx.Line)
			require.True(t, strings.HasPrefix(err.Error(), "zapsls: "), err.Error())
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestIndexForEncoderOptions(t *testing.T) {
	prod := zap.NewProductionEncoderConfig()
	idx, err := NewIndexFor(prod, []EncoderOption{
		WithFieldSet(FieldSet{LevelNumberKey: "levelno", UptimeKey: "uptime", ModuleKey: "module", FileNameKey: "filename"}),
		WithMessageKV(Extract{Prefix: "kv."}),
	}, IndexKey{Name: "took", Type: "long", From: IndexFromMessageKV}, IndexKey{Name: "user.id", Type: "long"})
	require.NoError(t, err)
	types := map[string]string{}
	for k, v := range idx.Keys {
		types[k] = v.Type
	}
	require.Equal(t, map[string]string{
		"msg": "text", "level": "text", "ts": "double", "logger": "text", "caller": "text", "stacktrace": "text",
		"pid": "long", "program": "text", "hostname": "text",
		"levelno": "long", "uptime": "long", "module": "text", "filename": "text",
		"kv.took": "long", "user.id": "long",
	}, types)

	_, err = NewIndexFor(prod, nil, IndexKey{Name: "a", Type: "text", From: IndexFromMessageJSON})
	require.ErrorContains(t, err, "do not turn messageJSON on")
	_, err = NewIndexFor(prod, nil, IndexKey{Name: "a", Type: "text", From: "message"})
	require.ErrorContains(t, err, `from "message": want messageJSON or messageKV`)
}
