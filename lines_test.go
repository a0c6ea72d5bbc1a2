package zapsls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	yaml "go.yaml.in/yaml/v3"

	"github.com/zapsls/zapsls/slstest"
)

// readLines runs p through a lineReader with o and returns each Log as the
// SDK decodes it, with its repair count; it fails on an error.
func readLines(t *testing.T, o LineOptions, p []byte) ([]*sls.Log, []int) {
	t.Helper()
	var logs []*sls.Log
	var repairs []int
	require.NoError(t, newLineReader(o).forEachEntry(p, func(frame []byte, r int) {
		logs = append(logs, decodeLog(t, frame))
		repairs = append(repairs, r)
	}))
	return logs, repairs
}

func logTime(l *sls.Log) time.Time {
	return time.Unix(int64(l.GetTime()), int64(l.GetTimeNs()))
}

// TestJSONLinesUseTheEntryTime writes entries with zap's JSON encoder and
// each of its EncodeTime functions, and reads the time back from the line.
func TestJSONLinesUseTheEntryTime(t *testing.T) {
	when := time.Now().Add(-time.Hour).Truncate(time.Second).Add(123456789).UTC()
	for name, tc := range map[string]struct {
		enc       zapcore.TimeEncoder
		precision time.Duration
	}{
		"epoch":       {zapcore.EpochTimeEncoder, time.Microsecond},
		"millis":      {zapcore.EpochMillisTimeEncoder, time.Microsecond},
		"nanos":       {zapcore.EpochNanosTimeEncoder, 0},
		"ISO8601":     {zapcore.ISO8601TimeEncoder, time.Millisecond},
		"RFC3339":     {zapcore.RFC3339TimeEncoder, time.Second},
		"RFC3339Nano": {zapcore.RFC3339NanoTimeEncoder, 0},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := zap.NewProductionEncoderConfig()
			cfg.EncodeTime = tc.enc
			for _, zone := range []*time.Location{time.UTC, time.FixedZone("CST", 8*3600)} {
				buf, err := zapcore.NewJSONEncoder(cfg).EncodeEntry(zapcore.Entry{Time: when.In(zone), Message: "m"}, nil)
				require.NoError(t, err)
				logs, _ := readLines(t, LineOptions{}, buf.Bytes())
				require.Len(t, logs, 1)
				got := logTime(logs[0])
				assert.WithinDuration(t, when, got, tc.precision, "line %s", buf.String())
				assert.Equal(t, when.Truncate(time.Second).Unix(), got.Unix(), "seconds exact")
				buf.Free()
			}
		})
	}
	// A time that does not read, a time key turned off, and a line without
	// one: the receipt time.
	before := time.Now().Add(-time.Second)
	for _, tc := range []struct {
		o    LineOptions
		line string
	}{
		{LineOptions{}, `{"ts":"yesterday","msg":"m"}`},
		{LineOptions{}, `{"ts":true,"msg":"m"}`},
		{LineOptions{TimeKey: FieldOff}, `{"ts":1700000000,"msg":"m"}`},
		{LineOptions{}, `{"msg":"m"}`},
	} {
		logs, _ := readLines(t, tc.o, []byte(tc.line))
		assert.True(t, logTime(logs[0]).After(before), tc.line)
		assert.Equal(t, "m", contents(t, logs[0])["msg"])
	}
	// Another time key, and the content stays as the line wrote it.
	stamp := when.Format(time.RFC3339)
	logs, repairs := readLines(t, LineOptions{TimeKey: "@t"}, []byte(`{"@t":"`+stamp+`","ts":1}`))
	assert.Equal(t, when.Truncate(time.Second), logTime(logs[0]).UTC())
	assert.Equal(t, map[string]string{"@t": stamp, "ts": "1"}, contents(t, logs[0]))
	assert.Equal(t, 0, repairs[0])
	// A time SLS would refuse (older than about 7 days, or ahead by more
	// than 15 minutes) is the batcher's to repair, as for every entry: it
	// arrives restamped, with its own time in OriginalTimeKey and the line's
	// time content kept.
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	far := []time.Time{time.Now().Add(-8 * 24 * time.Hour).UTC(), time.Now().Add(time.Hour).UTC()}
	for _, ft := range far {
		_, err := w.Write([]byte(fmt.Sprintf(`{"ts":%d,"msg":"m"}`+"\n", ft.UnixNano())))
		require.NoError(t, err)
	}
	require.NoError(t, w.Sync())
	got := srv.Logs()
	require.Len(t, got, 2)
	for i, l := range got {
		assert.True(t, l.Time.After(before), "restamped")
		assert.Equal(t, fmt.Sprint(far[i].UnixNano()), l.Contents["ts"])
		assert.Equal(t, far[i].Format(time.RFC3339Nano), l.Contents[OriginalTimeKey])
	}
}

func TestJSONLinesOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       LineOptions
		line    string
		want    [][2]string
		repairs int
	}{
		{"no options: every key as it is", LineOptions{},
			`{"level":"info","msg":"{\"a\":1}","n":1.5,"o":{"b":[1,2]},"s":"x"}`,
			[][2]string{{"level", "info"}, {"msg", `{"a":1}`}, {"n", "1.5"}, {"o", `{"b":[1,2]}`}, {"s", "x"}}, 0},
		{"message JSON, nested kept as text", LineOptions{MessageJSON: &Extract{Prefix: "m.", DropMessage: true}},
			`{"level":"info","msg":"{\"user\":\"ann\",\"req\":{\"id\":7}}","user":"bob"}`,
			[][2]string{{"level", "info"}, {"m.user", "ann"}, {"m.req", `{"id":7}`}, {"user", "bob"}}, 0},
		{"message JSON, duplicates with fields kept", LineOptions{MessageJSON: &Extract{DropMessage: true}},
			`{"msg":"{\"user\":\"ann\"}","user":"bob"}`,
			[][2]string{{"user", "ann"}, {"user", "bob"}}, 0},
		{"message JSON that is not an object", LineOptions{MessageJSON: &Extract{DropMessage: true}},
			`{"msg":"[1,2]"}`, [][2]string{{"msg", "[1,2]"}}, 0},
		{"message JSON, reserved and invalid", LineOptions{MessageJSON: &Extract{DropMessage: true}},
			"{\"msg\":\"{\\\"__source__\\\":\\\"a\xffb\\\"}\"}",
			[][2]string{{"field___source__", "a\uFFFDb"}}, 2},
		{"message KV, quoted with = and spaces", LineOptions{MessageKV: &Extract{Suffix: "_kv"}},
			`{"msg":"done q=\"a = b c\" n=3"}`,
			[][2]string{{"q_kv", "a = b c"}, {"n_kv", "3"}, {"msg", `done q="a = b c" n=3`}}, 0},
		{"message KV, separator, reserved, invalid", LineOptions{MessageKV: &Extract{Separator: ":", DropMessage: true}},
			"{\"msg\":\"__topic__:t k:\xff\"}",
			[][2]string{{"field___topic__", "t"}, {"k", "\uFFFD"}}, 2},
		{"affixes on built-in keys only", LineOptions{BuiltinPrefix: "_", BuiltinSuffix: "_"},
			`{"level":"warn","ts":1700000000,"logger":"app","caller":"a.go:1","msg":"m","stacktrace":"s","user":"ann"}`,
			[][2]string{{"_level_", "warn"}, {"_ts_", "1700000000"}, {"_logger_", "app"}, {"_caller_", "a.go:1"}, {"_msg_", "m"}, {"_stacktrace_", "s"}, {"user", "ann"}}, 0},
		{"root with affixes and KV", LineOptions{BuiltinPrefix: "b_", BuiltinRoot: "meta", MessageKV: &Extract{}},
			`{"level":"warn","msg":"k=v","user":"ann"}`,
			[][2]string{{"k", "v"}, {"user", "ann"}, {"meta", `{"b_level":"warn","b_msg":"k=v"}`}}, 0},
		{"other keys", LineOptions{MessageKey: "message", LevelKey: "severity", MessageJSON: &Extract{DropMessage: true}, BuiltinPrefix: "_"},
			`{"severity":"info","message":"{\"a\":1}","msg":"x","level":"y"}`,
			[][2]string{{"_severity", "info"}, {"a", "1"}, {"msg", "x"}, {"level", "y"}}, 0},
		{"escaped keys", LineOptions{BuiltinPrefix: "_"},
			`{"m\u0073g":"x","\"q\"":1}`,
			[][2]string{{"_msg", "x"}, {`"q"`, "1"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, repairs := readLines(t, tc.o, []byte(tc.line+"\n"))
			require.Len(t, logs, 1)
			assert.Equal(t, tc.want, pairs(logs[0]))
			assert.Equal(t, tc.repairs, repairs[0], "repairs")
		})
	}
}

func TestJSONLinesMessageJSONAndKV(t *testing.T) {
	o := LineOptions{MessageJSON: &Extract{Prefix: "j."}, MessageKV: &Extract{Prefix: "kv.", DropMessage: true}}
	logs, _ := readLines(t, o, []byte(`{"msg":"{\"a\":\"b=c\"}","n":1}`+"\n"+`{"msg":"x=1 y=\"2 3\"","n":2}`+"\n"))
	require.Len(t, logs, 2)
	assert.Equal(t, [][2]string{{"j.a", "b=c"}, {"msg", `{"a":"b=c"}`}, {"n", "1"}}, pairs(logs[0]), "a JSON object is not searched for pairs")
	assert.Equal(t, [][2]string{{"kv.x", "1"}, {"kv.y", "2 3"}, {"n", "2"}}, pairs(logs[1]))
}

// TestConsoleLines ships what zap's development config writes: one content
// per entry, stack trace included, with its time and level.
func TestConsoleLines(t *testing.T) {
	var out bytes.Buffer
	cfg := zap.NewDevelopmentConfig()
	enc := zapcore.NewConsoleEncoder(cfg.EncoderConfig)
	when := time.Now().Add(-time.Hour).Truncate(time.Second).Add(890 * time.Millisecond).In(time.FixedZone("", 8*3600))
	for _, ent := range []zapcore.Entry{
		{Level: zapcore.WarnLevel, Time: when, LoggerName: "app", Message: "careful",
			Caller: zapcore.EntryCaller{Defined: true, File: "/src/app/main.go", Line: 9}},
		{Level: zapcore.ErrorLevel, Time: when.Add(time.Second), Message: "boom", Stack: "main.main\n\t/src/app/main.go:12"},
	} {
		buf, err := enc.EncodeEntry(ent, []zapcore.Field{zap.String("user", "ann")})
		require.NoError(t, err)
		out.Write(buf.Bytes())
		buf.Free()
	}
	text := out.String()
	logs, _ := readLines(t, LineOptions{BuiltinPrefix: "_"}, out.Bytes())
	require.Len(t, logs, 2, text)
	first, second, _ := strings.Cut(text, "\n")
	assert.Equal(t, [][2]string{{"_level", "warn"}, {"_content", first}}, pairs(logs[0]))
	assert.Equal(t, when.UnixMilli(), logTime(logs[0]).UnixMilli())
	assert.Equal(t, [][2]string{{"_level", "error"}, {"_content", strings.TrimRight(second, "\n")}}, pairs(logs[1]))
	assert.Contains(t, pairs(logs[1])[1][1], "main.main\n\t/src/app/main.go:12", "the stack trace rides with its entry")
	assert.Equal(t, when.Add(time.Second).UnixMilli(), logTime(logs[1]).UnixMilli())

	// Colour level encoders, no time, another content key, plain text.
	cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	cfg.EncoderConfig.TimeKey = ""
	buf, err := zapcore.NewConsoleEncoder(cfg.EncoderConfig).EncodeEntry(zapcore.Entry{Level: zapcore.InfoLevel, Message: "hi"}, nil)
	require.NoError(t, err)
	defer buf.Free()
	before := time.Now().Add(-time.Second)
	logs, _ = readLines(t, LineOptions{ContentKey: "line"}, buf.Bytes())
	require.Len(t, logs, 1)
	assert.Equal(t, [][2]string{{"level", "info"}, {"line", strings.TrimRight(buf.String(), "\n")}}, pairs(logs[0]))
	assert.True(t, logTime(logs[0]).After(before))
	// Lines that do not start like a console entry are one entry each.
	logs, _ = readLines(t, LineOptions{}, []byte("just text\n{broken json\n\tindented\n"))
	require.Len(t, logs, 3)
	assert.Equal(t, [][2]string{{"content", "just text"}}, pairs(logs[0]))
	assert.Equal(t, [][2]string{{"content", "{broken json"}}, pairs(logs[1]), "a line that fails JSON is kept as text")
	assert.Equal(t, [][2]string{{"content", "\tindented"}}, pairs(logs[2]))
}

// TestSLSEncodingFramesTakeTheLineOptions: the frames of the "sls"
// encoding that zap.Config builds go through Config.Lines too.
func TestSLSEncodingFramesTakeTheLineOptions(t *testing.T) {
	enc := NewEncoder(zap.NewProductionEncoderConfig())
	when := time.Unix(1700000000, 123456789)
	buf, err := enc.EncodeEntry(zapcore.Entry{Level: zapcore.InfoLevel, Time: when, Message: `{"a":"x"}`}, []zapcore.Field{zap.Int("n", 1)})
	require.NoError(t, err)
	defer buf.Free()
	logs, repairs := readLines(t, LineOptions{MessageJSON: &Extract{DropMessage: true}, BuiltinPrefix: "_", BuiltinRoot: "__source__"}, buf.Bytes())
	require.Len(t, logs, 1)
	assert.Equal(t, when, logTime(logs[0]))
	p := pairs(logs[0])
	require.Len(t, p, 3)
	assert.Equal(t, [][2]string{{"a", "x"}, {"n", "1"}}, p[:2])
	assert.Equal(t, "field___source__", p[2][0])
	assert.Equal(t, 1, repairs[0], "the renamed root key")
	var root map[string]string
	require.NoError(t, json.Unmarshal([]byte(p[2][1]), &root))
	host, _ := os.Hostname()
	assert.Equal(t, "info", root["_level"])
	assert.Equal(t, "1700000000.1234567", root["_ts"], "the frame's time content is a built-in")
	assert.Equal(t, fmt.Sprint(os.Getpid()), root["_pid"])
	assert.Equal(t, host, root["_hostname"])
	assert.NotContains(t, root, "_msg", "dropped")

	// Without options, frames pass untouched.
	logs, _ = readLines(t, LineOptions{ContentKey: "c", MessageKey: "m"}, buf.Bytes())
	assert.Equal(t, decodeLog(t, buf.Bytes()), logs[0])
}

func TestLineOptionsConfig(t *testing.T) {
	want := LineOptions{MessageKey: "message", MessageJSON: &Extract{Prefix: "j_", DropMessage: true},
		MessageKV: &Extract{Separator: ":"}, BuiltinPrefix: "_", BuiltinRoot: "meta", ContentKey: "line"}
	var fromJSON, fromYAML Config
	require.NoError(t, json.Unmarshal([]byte(`{"lines":{"messageKey":"message","messageJSON":{"prefix":"j_","dropMessage":true},
		"messageKV":{"separator":":"},"builtinPrefix":"_","builtinRoot":"meta","contentKey":"line"}}`), &fromJSON))
	assert.Equal(t, want, fromJSON.Lines)
	require.NoError(t, yaml.Unmarshal([]byte(`
lines:
  messageKey: message
  messageJSON: {prefix: j_, dropMessage: true}
  messageKV: {separator: ":"}
  builtinPrefix: _
  builtinRoot: meta
  contentKey: line
`), &fromYAML))
	assert.Equal(t, want, fromYAML.Lines)
	q := url.Values{}
	for k, v := range map[string]string{"lines.messageKey": "message", "lines.messageJSON.prefix": "j_", "lines.messageJSON.dropMessage": "true",
		"lines.messageKV.separator": ":", "lines.builtinPrefix": "_", "lines.builtinRoot": "meta", "lines.contentKey": "line"} {
		q.Set(k, v)
	}
	fromURL, err := ConfigFromURL("sls://h/p/s?" + q.Encode())
	require.NoError(t, err)
	assert.Equal(t, want, fromURL.Lines)
	// Marshalled, it decodes back.
	b, err := json.Marshal(fromURL)
	require.NoError(t, err)
	var again Config
	require.NoError(t, json.Unmarshal(b, &again))
	assert.Equal(t, want, again.Lines)
	// Switches.
	on, err := ConfigFromURL("sls://h/p/s?lines.messageJSON=true&lines.messageKV=false")
	require.NoError(t, err)
	assert.Equal(t, LineOptions{MessageJSON: &Extract{}}, on.Lines)
	var kv Config
	require.NoError(t, json.Unmarshal([]byte(`{"lines":{"messageKV":true}}`), &kv))
	assert.Equal(t, LineOptions{MessageKV: &Extract{}}, kv.Lines)

	for _, tc := range []struct{ doc, want string }{
		{`{"lines":{"messageKy":"m"}}`, `unknown key "lines.messageKy"`},
		{`{"lines":{"messageJSON":{"separator":"="}}}`, `want messageJSON.prefix, .suffix, .dropMessage`},
		{`{"lines":{"messageJSON":"yes"}}`, `want true or false, got "yes"`},
		{`{"lines":{"builtinRoot":{"a":1}}}`, `lines.builtinRoot: want a string, got an object`},
		{`{"lines":"on"}`, `want an object, got string`},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.doc), &c)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, tc.doc)
		assert.Equal(t, "Lines", ce.Field, tc.doc)
		assert.Contains(t, err.Error(), tc.want, tc.doc)
	}
	_, err = ConfigFromURL("sls://h/p/s?lines.messageKV.dropMessage=maybe")
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Lines", ce.Field)
	assert.Contains(t, err.Error(), "parameter lines.messageKV.dropMessage")

	base := Config{Endpoint: "h", Project: "proj", Logstore: "store", AccessKeyID: "a", AccessKeySecret: "b"}
	base.Lines.MessageKV = &Extract{Separator: " = "}
	_, err = NewWriter(base)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Lines", ce.Field)
	assert.Contains(t, err.Error(), "separator")
}

// TestZapConfigLinesEndToEnd: zap.Config with the json, console and sls
// encodings, the options given as sink URL parameters.
func TestZapConfigLinesEndToEnd(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	defer func() { require.NoError(t, CloseSinks()) }()
	base := sinkURL(t, srv, "") // credentials in the environment
	when := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	for _, encoding := range []string{"json", "console", EncodingName} {
		t.Run(encoding, func(t *testing.T) {
			before := srv.LogCount()
			cfg := zap.NewProductionConfig()
			cfg.Encoding = encoding
			cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
			cfg.OutputPaths = []string{base + "&lines.messageKV.dropMessage=true&lines.builtinPrefix=_&topic=" + encoding}
			logger, err := cfg.Build(zap.WithClock(fixedClock(when)))
			require.NoError(t, err)
			logger.Info("order placed id=A-1 items=3", zap.String("user", "ann"))
			require.NoError(t, logger.Sync())
			logs := srv.Logs()[before:]
			require.Len(t, logs, 1)
			l := logs[0]
			assert.Equal(t, when, l.Time.UTC())
			if encoding == "console" {
				assert.Equal(t, "info", l.Contents["_level"])
				assert.Contains(t, l.Contents["_content"], "order placed id=A-1 items=3")
				return
			}
			assert.Equal(t, "A-1", l.Contents["id"])
			assert.Equal(t, "3", l.Contents["items"])
			assert.Equal(t, "ann", l.Contents["user"])
			assert.Equal(t, "info", l.Contents["_level"])
			assert.NotContains(t, l.Contents, "_msg")
			assert.NotContains(t, l.Contents, "msg")
		})
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// TestREADMEPythonHandlerExample builds the zap.Config YAML that README.md
// gives for a logging.conf, against slstest, and checks what arrives.
func TestREADMEPythonHandlerExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- zapsls:python-handler-example")
	require.True(t, ok, "README.md has the example's marker")
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	doc, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	var cfg zap.Config
	require.NoError(t, yaml.Unmarshal([]byte(doc), &cfg), doc)
	require.Equal(t, EncodingName, cfg.Encoding)
	require.Len(t, cfg.OutputPaths, 1)

	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	defer func() { require.NoError(t, CloseSinks()) }()
	endpoint, err := url.Parse(srv.Endpoint())
	require.NoError(t, err)
	u, err := url.Parse(cfg.OutputPaths[0])
	require.NoError(t, err)
	require.Equal(t, "/my-project/my-logstore", u.Path)
	u.Host = endpoint.Host
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID) // never in the URL
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	q := u.Query()
	q.Set("protocol", "http")
	u.RawQuery = q.Encode()
	cfg.OutputPaths = []string{u.String()}
	cfg.ErrorOutputPaths = nil

	logger, err := cfg.Build()
	require.NoError(t, err)
	logger.Info(`{"user":"ann","items":3}`)
	logger.Warn("slow request took=15ms path=/a", zap.String("user", "bob"))
	logger.Debug("below the level")
	require.NoError(t, logger.Sync())

	logs := srv.Logs()
	require.Len(t, logs, 2)
	js, kv := logs[0].Contents, logs[1].Contents
	assert.Equal(t, "ann", js["user"])
	assert.Equal(t, "3", js["items"])
	assert.NotContains(t, js, "__message__", "extract_json_drop_message")
	assert.Equal(t, "INFO", js["__levelname__"])
	assert.Contains(t, js["__caller__"], "lines_test.go:")
	assert.Contains(t, js["__funcName__"], "TestREADMEPythonHandlerExample")
	_, err = time.Parse("2006-01-02T15:04:05.000Z0700", js["__asctime__"])
	assert.NoError(t, err, js["__asctime__"])
	assert.Equal(t, fmt.Sprint(os.Getpid()), js["__pid__"])
	assert.Equal(t, "0", js["__levelno__"])
	assert.Equal(t, "github.com/zapsls/zapsls", js["__module__"])
	assert.NotEmpty(t, js["__program__"])
	assert.NotEmpty(t, js["__hostname__"])

	assert.Equal(t, "15ms", kv["took"])
	assert.Equal(t, "/a", kv["path"])
	assert.Equal(t, "bob", kv["user"])
	assert.Equal(t, "slow request took=15ms path=/a", kv["__message__"], "extract_kv keeps the message")
	assert.Equal(t, "WARN", kv["__levelname__"])
	assert.Equal(t, "api", logs[1].Topic)
}

// TestLinesDerivedFields: the FieldSet fields that JSON lines, console
// lines and frames of the "sls" encoding carry enough to derive.
func TestLinesDerivedFields(t *testing.T) {
	cfg, err := ConfigFromURL("sls://h/proj/store?lines.levelNumberKey=levelno&lines.fileNameKey=filename&lines.moduleKey=module&lines.uptimeKey=uptime&lines.functionKey=func&lines.builtinPrefix=_")
	require.NoError(t, err)
	o := cfg.Lines
	when := processStart.Add(2500 * time.Millisecond)
	ec := zap.NewProductionEncoderConfig()
	ec.FunctionKey = "func"
	ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder // epoch floats lose the last nanoseconds
	ent := zapcore.Entry{Level: zapcore.ErrorLevel, Time: when, Message: "m",
		Caller: zapcore.EntryCaller{Defined: true, File: "/src/shop/cart/cart.go", Line: 42, Function: "github.com/acme/shop/cart.(*Cart).Add"}}
	want := map[string]string{"_levelno": "2", "_filename": "cart.go", "_module": "github.com/acme/shop/cart", "_uptime": "2500"}
	for name, enc := range map[string]zapcore.Encoder{"json": zapcore.NewJSONEncoder(ec), "sls": NewEncoder(ec)} {
		buf, err := enc.EncodeEntry(ent, nil)
		require.NoError(t, err)
		logs, _ := readLines(t, o, buf.Bytes())
		buf.Free()
		require.Len(t, logs, 1)
		m := contents(t, logs[0])
		for k, v := range want {
			assert.Equal(t, v, m[k], "%s: %s", name, k)
		}
		assert.Equal(t, "error", m["_level"], name)
		assert.Equal(t, "cart/cart.go:42", m["_caller"], name)
	}
	// A console line gives its level; an entry without level or caller
	// adds nothing for them.
	logs, _ := readLines(t, o, []byte("2026-11-30T08:00:00.000Z\tWARN\thello\n{\"msg\":\"x\"}\n"))
	require.Len(t, logs, 2)
	assert.Equal(t, "1", contents(t, logs[0])["_levelno"])
	m := contents(t, logs[1])
	assert.NotContains(t, m, "_levelno")
	assert.NotContains(t, m, "_filename")
	assert.Contains(t, m, "_uptime")
}
