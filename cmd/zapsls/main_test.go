package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }

// envOf returns an environment holding kv.
func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// credsEnv holds slstest's default credentials.
var credsEnv = envOf(map[string]string{
	zapsls.EnvAccessKeyID:     slstest.DefaultAccessKeyID,
	zapsls.EnvAccessKeySecret: slstest.DefaultAccessKeySecret,
})

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, env func(string) string, hc *http.Client, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runWith(args, &out, &errb, env, hc)
	return result{code, out.String(), errb.String()}
}

// defaultIndexOutput is what "zapsls index" prints for zap's production
// EncoderConfig and zapsls.DefaultFieldSet: the README shows it.
const defaultIndexOutput = `{
  "keys": {
    "caller": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "hostname": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "level": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "logger": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "msg": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "pid": {
      "token": [],
      "caseSensitive": false,
      "type": "long",
      "doc_value": true,
      "chn": false
    },
    "program": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "stacktrace": {
      "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
      "caseSensitive": false,
      "type": "text",
      "doc_value": true,
      "chn": false
    },
    "ts": {
      "token": [],
      "caseSensitive": false,
      "type": "double",
      "doc_value": true,
      "chn": false
    }
  },
  "line": {
    "token": [ ",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r" ],
    "caseSensitive": false,
    "chn": false
  },
  "log_reduce": false
}
`

func TestDryRunNeedsNoCredentials(t *testing.T) {
	for _, args := range [][]string{
		{"index"},
		{"index", "--dry-run"},
		{"index", "-dry-run", "--encoder=production"},
		// A URL is only parsed: no credentials, no connection.
		{"index", "--url", "sls://cn-hangzhou.log.aliyuncs.com/proj/store"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(args, &out, &errb, noEnv)
			require.Equal(t, 0, code, errb.String())
			require.Empty(t, errb.String())
			require.Equal(t, defaultIndexOutput, out.String())
		})
	}
}

func TestDryRunPrintsWhatNewIndexDerives(t *testing.T) {
	res := runCmd(t, noEnv, nil, "index")
	require.Equal(t, 0, res.code)
	var printed sls.Index
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &printed))
	want, err := zapsls.NewIndex(zap.NewProductionEncoderConfig(), zapsls.DefaultFieldSet())
	require.NoError(t, err)
	require.Equal(t, want, printed)
}

// keyTypes reads the printed index as key -> type.
func keyTypes(t *testing.T, out string) map[string]string {
	t.Helper()
	var idx sls.Index
	require.NoError(t, json.Unmarshal([]byte(out), &idx), out)
	types := map[string]string{}
	for k, v := range idx.Keys {
		types[k] = v.Type
	}
	return types
}

func TestDryRunFlags(t *testing.T) {
	res := runCmd(t, noEnv, nil, "index",
		"--encoder", "development", "--message-key", "message", "--name-key=", "--function-key", "fn",
		"--time-encoder", "nanos", "--file-key", "file", "--line-key", "line", "--pid-key", "proc.pid",
		"--program-key=", "--hostname-key", "host",
		"--key", "user.id:long", "--key", "latency:double", "--key", "req:json", "--key", "__tag__:zone:text")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{
		"message": "text", "L": "text", "T": "long", "C": "text", "fn": "text", "S": "text",
		"file": "text", "line": "long", "proc.pid": "long", "host": "text",
		"user.id": "long", "latency": "double", "req": "json", "__tag__:zone": "text",
	}, keyTypes(t, res.stdout))

	// The URL's topic and tags are LogGroup fields SLS stores as keys.
	res = runCmd(t, noEnv, nil, "index", "--url", "sls://example.com/proj/store?topic=api&tag.env=prod&tag.az=a",
		"--pid-key=", "--program-key=", "--hostname-key=", "--encoder", "production", "--stacktrace-key=", "--caller-key=")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{
		"msg": "text", "level": "text", "ts": "double", "logger": "text",
		"__topic__": "text", "__tag__:env": "text", "__tag__:az": "text",
	}, keyTypes(t, res.stdout))

	// ZAPSLS_URL stands for --url.
	res = runCmd(t, envOf(map[string]string{envURL: "sls://example.com/proj/store?tag.env=prod"}), nil, "index")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "text", keyTypes(t, res.stdout)["__tag__:env"])
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{}, noEnv, "usage: zapsls index"},
		{[]string{"indexes"}, noEnv, `unknown command "indexes"`},
		{[]string{"index", "extra"}, noEnv, `unexpected argument "extra"`},
		{[]string{"index", "--key", "user.id"}, noEnv, "want NAME:TYPE"},
		{[]string{"index", "--key", "user.id:"}, noEnv, "want NAME:TYPE"},
		{[]string{"index", "--key", "user.id:integer"}, noEnv, `index key "user.id": type "integer"`},
		{[]string{"index", "--key", "msg:long"}, noEnv, `index key "msg": EncoderConfig.MessageKey makes it text, extra key makes it long`},
		{[]string{"index", "--encoder", "json"}, noEnv, `--encoder "json"`},
		{[]string{"index", "--time-encoder", "unix"}, noEnv, `--time-encoder "unix"`},
		{[]string{"index", "--apply", "--dry-run", "--url", "sls://h/p/l"}, credsEnv, "exclude each other"},
		{[]string{"index", "--force"}, noEnv, "--force goes with --apply"},
		{[]string{"index", "--apply"}, credsEnv, "--apply needs the logstore: give --url or set ZAPSLS_URL"},
		{[]string{"index", "--apply", "--url", "sls://h/p/l"}, noEnv, "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID"},
		{[]string{"index", "--url", "sls://h/p"}, noEnv, "want /PROJECT/LOGSTORE"},
		{[]string{"index", "--url", "sls://h/p/l?bogus=1"}, noEnv, `unknown parameter "bogus"`},
		{[]string{"index", "--apply", "--url", "sls://h/p/l?signatureVersion=v4"}, credsEnv, "needs region"},
		{[]string{"index", "--nope"}, noEnv, "flag provided but not defined: -nope"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := runCmd(t, tc.env, nil, tc.args...)
			require.Equal(t, 2, res.code, res.stderr)
			require.Contains(t, res.stderr, tc.want)
			require.Empty(t, res.stdout)
		})
	}
	res := runCmd(t, noEnv, nil, "index", "-h")
	require.Equal(t, 0, res.code)
	require.Contains(t, res.stderr, "-key NAME:TYPE")
	res = runCmd(t, envOf(map[string]string{envURL: "sls://ak:hush@h/p/l"}), nil, "index", "-h")
	require.Equal(t, 0, res.code)
	require.NotContains(t, res.stderr, "hush", "-h shows no credentials")
	res = runCmd(t, noEnv, nil, "help")
	require.Equal(t, 0, res.code)
	require.Contains(t, res.stdout, "usage: zapsls index")
}

// storeURL is the sink URL of proj/store at srv, which --apply reaches
// directly (the endpoint host is an IP address).
func storeURL(srv *slstest.Server) string {
	u, _ := url.Parse(srv.Endpoint())
	return "sls://" + u.Host + "/proj/store?protocol=" + u.Scheme
}

func newServer(t *testing.T, opts slstest.Options) *slstest.Server {
	t.Helper()
	srv := slstest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func defaultIndex(t *testing.T) sls.Index {
	t.Helper()
	idx, err := zapsls.NewIndex(zap.NewProductionEncoderConfig(), zapsls.DefaultFieldSet())
	require.NoError(t, err)
	return idx
}

func callLog(srv *slstest.Server) []string {
	var out []string
	for _, c := range srv.IndexCalls() {
		out = append(out, c.Method+" "+c.Code)
	}
	return out
}

func TestApplyCreates(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	// Through run itself: its own HTTP client connects to the IP endpoint.
	var out, errb bytes.Buffer
	code := run([]string{"index", "--apply", "--url", storeURL(srv)}, &out, &errb, credsEnv)
	require.Equal(t, 0, code, errb.String())
	require.Equal(t, "created the index of proj/store: full-text, and 9 keys: caller, hostname, level, logger, msg, pid, program, stacktrace, ts\n", out.String())
	got, ok := srv.Index("proj", "store")
	require.True(t, ok)
	require.Equal(t, defaultIndex(t), *got)
	require.Equal(t, []string{"GET IndexConfigNotExist", "POST "}, callLog(srv))

	// Again: nothing to change, no update sent.
	out.Reset()
	code = run([]string{"index", "--apply", "--url", storeURL(srv)}, &out, &errb, credsEnv)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "nothing to change")
	require.Equal(t, []string{"GET IndexConfigNotExist", "POST ", "GET "}, callLog(srv))
}

func TestApplyWithInjectedClientOverTLS(t *testing.T) {
	srv := newServer(t, slstest.Options{TLS: true, SecurityToken: "sts"})
	u, _ := url.Parse(srv.Endpoint())
	// Credentials in the URL are refused, and not echoed.
	env := envOf(map[string]string{
		zapsls.EnvAccessKeyID: "env-ak", zapsls.EnvAccessKeySecret: "env-secret", zapsls.EnvSecurityToken: "sts",
	})
	rawURL := "sls://" + slstest.DefaultAccessKeyID + ":" + slstest.DefaultAccessKeySecret + "@" + u.Host + "/proj/store?tag.env=prod"
	res := runCmd(t, env, srv.Client(), "index", "--apply", "--url", rawURL, "--key", "user.id:long")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "user info (credentials) in a sink URL is refused")
	require.NotContains(t, res.stderr+res.stdout, slstest.DefaultAccessKeySecret)

	env = envOf(map[string]string{
		zapsls.EnvAccessKeyID: slstest.DefaultAccessKeyID, zapsls.EnvAccessKeySecret: slstest.DefaultAccessKeySecret,
		zapsls.EnvSecurityToken: "sts", envURL: "sls://" + u.Host + "/proj/store?tag.env=prod",
	})
	res = runCmd(t, env, srv.Client(), "index", "--apply", "--key", "user.id:long")
	require.Equal(t, 0, res.code, res.stderr)
	got, ok := srv.Index("proj", "store")
	require.True(t, ok)
	require.Equal(t, "long", got.Keys["user.id"].Type)
	require.Equal(t, "text", got.Keys["__tag__:env"].Type)
}

func TestApplySignatureV4(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	res := runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv)+"&signatureVersion=v4&region=cn-hangzhou")
	require.Equal(t, 0, res.code, res.stderr)
	_, ok := srv.Index("proj", "store")
	require.True(t, ok)
}

// userIndex is an index a user made by hand, with fields the SDK's
// sls.Index does not model.
const userIndex = `{
	"index_mode": "v2",
	"ttl": 30,
	"max_text_len": 4096,
	"log_reduce": true,
	"line": {"token": [",", " "], "caseSensitive": true, "chn": true},
	"keys": {
		"user_id": {"type": "long", "token": [], "doc_value": true, "alias": "uid"},
		"msg":     {"type": "text", "token": [" "], "caseSensitive": true, "doc_value": false},
		"request": {"type": "json", "token": [","], "doc_value": true, "index_all": true, "max_depth": 3,
		            "json_keys": {"status": {"type": "long", "doc_value": true}}}
	}
}`

func TestApplyMergeKeepsWhatTheUserIndexed(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	require.NoError(t, srv.SetIndexJSON("proj", "store", []byte(userIndex)))
	before, _ := srv.IndexJSON("proj", "store")

	res := runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv))
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, `updated the index of proj/store:
  added 8 keys: caller, hostname, level, logger, pid, program, stacktrace, ts
  1 key was indexed already as zapsls writes it
  kept 2 other keys the logstore indexes
`, res.stdout)
	require.Equal(t, []string{"GET ", "PUT "}, callLog(srv))

	var merged, orig map[string]json.RawMessage
	raw, _ := srv.IndexJSON("proj", "store")
	require.NoError(t, json.Unmarshal(raw, &merged))
	require.NoError(t, json.Unmarshal(before, &orig))
	// Everything but keys is as the user left it, unknown fields included.
	for k, v := range orig {
		if k != "keys" {
			require.JSONEq(t, string(v), string(merged[k]), k)
		}
	}
	require.Len(t, merged, len(orig))
	var keys, origKeys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(merged["keys"], &keys))
	require.NoError(t, json.Unmarshal(orig["keys"], &origKeys))
	for k, v := range origKeys {
		require.JSONEq(t, string(v), string(keys[k]), "the user's key %s is kept as it was", k)
	}
	want := defaultIndex(t)
	for k, v := range want.Keys {
		if _, theirs := origKeys[k]; theirs {
			continue
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(keys[k]), k)
	}
	require.Len(t, keys, len(want.Keys)+2)

	// Nothing left to do the second time.
	res = runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "nothing to change")
	require.Equal(t, []string{"GET ", "PUT ", "GET "}, callLog(srv))
}

func TestApplyMergeWithoutFullText(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	srv.SetIndex("proj", "store", sls.Index{Keys: map[string]sls.IndexKey{"other": {Type: "long", Token: []string{}}}})
	res := runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv), "--key", "error:text")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "added 10 keys")
	require.Contains(t, res.stdout, "no full-text index, and it is left so")
	got, _ := srv.Index("proj", "store")
	require.Nil(t, got.Line)
	require.Len(t, got.Keys, 11)
}

func TestApplyConflictingTypes(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	srv.SetIndex("proj", "store", sls.Index{
		Line: &sls.IndexLine{Token: []string{" "}},
		Keys: map[string]sls.IndexKey{
			"pid":   {Type: "text", Token: []string{" "}},
			"level": {Type: "long", Token: []string{}},
			"mine":  {Type: "double", Token: []string{}},
		},
	})
	before, _ := srv.IndexJSON("proj", "store")
	res := runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv))
	require.Equal(t, 1, res.code)
	require.Empty(t, res.stdout)
	require.Contains(t, res.stderr, `key "level": the logstore indexes it as long, zapsls derives text`)
	require.Contains(t, res.stderr, `key "pid": the logstore indexes it as text, zapsls derives long (--pid-key NAME writes it under another name, --pid-key "" leaves it out`)
	require.Contains(t, res.stderr, `key "level": the logstore indexes it as long, zapsls derives text (--level-key NAME`)
	require.Contains(t, res.stderr, "--force")
	after, _ := srv.IndexJSON("proj", "store")
	require.JSONEq(t, string(before), string(after), "nothing changed")
	require.Equal(t, []string{"GET "}, callLog(srv))

	res = runCmd(t, credsEnv, nil, "index", "--apply", "--force", "--url", storeURL(srv))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "replaced 2 keys (--force): level (long -> text), pid (text -> long)")
	require.Contains(t, res.stdout, "kept 1 other key the logstore indexes")
	got, _ := srv.Index("proj", "store")
	want := defaultIndex(t)
	require.Equal(t, want.Keys["pid"], got.Keys["pid"])
	require.Equal(t, want.Keys["level"], got.Keys["level"])
	require.Equal(t, "double", got.Keys["mine"].Type)
	require.Equal(t, []string{" "}, got.Line.Token, "the user's full-text settings stay")
}

func TestApplyCreateRace(t *testing.T) {
	// The index appears between GetIndex and CreateIndex: merge into it.
	srv := newServer(t, slstest.Options{})
	srv.SetIndex("proj", "store", sls.Index{Keys: map[string]sls.IndexKey{"x": {Type: "long", Token: []string{}}}})
	srv.FailIndexNext(1, slstest.Fault{Status: http.StatusNotFound, Code: "IndexConfigNotExist"})
	res := runCmd(t, credsEnv, nil, "index", "--apply", "--url", storeURL(srv))
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "updated the index of proj/store")
	require.Equal(t, []string{"GET IndexConfigNotExist", "POST IndexAlreadyExist", "GET ", "PUT "}, callLog(srv))
	got, _ := srv.Index("proj", "store")
	require.Len(t, got.Keys, 10)
}

func TestApplyErrors(t *testing.T) {
	denied := "denied by sts or ram, action: log:GetIndex, resource: acs:log:cn-hangzhou:1:project/proj/logstore/store"
	for _, tc := range []struct {
		name  string
		opts  slstest.Options
		setup func(*slstest.Server)
		env   func(string) string
		want  []string
	}{
		{"missing logstore", slstest.Options{Logstores: []string{"other"}}, nil, credsEnv,
			[]string{`logstore "store" does not exist in project "proj"`, "create it first", "404 LogStoreNotExist"}},
		{"missing project", slstest.Options{Projects: []string{"other"}}, nil, credsEnv,
			[]string{`project "proj" does not exist`, "404 ProjectNotExist"}},
		{"RAM denies GetIndex", slstest.Options{}, func(s *slstest.Server) {
			s.FailIndexNext(1, slstest.Fault{Status: http.StatusForbidden, Code: "Unauthorized", Message: denied})
		}, credsEnv, []string{"GetIndex proj/store: permission denied", "403 Unauthorized", denied,
			"log:GetIndex, log:CreateIndex and log:UpdateIndex on acs:log:*:*:project/proj/logstore/store"}},
		{"RAM denies CreateIndex", slstest.Options{}, func(s *slstest.Server) {
			s.FailIndexNext(1, slstest.Fault{Accept: true})
			s.FailIndexNext(1, slstest.Fault{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: "denied by sts or ram"})
		}, credsEnv, []string{"CreateIndex proj/store: permission denied", "401 Unauthorized"}},
		{"RAM denies UpdateIndex", slstest.Options{}, func(s *slstest.Server) {
			s.SetIndex("proj", "store", sls.Index{Line: &sls.IndexLine{Token: []string{" "}}})
			s.FailIndexNext(1, slstest.Fault{Accept: true})
			s.FailIndexNext(1, slstest.Fault{Status: http.StatusForbidden, Code: "Unauthorized", Message: "denied by sts or ram"})
		}, credsEnv, []string{"UpdateIndex proj/store: permission denied"}},
		{"wrong secret", slstest.Options{}, nil, envOf(map[string]string{
			zapsls.EnvAccessKeyID: slstest.DefaultAccessKeyID, zapsls.EnvAccessKeySecret: "wrong",
		}), []string{"permission denied", "401 SignatureNotMatch"}},
		{"unknown key", slstest.Options{}, nil, envOf(map[string]string{
			zapsls.EnvAccessKeyID: "nobody", zapsls.EnvAccessKeySecret: "x",
		}), []string{"permission denied", "401 InvalidAccessKeyId"}},
		{"other error", slstest.Options{}, func(s *slstest.Server) {
			s.FailIndexNext(1, slstest.Fault{Status: http.StatusBadRequest, Code: "ParameterInvalid", Message: "odd"})
		}, credsEnv, []string{"GetIndex proj/store: SLS answered 400 ParameterInvalid: odd (request "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.opts)
			if tc.setup != nil {
				tc.setup(srv)
			}
			before, hadIndex := srv.IndexJSON("proj", "store")
			res := runCmd(t, tc.env, nil, "index", "--apply", "--url", storeURL(srv))
			require.Equal(t, 1, res.code, res.stdout)
			require.Empty(t, res.stdout)
			for _, w := range tc.want {
				require.Contains(t, res.stderr, w)
			}
			after, hasIndex := srv.IndexJSON("proj", "store")
			require.Equal(t, hadIndex, hasIndex)
			require.Equal(t, string(before), string(after))
		})
	}
}

func TestMergeIndex(t *testing.T) {
	want := sls.Index{Keys: map[string]sls.IndexKey{
		"a": {Type: "text", Token: []string{" "}},
		"b": {Type: "long", Token: []string{}},
	}}
	t.Run("not an index", func(t *testing.T) {
		for _, in := range []string{``, `null`, `[]`, `{"keys": 1}`, `{"keys": {"a": 1}}`} {
			_, _, err := mergeIndex([]byte(in), want, false)
			require.Error(t, err, in)
		}
	})
	t.Run("no keys, lastModifyTime dropped", func(t *testing.T) {
		out, res, err := mergeIndex([]byte(`{"line":{"token":[" "]},"lastModifyTime":5,"keys":null}`), want, false)
		require.NoError(t, err)
		require.JSONEq(t, `{"line":{"token":[" "]},"keys":{"a":{"type":"text","token":[" "],"caseSensitive":false,"chn":false},"b":{"type":"long","token":[],"caseSensitive":false,"chn":false}}}`, string(out))
		require.Equal(t, []string{"a", "b"}, res.added)
		require.False(t, res.noLine)
	})
	t.Run("type in another case, or none", func(t *testing.T) {
		_, res, err := mergeIndex([]byte(`{"keys":{"a":{"token":[" "]},"b":{"type":"LONG"}}}`), want, false)
		require.NoError(t, err)
		require.Equal(t, 2, res.same)
		require.True(t, res.noLine)
	})
}

func TestDryRunEncoderOptions(t *testing.T) {
	res := runCmd(t, noEnv, nil, "index", "--pid-key=", "--program-key=", "--hostname-key=", "--caller-key=", "--stacktrace-key=",
		"--level-number-key", "levelno", "--file-name-key", "filename", "--module-key", "module", "--uptime-key", "uptime",
		"--builtin-prefix", "_", "--builtin-suffix", "_",
		"--message-json-prefix", "j.", "--json-key", "user:text", "--json-key", "items:long",
		"--message-kv-suffix", "_kv", "--kv-key", "took:long", "--kv-key", "__topic__:text")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{
		"_msg_": "text", "_level_": "text", "_ts_": "double", "_logger_": "text",
		"_levelno_": "long", "_filename_": "text", "_module_": "text", "_uptime_": "long",
		"j.user": "text", "j.items": "long", "took_kv": "long", "__topic___kv": "text",
	}, keyTypes(t, res.stdout))

	// With a root, the built-in fields are one json key.
	res = runCmd(t, noEnv, nil, "index", "--builtin-root", "meta", "--module-key", "module", "--key", "user.id:long")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{"meta": "json", "user.id": "long"}, keyTypes(t, res.stdout))

	// An extracted key that the rules rename is indexed renamed.
	res = runCmd(t, noEnv, nil, "index", "--kv-key", "__source__:text")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "text", keyTypes(t, res.stdout)["field___source__"])
}

// --apply takes a destination as the sink does: the URL a zap.Config
// writes to, destination parameters included, names the logstore indexed.
func TestApplyTakesTheSinkURLsDestination(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	u, _ := url.Parse(srv.Endpoint())
	rawURL := "sls://" + u.Host + "/proj/audit?protocol=" + u.Scheme + "&topic=payments&hashKey=tenant-7&processor=mask"
	var out, errb bytes.Buffer
	code := run([]string{"index", "--apply", "--url", rawURL}, &out, &errb, credsEnv)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "created the index of proj/audit")
	_, ok := srv.Index("proj", "audit")
	require.True(t, ok)
	_, ok = srv.Index("proj", "store")
	require.False(t, ok)
}

func TestDryRunLineOptionsFromTheURL(t *testing.T) {
	res := runCmd(t, noEnv, nil, "index", "--pid-key=", "--program-key=", "--hostname-key=", "--caller-key=", "--stacktrace-key=", "--name-key=",
		"--url", "sls://example.com/proj/store?lines.builtinPrefix=_&lines.levelNumberKey=levelno&lines.uptimeKey=up&lines.messageKV.prefix=kv.",
		"--kv-key", "took:long")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{
		"_msg": "text", "_level": "text", "_ts": "double", "_levelno": "long", "_up": "long", "kv.took": "long",
	}, keyTypes(t, res.stdout))
	// A flag wins over the URL.
	res = runCmd(t, noEnv, nil, "index", "--pid-key=", "--program-key=", "--hostname-key=", "--builtin-root", "meta",
		"--url", "sls://example.com/proj/store?lines.builtinRoot=other")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, map[string]string{"meta": "json"}, keyTypes(t, res.stdout))
}

// --apply against an endpoint it cannot reach says so in a round trip,
// with what to fix, instead of retrying for --timeout.
func TestApplyUnreachableFailsFast(t *testing.T) {
	srv := newServer(t, slstest.Options{})
	u, _ := url.Parse(srv.Endpoint())
	for _, tc := range []struct {
		name, url, want string
		prepare         func()
	}{
		{"https against http", "sls://" + u.Host + "/proj/store?protocol=https", "does not speak TLS: for an HTTP endpoint add protocol=http", func() {}},
		{"refused port", "sls://" + u.Host + "/proj/store?protocol=http", "refuses connections", srv.RefuseConnections},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			var out, errb bytes.Buffer
			start := time.Now()
			code := run([]string{"index", "--apply", "--url", tc.url}, &out, &errb, credsEnv)
			assert.Equal(t, 1, code)
			assert.Contains(t, errb.String(), tc.want)
			assert.Less(t, time.Since(start), 10*time.Second, "the default --timeout is 30 s")
		})
	}
}
