package slstest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/stretchr/testify/require"
)

var testTokens = []string{",", " ", ";", "=", "\n"}

func testIndex() sls.Index {
	return sls.Index{
		Keys: map[string]sls.IndexKey{
			"msg":  {Token: testTokens, Type: "text", DocValue: true},
			"line": {Token: []string{}, Type: "long", DocValue: true},
		},
		Line: &sls.IndexLine{Token: testTokens},
	}
}

func indexMethods(calls []IndexCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method+" "+c.Project+"/"+c.Logstore+" "+http.StatusText(c.Status)+" "+c.Code)
	}
	return out
}

func TestIndexLifecycleWithSDK(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)

	_, err := c.GetIndex(testProject, testLogstore)
	requireSLSError(t, err, http.StatusNotFound, "IndexConfigNotExist")
	_, ok := s.Index(testProject, testLogstore)
	require.False(t, ok)

	want := testIndex()
	require.NoError(t, c.CreateIndex(testProject, testLogstore, want))
	got, ok := s.Index(testProject, testLogstore)
	require.True(t, ok)
	require.Equal(t, want, *got)
	fetched, err := c.GetIndex(testProject, testLogstore)
	require.NoError(t, err)
	require.Equal(t, want, *fetched)
	raw, err := c.GetIndexString(testProject, testLogstore)
	require.NoError(t, err)
	require.Contains(t, raw, `"lastModifyTime":`)

	err = c.CreateIndex(testProject, testLogstore, want)
	requireSLSError(t, err, http.StatusBadRequest, "IndexAlreadyExist")

	want.Keys["level"] = sls.IndexKey{Token: testTokens, Type: "text"}
	require.NoError(t, c.UpdateIndex(testProject, testLogstore, want))
	got, _ = s.Index(testProject, testLogstore)
	require.Equal(t, want, *got)

	require.NoError(t, c.DeleteIndex(testProject, testLogstore))
	_, ok = s.Index(testProject, testLogstore)
	require.False(t, ok)
	requireSLSError(t, c.DeleteIndex(testProject, testLogstore), http.StatusNotFound, "IndexConfigNotExist")
	requireSLSError(t, c.UpdateIndex(testProject, testLogstore, want), http.StatusNotFound, "IndexConfigNotExist")

	require.Equal(t, []string{
		"GET proj/store Not Found IndexConfigNotExist",
		"POST proj/store OK ",
		"GET proj/store OK ",
		"GET proj/store OK ",
		"POST proj/store Bad Request IndexAlreadyExist",
		"PUT proj/store OK ",
		"DELETE proj/store OK ",
		"DELETE proj/store Not Found IndexConfigNotExist",
		"PUT proj/store Not Found IndexConfigNotExist",
	}, indexMethods(s.IndexCalls()))
	calls := s.IndexCalls()
	require.JSONEq(t, mustJSON(t, testIndex()), string(calls[1].Body))
	require.Empty(t, calls[0].Body)
	require.Regexp(t, `^[0-9A-F]{24}$`, calls[0].RequestID)

	// Index calls are not PutLogs: nothing stored there, and the errors
	// are rejections like any other.
	require.Empty(t, s.Requests())
	var codes []string
	for _, r := range s.Rejections() {
		codes = append(codes, r.Code)
	}
	require.Equal(t, []string{"IndexConfigNotExist", "IndexAlreadyExist", "IndexConfigNotExist", "IndexConfigNotExist"}, codes)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestIndexPerProjectAndLogstore(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	require.NoError(t, c.CreateIndex("p1", "a", testIndex()))
	for _, pl := range [][2]string{{"p1", "b"}, {"p2", "a"}} {
		_, err := c.GetIndex(pl[0], pl[1])
		requireSLSError(t, err, http.StatusNotFound, "IndexConfigNotExist")
		_, ok := s.Index(pl[0], pl[1])
		require.False(t, ok)
	}
	_, ok := s.Index("p1", "a")
	require.True(t, ok)
}

func TestIndexKeepsFieldsTheSDKDoesNotModel(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	body := `{"index_mode":"v2","keys":{"req":{"type":"json","token":[","],"doc_value":true,"index_all":true,"max_depth":3}},` +
		`"line":{"token":[","],"caseSensitive":false},"lastModifyTime":1,"ttl":30}`
	require.NoError(t, c.CreateIndexString(testProject, testLogstore, body))
	raw, ok := s.IndexJSON(testProject, testLogstore)
	require.True(t, ok)
	require.JSONEq(t, `{"index_mode":"v2","keys":{"req":{"type":"json","token":[","],"doc_value":true,"index_all":true,"max_depth":3}},`+
		`"line":{"token":[","],"caseSensitive":false},"ttl":30}`, string(raw), "lastModifyTime is the server's")
	got, err := c.GetIndexString(testProject, testLogstore)
	require.NoError(t, err)
	require.Contains(t, got, `"index_all":true`)
	require.NotContains(t, got, `"lastModifyTime":1,`)

	idx, ok := s.Index(testProject, testLogstore)
	require.True(t, ok)
	require.EqualValues(t, 30, idx.Ttl)
	require.Equal(t, "json", idx.Keys["req"].Type)
}

func TestIndexSetAndPreset(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	s.SetIndex(testProject, testLogstore, testIndex())
	got, err := c.GetIndex(testProject, testLogstore)
	require.NoError(t, err)
	require.Equal(t, testIndex(), *got)

	require.NoError(t, s.SetIndexJSON(testProject, testLogstore, []byte(`{"line":{"token":[" "]},"x":1}`)))
	raw, ok := s.IndexJSON(testProject, testLogstore)
	require.True(t, ok)
	require.JSONEq(t, `{"line":{"token":[" "]},"x":1}`, string(raw))

	err = s.SetIndexJSON(testProject, testLogstore, []byte(`{"keys":{"k":{"type":"integer"}}}`))
	require.ErrorContains(t, err, "IndexInfoInvalid")
	require.ErrorContains(t, err, "integer")
	require.Panics(t, func() { s.SetIndex(testProject, testLogstore, sls.Index{}) })

	require.NoError(t, s.SetIndexJSON(testProject, testLogstore, nil))
	_, ok = s.Index(testProject, testLogstore)
	require.False(t, ok)
	require.Len(t, s.IndexCalls(), 1, "the GetIndex; presetting is not a request")
}

func TestIndexInvalidBodies(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	for name, body := range map[string]string{
		"not JSON":             `{`,
		"not an object":        `[1]`,
		"null":                 `null`,
		"empty":                `{}`,
		"line without tokens":  `{"line":{"caseSensitive":false}}`,
		"text without tokens":  `{"keys":{"k":{"type":"text","token":[]}}}`,
		"json without tokens":  `{"keys":{"k":{"type":"json"}}}`,
		"unknown type":         `{"keys":{"k":{"type":"integer","token":[]}}}`,
		"no type":              `{"keys":{"k":{"token":[","]}}}`,
		"empty key name":       `{"keys":{"":{"type":"long","token":[]}}}`,
		"key name too long":    `{"keys":{"` + strings.Repeat("k", 129) + `":{"type":"long","token":[]}}}`,
		"wrong type for token": `{"line":{"token":","}}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := c.CreateIndexString(testProject, testLogstore, body)
			requireSLSError(t, err, http.StatusBadRequest, "IndexInfoInvalid")
			_, ok := s.Index(testProject, testLogstore)
			require.False(t, ok)
		})
	}
	// A long or double key needs no tokens.
	require.NoError(t, c.CreateIndexString(testProject, testLogstore, `{"keys":{"n":{"type":"long","token":[]},"d":{"type":"double"}}}`))
}

func TestIndexVerification(t *testing.T) {
	t.Run("project and logstore", func(t *testing.T) {
		s := newServer(t, Options{Projects: []string{testProject}, Logstores: []string{testLogstore}})
		c := defaultClient(s)
		_, err := c.GetIndex("other", testLogstore)
		requireSLSError(t, err, http.StatusNotFound, "ProjectNotExist")
		requireSLSError(t, c.CreateIndex(testProject, "other", testIndex()), http.StatusNotFound, "LogStoreNotExist")
		require.NoError(t, c.CreateIndex(testProject, testLogstore, testIndex()))
	})
	t.Run("credentials", func(t *testing.T) {
		s := newServer(t, Options{})
		_, err := sdkClient(s, DefaultAccessKeyID, "wrong", "").GetIndex(testProject, testLogstore)
		requireSLSError(t, err, http.StatusUnauthorized, "SignatureNotMatch")
		err = sdkClient(s, "other-ak", DefaultAccessKeySecret, "").CreateIndex(testProject, testLogstore, testIndex())
		requireSLSError(t, err, http.StatusUnauthorized, "InvalidAccessKeyId")
		err = sdkClient(s, DefaultAccessKeyID, DefaultAccessKeySecret, "tok").CreateIndex(testProject, testLogstore, testIndex())
		requireSLSError(t, err, http.StatusUnauthorized, "Unauthorized")
		_, ok := s.Index(testProject, testLogstore)
		require.False(t, ok)
	})
	t.Run("security token", func(t *testing.T) {
		s := newServer(t, Options{SecurityToken: "tok"})
		require.NoError(t, sdkClient(s, DefaultAccessKeyID, DefaultAccessKeySecret, "tok").CreateIndex(testProject, testLogstore, testIndex()))
	})
	t.Run("signature v4", func(t *testing.T) {
		s := newServer(t, Options{})
		c := defaultClient(s)
		c.AuthVersion, c.Region = sls.AuthV4, "cn-hangzhou"
		require.NoError(t, c.CreateIndex(testProject, testLogstore, testIndex()))
		got, err := c.GetIndex(testProject, testLogstore)
		require.NoError(t, err)
		require.Equal(t, testIndex(), *got)
	})
	t.Run("TLS", func(t *testing.T) {
		s := newServer(t, Options{TLS: true})
		require.NoError(t, defaultClient(s).CreateIndex(testProject, testLogstore, testIndex()))
	})
	t.Run("hand-built", func(t *testing.T) {
		s := newServer(t, Options{})
		body := []byte(mustJSON(t, testIndex()))
		asJSON := func(h map[string]string, b []byte) []byte {
			h["Content-Type"] = "application/json"
			h["x-log-bodyrawsize"] = "0"
			return b
		}
		path := "/logstores/" + testLogstore + "/index"
		for _, tc := range []struct {
			name   string
			hr     handReq
			status int
			code   string
		}{
			{"protobuf content type", handReq{Path: path, Raw: body}, http.StatusUnsupportedMediaType, "InvalidContentType"},
			{"raw size", handReq{Path: path, Raw: body, BeforeSign: asJSON}, http.StatusBadRequest, "InvalidBodyRawSize"},
			{"no project", handReq{Path: path, Host: s.Addr(), Raw: body}, http.StatusBadRequest, "InvalidHost"},
			{"method", handReq{Method: http.MethodPatch, Path: path, Raw: []byte{}}, http.StatusMethodNotAllowed, "MethodNotAllowed"},
			{"API version", handReq{Path: path, Raw: []byte{}, Method: http.MethodGet, AfterSign: func(r *http.Request) { r.Header.Del("x-log-apiversion") }},
				http.StatusBadRequest, "MissingAPIVersion"},
			{"Content-MD5", handReq{Path: path, Raw: body, BeforeSign: func(h map[string]string, b []byte) []byte {
				h["Content-Type"] = "application/json"
				return b
			}, AfterSign: func(r *http.Request) { r.Header.Set("Content-MD5", strings.Repeat("0", 32)) }},
				http.StatusBadRequest, "InvalidContentMD5"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, b := do(t, s, tc.hr)
				requireAPIError(t, resp, b, tc.status, tc.code)
			})
		}
		_, ok := s.Index(testProject, testLogstore)
		require.False(t, ok)
	})
}

func TestFailIndexNext(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	s.FailIndexNext(1, Fault{Status: http.StatusForbidden, Code: "Unauthorized", Message: "denied by sts or ram, action: log:GetIndex"})
	s.FailIndexNext(1, Fault{Accept: true})
	s.FailIndexNext(1, Fault{Status: http.StatusForbidden, Code: "Unauthorized"})
	_, err := c.GetIndex(testProject, testLogstore)
	requireSLSError(t, err, http.StatusForbidden, "Unauthorized")
	var se *sls.Error
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Message, "log:GetIndex")
	_, err = c.GetIndex(testProject, testLogstore) // let through
	requireSLSError(t, err, http.StatusNotFound, "IndexConfigNotExist")
	requireSLSError(t, c.CreateIndex(testProject, testLogstore, testIndex()), http.StatusForbidden, "Unauthorized")
	_, ok := s.Index(testProject, testLogstore)
	require.False(t, ok, "a faulted request changes nothing")
	require.NoError(t, c.CreateIndex(testProject, testLogstore, testIndex()))

	// Index faults and PutLogs faults are separate queues.
	s.FailIndexNext(1, Fault{Status: http.StatusForbidden, Code: "Unauthorized"})
	require.NoError(t, c.PutLogs(testProject, testLogstore, group(1)))
	s.FailNext(1, Fault{Status: http.StatusForbidden, Code: "Unauthorized"})
	_, err = c.GetIndex(testProject, testLogstore)
	requireSLSError(t, err, http.StatusForbidden, "Unauthorized") // the index fault
	_, err = c.GetIndex(testProject, testLogstore)
	require.NoError(t, err)
	requireSLSError(t, c.PutLogs(testProject, testLogstore, group(1)), http.StatusForbidden, "Unauthorized")

	s.FailIndexNext(3, Fault{Status: http.StatusForbidden, Code: "Unauthorized"})
	s.FailIndexNext(0, Fault{})
	_, err = c.GetIndex(testProject, testLogstore)
	require.NoError(t, err)

	// POST, which net/http does not retry on a fresh connection.
	s.FailIndexNext(1, Fault{CloseConnection: true})
	resp, err := s.Client().Post(s.Endpoint()+"/logstores/store/index", "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	last := s.IndexCalls()[len(s.IndexCalls())-1]
	require.Equal(t, 0, last.Status)
	require.Equal(t, "{}", string(last.Body))
}

func TestIndexConcurrentUse(t *testing.T) {
	s := newServer(t, Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One client each: the SDK's Client fills its defaults
			// lazily, racing with itself.
			c := defaultClient(s)
			ls := []string{"a", "b"}[i%2]
			_ = c.CreateIndex(testProject, ls, testIndex())
			_, _ = c.GetIndex(testProject, ls)
			_ = c.UpdateIndex(testProject, ls, testIndex())
			_, _ = s.Index(testProject, ls)
			_ = s.IndexCalls()
		}()
	}
	wg.Wait()
	for _, ls := range []string{"a", "b"} {
		got, ok := s.Index(testProject, ls)
		require.True(t, ok)
		require.Equal(t, testIndex(), *got)
	}
	var created int
	for _, call := range s.IndexCalls() {
		if call.Method == http.MethodPost && call.Status == http.StatusOK {
			created++
		}
	}
	require.Equal(t, 2, created, "one create per logstore succeeds")
}
