package slstest

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testProject  = "proj"
	testLogstore = "store"
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// group builds n logs with a message, a level and a sub-second timestamp.
func group(n int) *sls.LogGroup {
	now := time.Now()
	g := &sls.LogGroup{
		Topic:   proto.String("topic"),
		Source:  proto.String("10.0.0.1"),
		LogTags: []*sls.LogTag{{Key: proto.String("env"), Value: proto.String("test")}},
	}
	for i := range n {
		g.Logs = append(g.Logs, &sls.Log{
			Time:   proto.Uint32(uint32(now.Unix())),
			TimeNs: proto.Uint32(uint32(now.Nanosecond())),
			Contents: []*sls.LogContent{
				{Key: proto.String("message"), Value: proto.String(fmt.Sprintf("hello %d", i))},
				{Key: proto.String("level"), Value: proto.String("info")},
			},
		})
	}
	return g
}

func withContent(k, v string) *sls.LogGroup {
	g := group(1)
	g.Logs[0].Contents = append(g.Logs[0].Contents, &sls.LogContent{Key: proto.String(k), Value: proto.String(v)})
	return g
}

func sdkClient(s *Server, ak, secret, token string) *sls.Client {
	c := &sls.Client{Endpoint: s.Endpoint(), HTTPClient: s.Client(), RetryTimeOut: 10 * time.Second}
	return c.WithCredentialsProvider(sls.NewStaticCredentialsProvider(ak, secret, token))
}

func defaultClient(s *Server) *sls.Client {
	return sdkClient(s, DefaultAccessKeyID, DefaultAccessKeySecret, "")
}

func requireSLSError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sls.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, code, se.Code, se.Message)
	require.EqualValues(t, status, se.HTTPCode, se.Message)
}

func TestSDKPutLogs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		compress int
		want     string
		v4       bool
	}{
		{"lz4", sls.Compress_LZ4, "lz4", false},
		{"zstd", sls.Compress_ZSTD, "zstd", false},
		{"none", sls.Compress_None, "", false},
		{"lz4-v4", sls.Compress_LZ4, "lz4", true},
		{"zstd-v4", sls.Compress_ZSTD, "zstd", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Projects: []string{testProject}, Logstores: []string{testLogstore}})
			c := defaultClient(s)
			if tc.v4 {
				c.SetAuthVersion(sls.AuthV4)
				c.SetRegion("cn-hangzhou")
			}
			g := group(3)
			require.NoError(t, c.PutLogsWithCompressType(testProject, testLogstore, g, tc.compress))

			reqs := s.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, testProject, r.Project)
			require.Equal(t, testLogstore, r.Logstore)
			require.Equal(t, "/logstores/"+testLogstore, r.Path)
			require.Equal(t, tc.want, r.Compression)
			require.Equal(t, map[bool]int{false: 1, true: 4}[tc.v4], r.SignatureVersion)
			require.Equal(t, DefaultAccessKeyID, r.AccessKeyID)
			raw, err := g.Marshal()
			require.NoError(t, err)
			require.Equal(t, len(raw), r.RawSize)
			require.Positive(t, r.WireSize)
			require.Regexp(t, `^[0-9A-F]{24}$`, r.RequestID)
			require.Equal(t, "0.6.0", r.Header.Get("x-log-apiversion"))
			require.Len(t, r.Group.Logs, 3)

			logs := s.Logs()
			require.Len(t, logs, 3)
			require.Equal(t, 3, s.LogCount())
			for i, l := range logs {
				require.Equal(t, testProject, l.Project)
				require.Equal(t, "topic", l.Topic)
				require.Equal(t, "10.0.0.1", l.Source)
				require.Equal(t, map[string]string{"env": "test"}, l.Tags)
				require.Equal(t, fmt.Sprintf("hello %d", i), l.Contents["message"])
				require.Equal(t, []string{"message", "level"}, l.Keys)
				require.Equal(t, time.Unix(int64(g.Logs[i].GetTime()), int64(g.Logs[i].GetTimeNs())).UTC(), l.Time)
				require.Equal(t, r.RequestID, l.RequestID)
			}
			require.Empty(t, s.Rejections())
		})
	}
}

func TestSDKRouteWithHashKey(t *testing.T) {
	s := newServer(t, Options{})
	c := defaultClient(s)
	key := "0123456789abcdef0123456789abcdef"
	require.NoError(t, c.PostLogStoreLogs(testProject, testLogstore, group(2), &key))
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/logstores/"+testLogstore+"/shards/route", reqs[0].Path)
	require.Equal(t, key, reqs[0].HashKey)
}

func TestSDKCredentials(t *testing.T) {
	s := newServer(t, Options{})

	err := sdkClient(s, DefaultAccessKeyID, "wrong", "").PutLogs(testProject, testLogstore, group(1))
	requireSLSError(t, err, 401, "SignatureNotMatch")

	err = sdkClient(s, "other-ak", DefaultAccessKeySecret, "").PutLogs(testProject, testLogstore, group(1))
	requireSLSError(t, err, 401, "InvalidAccessKeyId")

	err = sdkClient(s, DefaultAccessKeyID, DefaultAccessKeySecret, "unexpected").PutLogs(testProject, testLogstore, group(1))
	requireSLSError(t, err, 401, "Unauthorized")

	rej := s.Rejections()
	require.Len(t, rej, 3)
	require.Equal(t, Rejection{Status: 401, Code: "SignatureNotMatch", Message: rej[0].Message, RequestID: rej[0].RequestID, Project: testProject, Logstore: testLogstore}, rej[0])
	require.Zero(t, s.LogCount())
}

func TestSetCredentialsRotation(t *testing.T) {
	s := newServer(t, Options{AccessKeyID: "sts-ak-1", AccessKeySecret: "sts-secret-1", SecurityToken: "token-1"})
	old := sdkClient(s, "sts-ak-1", "sts-secret-1", "token-1")
	require.NoError(t, old.PutLogs(testProject, testLogstore, group(1)))
	require.Equal(t, "token-1", s.Requests()[0].SecurityToken)

	s.SetCredentials("sts-ak-2", "sts-secret-2", "token-2")
	requireSLSError(t, old.PutLogs(testProject, testLogstore, group(1)), 401, "InvalidAccessKeyId")
	requireSLSError(t, sdkClient(s, "sts-ak-2", "sts-secret-2", "token-1").PutLogs(testProject, testLogstore, group(1)), 401, "Unauthorized")
	requireSLSError(t, sdkClient(s, "sts-ak-2", "sts-secret-2", "").PutLogs(testProject, testLogstore, group(1)), 401, "Unauthorized")
	require.NoError(t, sdkClient(s, "sts-ak-2", "sts-secret-2", "token-2").PutLogs(testProject, testLogstore, group(1)))
	require.Equal(t, 2, s.LogCount())
}

func TestTLS(t *testing.T) {
	s := newServer(t, Options{TLS: true})
	require.True(t, strings.HasPrefix(s.Endpoint(), "https://127.0.0.1:"))
	require.NotNil(t, s.Certificate())

	for _, v4 := range []bool{false, true} {
		c := defaultClient(s)
		if v4 {
			c.SetAuthVersion(sls.AuthV4)
			c.SetRegion("cn-shanghai")
		}
		require.NoError(t, c.PutLogs(testProject, testLogstore, group(2)))
	}
	require.Equal(t, 4, s.LogCount())

	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)

	// A client that does not trust the certificate is refused.
	plain := &http.Client{Transport: &http.Transport{}}
	defer plain.CloseIdleConnections()
	_, err := plain.Post(s.Endpoint()+"/logstores/x", "application/x-protobuf", nil)
	require.Error(t, err)
	require.Nil(t, newServer(t, Options{}).Certificate())
}

// handReq describes a request built by hand: correctly signed unless a hook
// breaks it.
type handReq struct {
	Method   string
	Host     string // default testProject + "." + s.Addr()
	Path     string // default /logstores/store/shards/lb
	Group    *sls.LogGroup
	Raw      []byte // body before compression; default Group marshalled
	Compress string
	AK       string
	Secret   string
	Token    string
	V4       bool
	Date     time.Time
	// BeforeSign may change headers (signed) and returns the body to send.
	BeforeSign func(h map[string]string, body []byte) []byte
	// AfterSign may break the signed request.
	AfterSign func(r *http.Request)
}

func lz4Block(raw []byte) []byte {
	out := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, err := lz4.CompressBlock(raw, out, nil)
	if err != nil {
		panic(err)
	}
	if n > 0 {
		return out[:n]
	}
	// Incompressible: a single literal run, as the SDK sends it.
	var b bytes.Buffer
	l := len(raw)
	if l < 15 {
		b.WriteByte(byte(l << 4))
	} else {
		b.WriteByte(0xF0)
		for l -= 15; l >= 255; l -= 255 {
			b.WriteByte(0xFF)
		}
		b.WriteByte(byte(l))
	}
	b.Write(raw)
	return b.Bytes()
}

func (hr handReq) build(t *testing.T, s *Server) *http.Request {
	t.Helper()
	if hr.Method == "" {
		hr.Method = http.MethodPost
	}
	if hr.Host == "" {
		hr.Host = testProject + "." + s.Addr()
	}
	if hr.Path == "" {
		hr.Path = "/logstores/" + testLogstore + "/shards/lb"
	}
	if hr.AK == "" {
		hr.AK, hr.Secret = DefaultAccessKeyID, DefaultAccessKeySecret
	}
	if hr.Date.IsZero() {
		hr.Date = time.Now()
	}
	raw := hr.Raw
	if raw == nil {
		g := hr.Group
		if g == nil {
			g = group(1)
		}
		var err error
		raw, err = g.Marshal()
		require.NoError(t, err)
	}
	var body []byte
	switch hr.Compress {
	case "":
		body = raw
	case "lz4":
		body = lz4Block(raw)
	case "zstd":
		enc, err := zstd.NewWriter(nil)
		require.NoError(t, err)
		body = enc.EncodeAll(raw, nil)
		require.NoError(t, enc.Close())
	case "deflate":
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		_, _ = zw.Write(raw)
		require.NoError(t, zw.Close())
		body = b.Bytes()
	default:
		body = raw
	}
	h := map[string]string{
		"Content-Type":      "application/x-protobuf",
		"x-log-apiversion":  "0.6.0",
		"x-log-bodyrawsize": strconv.Itoa(len(raw)),
	}
	if hr.Compress != "" {
		h["x-log-compresstype"] = hr.Compress
	}
	if hr.Token != "" {
		h["x-acs-security-token"] = hr.Token
	}
	if hr.BeforeSign != nil {
		body = hr.BeforeSign(h, body)
	}
	if hr.V4 {
		h["x-log-date"] = hr.Date.UTC().Format(sls.ISO8601)
		h["Host"] = hr.Host
		require.NoError(t, sls.NewSignerV4(hr.AK, hr.Secret, "cn-hangzhou").Sign(hr.Method, hr.Path, h, body))
		delete(h, "Host")
		delete(h, "Content-Length")
	} else {
		h["Date"] = hr.Date.UTC().Format(http.TimeFormat)
		require.NoError(t, sls.NewSignerV1(hr.AK, hr.Secret).Sign(hr.Method, hr.Path, h, body))
	}
	req, err := http.NewRequest(hr.Method, s.Endpoint()+hr.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Host = hr.Host
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if hr.AfterSign != nil {
		hr.AfterSign(req)
	}
	return req
}

// do sends hr through s.Client and returns the response and its body.
func do(t *testing.T, s *Server, hr handReq) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.Client().Do(hr.build(t, s))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func requireAPIError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct {
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Equal(t, code, e.ErrorCode, e.ErrorMessage)
	require.Equal(t, status, resp.StatusCode, e.ErrorMessage)
	require.NotEmpty(t, e.ErrorMessage)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Regexp(t, `^[0-9A-F]{24}$`, resp.Header.Get("x-log-requestid"))
}

func TestHandBuiltAccepted(t *testing.T) {
	s := newServer(t, Options{SecurityToken: "tok"})
	for _, hr := range []handReq{
		{Compress: "lz4", Token: "tok"},
		{Compress: "zstd", Token: "tok"},
		{Compress: "deflate", Token: "tok"},
		{Token: "tok"},
		{V4: true, Compress: "lz4", Token: "tok"},
		{Path: "/logstores/store", Token: "tok"},
		{Path: "/logstores/store/shards/route?key=abc", Token: "tok"},
		{Raw: []byte{}, Token: "tok"}, // an empty LogGroup: valid, if useless
	} {
		resp, body := do(t, s, hr)
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.Empty(t, body)
		require.Regexp(t, `^[0-9A-F]{24}$`, resp.Header.Get("x-log-requestid"))
	}
	reqs := s.Requests()
	require.Len(t, reqs, 8)
	require.Equal(t, "deflate", reqs[2].Compression)
	require.Equal(t, "abc", reqs[6].HashKey)
	require.Equal(t, 7, s.LogCount())
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.RequestID] = true
	}
	require.Len(t, ids, 8, "request IDs are unique")
}

func TestVerificationNegatives(t *testing.T) {
	old := time.Now().Add(-8 * 24 * time.Hour)
	future := time.Now().Add(time.Hour)
	setTime := func(tm time.Time) *sls.LogGroup {
		g := group(1)
		g.Logs[0].Time = proto.Uint32(uint32(tm.Unix()))
		return g
	}
	manyLogs := group(5)
	bigValue := strings.Repeat("v", maxValueBytes+1)

	for _, tc := range []struct {
		name   string
		hr     handReq
		status int
		code   string
	}{
		{"bad md5", handReq{Compress: "lz4", AfterSign: func(r *http.Request) {
			r.Header.Set("Content-MD5", strings.Repeat("0", 32))
		}}, 400, "InvalidContentMD5"},
		{"lower-case md5", handReq{AfterSign: func(r *http.Request) {
			r.Header.Set("Content-MD5", strings.ToLower(r.Header.Get("Content-MD5")))
		}}, 400, "InvalidContentMD5"},
		{"missing md5 with V1", handReq{AfterSign: func(r *http.Request) { r.Header.Del("Content-MD5") }}, 400, "MissingContentMD5"},
		{"missing rawsize", handReq{Compress: "lz4", BeforeSign: func(h map[string]string, b []byte) []byte {
			delete(h, "x-log-bodyrawsize")
			return b
		}}, 400, "MissingBodyRawSize"},
		{"non-numeric rawsize", handReq{BeforeSign: func(h map[string]string, b []byte) []byte {
			h["x-log-bodyrawsize"] = "12a"
			return b
		}}, 400, "InvalidBodyRawSize"},
		{"wrong rawsize", handReq{BeforeSign: func(h map[string]string, b []byte) []byte {
			h["x-log-bodyrawsize"] = strconv.Itoa(len(b) + 1)
			return b
		}}, 400, "InvalidBodyRawSize"},
		{"lz4 rawsize too big", handReq{Compress: "lz4", BeforeSign: func(h map[string]string, b []byte) []byte {
			n, _ := strconv.Atoi(h["x-log-bodyrawsize"])
			h["x-log-bodyrawsize"] = strconv.Itoa(n + 10)
			return b
		}}, 400, "InvalidBodyRawSize"},
		{"zstd rawsize too small", handReq{Compress: "zstd", BeforeSign: func(h map[string]string, b []byte) []byte {
			n, _ := strconv.Atoi(h["x-log-bodyrawsize"])
			h["x-log-bodyrawsize"] = strconv.Itoa(n - 1)
			return b
		}}, 400, "InvalidBodyRawSize"},
		{"bad lz4", handReq{Compress: "lz4", BeforeSign: func(h map[string]string, b []byte) []byte {
			return []byte{0xFF, 0xFF, 0xFF, 0x00, 0x01}
		}}, 400, "PostBodyUncompressError"},
		{"bad zstd", handReq{Compress: "zstd", BeforeSign: func(h map[string]string, b []byte) []byte {
			return []byte("not zstd at all")
		}}, 400, "PostBodyUncompressError"},
		{"bad deflate", handReq{Compress: "deflate", BeforeSign: func(h map[string]string, b []byte) []byte {
			return []byte("not zlib")
		}}, 400, "PostBodyUncompressError"},
		{"unknown compression", handReq{Compress: "gzip"}, 400, "InvalidCompressType"},
		{"not a LogGroup", handReq{Raw: []byte{0x0A, 0x05, 0x01}}, 400, "PostBodyInvalid"},
		{"log without Time", handReq{Raw: []byte{0x0A, 0x00}}, 400, "PostBodyInvalid"},
		{"reserved key __time__", handReq{Group: withContent("__time__", "1")}, 400, "InvalidKey"},
		{"reserved key __topic__", handReq{Group: withContent("__topic__", "x")}, 400, "InvalidKey"},
		{"reserved key __source__", handReq{Group: withContent("__source__", "x")}, 400, "InvalidKey"},
		{"reserved key __partition_time__", handReq{Group: withContent("__partition_time__", "x")}, 400, "InvalidKey"},
		{"reserved key _extract_others_", handReq{Group: withContent("_extract_others_", "x")}, 400, "InvalidKey"},
		{"reserved key __extract_others__", handReq{Group: withContent("__extract_others__", "x")}, 400, "InvalidKey"},
		{"tag prefix", handReq{Group: withContent("__tag__:host", "x")}, 400, "InvalidKey"},
		{"empty key", handReq{Group: withContent("", "x")}, 400, "InvalidKey"},
		{"key too long", handReq{Group: withContent(strings.Repeat("k", 129), "x")}, 400, "InvalidKey"},
		{"bad UTF-8 key", handReq{Group: withContent("k\xff", "x")}, 400, "InvalidEncoding"},
		{"bad UTF-8 value", handReq{Group: withContent("k", "\xc3\x28")}, 400, "InvalidEncoding"},
		{"value too long", handReq{Group: withContent("k", bigValue), Compress: "lz4"}, 400, "PostBodyInvalid"},
		{"topic too long", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.Topic = proto.String(strings.Repeat("t", 129))
			return g
		}()}, 400, "PostBodyInvalid"},
		{"GBK topic", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.Topic = proto.String("t-\xd6\xd0\xce\xc4")
			return g
		}()}, 400, "InvalidEncoding"},
		{"GBK source", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.Source = proto.String("\xd6\xd0")
			return g
		}()}, 400, "InvalidEncoding"},
		{"bad UTF-8 tag value", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.LogTags = append(g.LogTags, &sls.LogTag{Key: proto.String("env"), Value: proto.String("\xff")})
			return g
		}()}, 400, "InvalidEncoding"},
		{"tag key too long", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.LogTags = append(g.LogTags, &sls.LogTag{Key: proto.String(strings.Repeat("k", 129)), Value: proto.String("v")})
			return g
		}()}, 400, "InvalidKey"},
		{"too many logs", handReq{Group: manyLogs}, 400, "PostBodyTooLarge"},
		{"old timestamp", handReq{Group: setTime(old)}, 400, "InvalidTimestamp"},
		{"future timestamp", handReq{Group: setTime(future)}, 400, "InvalidTimestamp"},
		{"TimeNs of a full second", handReq{Group: func() *sls.LogGroup {
			g := group(1)
			g.Logs[0].TimeNs = proto.Uint32(1e9)
			return g
		}()}, 400, "InvalidTimestamp"},
		{"skewed Date", handReq{Date: time.Now().Add(-20 * time.Minute)}, 400, "RequestTimeTooSkewed"},
		{"skewed x-log-date", handReq{V4: true, Date: time.Now().Add(20 * time.Minute)}, 400, "RequestTimeTooSkewed"},
		{"bad Date", handReq{AfterSign: func(r *http.Request) { r.Header.Set("Date", "yesterday") }}, 400, "InvalidDateFormat"},
		{"missing Date", handReq{AfterSign: func(r *http.Request) { r.Header.Del("Date") }}, 400, "MissingDate"},
		{"missing apiversion", handReq{AfterSign: func(r *http.Request) { r.Header.Del("x-log-apiversion") }}, 400, "MissingAPIVersion"},
		{"wrong apiversion", handReq{AfterSign: func(r *http.Request) { r.Header.Set("x-log-apiversion", "0.5.0") }}, 400, "InvalidAPIVersion"},
		{"wrong signature method", handReq{AfterSign: func(r *http.Request) { r.Header.Set("x-log-signaturemethod", "hmac-md5") }}, 400, "InvalidSignatureMethod"},
		{"wrong content type", handReq{AfterSign: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }}, 415, "InvalidContentType"},
		{"header added after signing", handReq{AfterSign: func(r *http.Request) { r.Header.Set("x-log-extra", "1") }}, 401, "SignatureNotMatch"},
		{"wrong secret", handReq{AK: DefaultAccessKeyID, Secret: "nope"}, 401, "SignatureNotMatch"},
		{"wrong secret V4", handReq{V4: true, AK: DefaultAccessKeyID, Secret: "nope"}, 401, "SignatureNotMatch"},
		{"unknown key", handReq{AK: "who", Secret: "x"}, 401, "InvalidAccessKeyId"},
		{"missing Authorization", handReq{AfterSign: func(r *http.Request) { r.Header.Del("Authorization") }}, 401, "Unauthorized"},
		{"odd Authorization", handReq{AfterSign: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }}, 400, "ParameterInvalid"},
		{"V4 payload hash", handReq{V4: true, BeforeSign: func(h map[string]string, b []byte) []byte {
			h["x-log-content-sha256"] = strings.Repeat("ab", 32)
			return b
		}}, 400, "InvalidContentSha256"},
		{"unexpected token", handReq{Token: "leftover"}, 401, "Unauthorized"},
		{"unknown path", handReq{Path: "/logstores/store/shards/0"}, 404, "NotFound"},
		{"GET", handReq{Method: http.MethodGet}, 405, "MethodNotAllowed"},
		{"route without key", handReq{Path: "/logstores/store/shards/route"}, 400, "ParameterInvalid"},
		{"unknown project", handReq{Host: "nosuch." + "127.0.0.1:1"}, 404, "ProjectNotExist"},
		{"unknown logstore", handReq{Path: "/logstores/nosuch/shards/lb"}, 404, "LogStoreNotExist"},
		{"host without project", handReq{Host: "127.0.0.1:1"}, 400, "InvalidHost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{MaxLogs: 4, Projects: []string{testProject}, Logstores: []string{testLogstore}})
			resp, body := do(t, s, tc.hr)
			requireAPIError(t, resp, body, tc.status, tc.code)
			rej := s.Rejections()
			require.Len(t, rej, 1)
			require.Equal(t, tc.code, rej[0].Code)
			require.Equal(t, tc.status, rej[0].Status)
			require.Equal(t, resp.Header.Get("x-log-requestid"), rej[0].RequestID)
			require.Empty(t, s.Requests())
			require.Zero(t, s.LogCount())
		})
	}
}

func TestSecurityTokenRequired(t *testing.T) {
	s := newServer(t, Options{SecurityToken: "tok"})
	resp, body := do(t, s, handReq{})
	requireAPIError(t, resp, body, 401, "Unauthorized")
	resp, body = do(t, s, handReq{Token: "other"})
	requireAPIError(t, resp, body, 401, "Unauthorized")
	resp, _ = do(t, s, handReq{Token: "tok"})
	require.Equal(t, 200, resp.StatusCode)
}

func TestBodyLimits(t *testing.T) {
	s := newServer(t, Options{MaxRawBytes: 1000})

	// Announced raw size over the limit.
	resp, body := do(t, s, handReq{Raw: bytes.Repeat([]byte{0x0A, 0x02, 0x08, 0x01}, 300)})
	requireAPIError(t, resp, body, 400, "PostBodyTooLarge")

	// A body larger than any compression of MaxRawBytes, with and without
	// Content-Length: refused without being read into memory.
	huge := bytes.Repeat([]byte("z"), 200<<10)
	for _, chunked := range []bool{false, true} {
		resp, body = do(t, s, handReq{BeforeSign: func(h map[string]string, b []byte) []byte {
			h["x-log-bodyrawsize"] = "10"
			return huge
		}, AfterSign: func(r *http.Request) {
			if chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(bytes.NewReader(huge))
				r.GetBody = nil
			}
		}})
		requireAPIError(t, resp, body, 400, "PostBodyTooLarge")
	}
	require.Len(t, s.Rejections(), 3)
}

func TestTimestampChecksDisabled(t *testing.T) {
	s := newServer(t, Options{MaxLogAge: -1, MaxLogFuture: -1, MaxSkew: -1})
	g := group(2)
	g.Logs[0].Time = proto.Uint32(1)
	g.Logs[1].Time = proto.Uint32(uint32(time.Now().Add(48 * time.Hour).Unix()))
	resp, body := do(t, s, handReq{Group: g, Date: time.Now().Add(-time.Hour)})
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, time.Unix(1, int64(g.Logs[0].GetTimeNs())).UTC(), s.Logs()[0].Time)
}

func TestDuplicateKeysKept(t *testing.T) {
	s := newServer(t, Options{})
	g := withContent("level", "debug")
	resp, _ := do(t, s, handReq{Group: g})
	require.Equal(t, 200, resp.StatusCode)
	l := s.Logs()[0]
	require.Equal(t, []string{"message", "level", "level"}, l.Keys)
	require.Equal(t, "debug", l.Contents["level"])
}

func TestFailNextWithSDKRetry(t *testing.T) {
	s := newServer(t, Options{})
	s.FailNext(2, Fault{Status: 503, Code: "ServerBusy", Message: "busy"})
	require.NoError(t, defaultClient(s).PutLogs(testProject, testLogstore, group(1)))
	rej := s.Rejections()
	require.Len(t, rej, 2)
	for _, r := range rej {
		require.Equal(t, 503, r.Status)
		require.Equal(t, "ServerBusy", r.Code)
		require.Equal(t, "busy", r.Message)
	}
	require.Len(t, s.Requests(), 1)
	require.Equal(t, 1, s.LogCount())
}

func TestFailNextQueueAndDefaults(t *testing.T) {
	s := newServer(t, Options{})
	s.FailNext(1, Fault{Status: 403})
	s.FailNext(1, Fault{Status: 401, Code: "Unauthorized", Message: "expired"})
	s.FailNext(1, Fault{})
	s.FailNext(1, Fault{Status: 418})

	resp, body := do(t, s, handReq{})
	requireAPIError(t, resp, body, 403, "WriteQuotaExceed")
	resp, body = do(t, s, handReq{})
	requireAPIError(t, resp, body, 401, "Unauthorized")
	resp, body = do(t, s, handReq{})
	requireAPIError(t, resp, body, 500, "InternalServerError")
	resp, body = do(t, s, handReq{})
	requireAPIError(t, resp, body, 418, "InjectedFault")
	resp, _ = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)

	// A faulted request is answered whatever it carries.
	s.FailNext(1, Fault{Status: 502})
	resp, body = do(t, s, handReq{Secret: "wrong", AK: DefaultAccessKeyID})
	requireAPIError(t, resp, body, 502, "ServerBusy")

	// FailNext(0) empties the queue; Status 200 processes normally.
	s.FailNext(3, Fault{Status: 500})
	s.FailNext(0, Fault{})
	s.FailNext(1, Fault{Status: 200})
	resp, _ = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, 2, s.LogCount())

	// Unrouted requests do not consume faults.
	s.FailNext(1, Fault{Status: 500})
	resp, body = do(t, s, handReq{Path: "/nope"})
	requireAPIError(t, resp, body, 404, "NotFound")
	resp, body = do(t, s, handReq{})
	requireAPIError(t, resp, body, 500, "InternalServerError")
}

func TestFailFor(t *testing.T) {
	s := newServer(t, Options{})
	s.FailFor(300*time.Millisecond, Fault{Status: 503, Code: "ServerBusy"})
	for range 3 {
		resp, body := do(t, s, handReq{})
		requireAPIError(t, resp, body, 503, "ServerBusy")
	}
	time.Sleep(350 * time.Millisecond)
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)

	s.FailFor(time.Hour, Fault{Status: 500})
	s.FailFor(0, Fault{})
	resp, _ = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
}

func TestFailRate(t *testing.T) {
	pattern := func(p float64, seed int64) string {
		s := NewServer(Options{})
		defer s.Close()
		s.FailRate(p, Fault{Status: 500}, seed)
		var b strings.Builder
		for range 40 {
			resp, _ := do(t, s, handReq{})
			if resp.StatusCode == 200 {
				b.WriteByte('.')
			} else {
				b.WriteByte('x')
			}
		}
		return b.String()
	}
	a, b := pattern(0.5, 7), pattern(0.5, 7)
	require.Equal(t, a, b, "same seed, same failures")
	require.Contains(t, a, "x")
	require.Contains(t, a, ".")
	require.Equal(t, strings.Repeat("x", 40), pattern(1, 1))

	s := newServer(t, Options{})
	s.FailRate(1, Fault{Status: 500}, 1)
	s.FailRate(0, Fault{}, 0)
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
}

func TestCloseConnection(t *testing.T) {
	s := newServer(t, Options{})
	s.FailNext(1, Fault{CloseConnection: true})
	_, err := s.Client().Do(handReq{}.build(t, s))
	require.Error(t, err)
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "%v", err)
	rej := s.Rejections()
	require.Len(t, rej, 1)
	require.Zero(t, rej[0].Status)

	// Through the SDK: a client-side error, not retried for a POST.
	s.FailNext(1, Fault{CloseConnection: true, Delay: 20 * time.Millisecond})
	err = defaultClient(s).PutLogs(testProject, testLogstore, group(1))
	requireSLSError(t, err, -1, "ClientError")

	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
}

func TestRefuseAndAcceptConnections(t *testing.T) {
	s := newServer(t, Options{})
	addr := s.Addr()
	resp, _ := do(t, s, handReq{}) // leaves an idle keep-alive connection
	require.Equal(t, 200, resp.StatusCode)

	s.RefuseConnections()
	s.RefuseConnections() // idempotent
	_, err := s.Client().Do(handReq{}.build(t, s))
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	err = defaultClient(s).PutLogs(testProject, testLogstore, group(1))
	require.ErrorContains(t, err, "connection refused")

	s.AcceptConnections()
	s.AcceptConnections() // idempotent
	require.Equal(t, addr, s.Addr())
	resp, _ = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, defaultClient(s).PutLogs(testProject, testLogstore, group(1)))
}

func TestRefuseFor(t *testing.T) {
	s := newServer(t, Options{})
	start := time.Now()
	s.RefuseFor(200 * time.Millisecond)
	_, err := s.Client().Do(handReq{}.build(t, s))
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Eventually(t, func() bool {
		resp, err := s.Client().Do(handReq{}.build(t, s))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 3*time.Second, 20*time.Millisecond)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	// A pending RefuseFor is stopped by Close.
	s2 := NewServer(Options{})
	s2.RefuseFor(time.Hour)
	s2.Close()

	// ... and by AcceptConnections.
	s.RefuseFor(time.Hour)
	s.AcceptConnections()
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
}

func TestDelays(t *testing.T) {
	s := newServer(t, Options{})

	s.FailNext(1, Fault{Delay: 200 * time.Millisecond, Accept: true})
	start := time.Now()
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	s.FailNext(1, Fault{Delay: 150 * time.Millisecond, Status: 503})
	start = time.Now()
	resp, body := do(t, s, handReq{})
	requireAPIError(t, resp, body, 503, "ServerBusy")
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	s.SetDelay(150 * time.Millisecond)
	start = time.Now()
	resp, _ = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	s.SetDelay(0)

	// A client that gives up ends the delay; nothing is stored.
	s.FailNext(1, Fault{Delay: time.Hour, Accept: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := s.Client().Do(handReq{}.build(t, s).WithContext(ctx))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, 2, s.LogCount())
}

func TestCloseDoesNotWaitForDelays(t *testing.T) {
	s := NewServer(Options{})
	s.SetDelay(time.Hour)
	req := handReq{}.build(t, s)
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		for _, st := range s.conns {
			if st == http.StateActive {
				return true
			}
		}
		return false
	}, 2*time.Second, 5*time.Millisecond)
	start := time.Now()
	s.Close()
	s.Close() // idempotent
	require.Less(t, time.Since(start), 2*time.Second)
	require.Error(t, <-done)
	require.False(t, s.WaitLogs(1, time.Hour), "WaitLogs returns once closed")
}

func TestSetResponseBody(t *testing.T) {
	s := newServer(t, Options{})
	big := bytes.Repeat([]byte("a"), 8<<20)
	s.SetResponseBody(200, big)
	resp, body := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.Len(t, body, len(big))
	require.Equal(t, 1, s.LogCount(), "a valid request answered 200 is stored")

	s.SetResponseBody(500, []byte("<html>oops</html>"))
	resp, body = do(t, s, handReq{})
	require.Equal(t, 500, resp.StatusCode)
	require.Equal(t, "<html>oops</html>", string(body))
	require.Equal(t, 1, s.LogCount())
	rej := s.Rejections()
	require.Len(t, rej, 1)
	require.Equal(t, 500, rej[0].Status)

	// The SDK cannot parse a non-JSON error body and says so (400: no
	// retry, unlike 500).
	s.SetResponseBody(400, []byte("<html>bad</html>"))
	err := defaultClient(s).PutLogs(testProject, testLogstore, group(1))
	requireSLSError(t, err, -1, "ClientError")
	require.ErrorContains(t, err, "bad")

	// A request that fails verification but is forced to 200 is not stored,
	// and is recorded as a rejection with Status 200.
	s.SetResponseBody(200, nil)
	resp, body = do(t, s, handReq{AK: DefaultAccessKeyID, Secret: "wrong"})
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, body)
	rej = s.Rejections()
	require.Equal(t, 200, rej[len(rej)-1].Status)
	require.Equal(t, "SignatureNotMatch", rej[len(rej)-1].Code)
	require.Equal(t, 1, s.LogCount())

	s.SetResponseBody(0, nil)
	resp, body = do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, body)
}

func TestClearFaults(t *testing.T) {
	s := newServer(t, Options{})
	s.FailNext(5, Fault{Status: 500})
	s.FailFor(time.Hour, Fault{Status: 500})
	s.FailRate(1, Fault{Status: 500}, 1)
	s.SetDelay(time.Hour)
	s.SetResponseBody(500, []byte("x"))
	s.ClearFaults()
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 200, resp.StatusCode)
}

func TestWaitLogsAndReset(t *testing.T) {
	s := newServer(t, Options{})
	start := time.Now()
	require.False(t, s.WaitLogs(1, 50*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = defaultClient(s).PutLogs(testProject, testLogstore, group(3))
	}()
	require.True(t, s.WaitLogs(3, 5*time.Second))
	require.True(t, s.WaitLogs(0, 0))

	s.FailNext(1, Fault{Status: 500})
	resp, _ := do(t, s, handReq{})
	require.Equal(t, 500, resp.StatusCode)
	s.Reset()
	require.Zero(t, s.LogCount())
	require.Empty(t, s.Logs())
	require.Empty(t, s.Requests())
	require.Empty(t, s.Rejections())
}

func TestConcurrentUse(t *testing.T) {
	s := newServer(t, Options{})
	s.FailRate(0.2, Fault{Status: 503, Code: "ServerBusy"}, 42)
	const workers, puts = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := defaultClient(s)
			for i := range puts {
				g := group(2)
				g.Logs[0].Contents[0].Value = proto.String(fmt.Sprintf("w%d-%d", w, i))
				if err := c.PutLogs(testProject, testLogstore, g); err != nil {
					t.Errorf("put: %v", err)
				}
				_ = s.Logs()
				_ = s.Requests()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.SetDelay(time.Millisecond)
		s.SetCredentials("", "", "")
		s.FailRate(0, Fault{}, 0)
		s.SetDelay(0)
	}()
	wg.Wait()
	require.True(t, s.WaitLogs(workers*puts*2, time.Second))
	require.Equal(t, workers*puts*2, s.LogCount())
}

func TestProjectOf(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:80":                         "",
		"[::1]:80":                             "",
		"localhost:80":                         "",
		"":                                     "",
		"p.localhost":                          "p",
		"proj.127.0.0.1:4321":                  "proj",
		"my-proj.cn-hangzhou.log.aliyuncs.com": "my-proj",
	} {
		require.Equal(t, want, projectOf(host), host)
	}
}

func TestDiscardLogsCountsOnly(t *testing.T) {
	srv := NewServer(Options{DiscardLogs: true})
	defer srv.Close()
	client := (&sls.Client{Endpoint: srv.Endpoint(), HTTPClient: srv.Client()}).
		WithCredentialsProvider(sls.NewStaticCredentialsProvider(DefaultAccessKeyID, DefaultAccessKeySecret, ""))
	g := &sls.LogGroup{Logs: []*sls.Log{
		{Time: proto.Uint32(uint32(time.Now().Unix())), Contents: []*sls.LogContent{{Key: proto.String("k"), Value: proto.String("v")}}},
		{Time: proto.Uint32(uint32(time.Now().Unix())), Contents: []*sls.LogContent{{Key: proto.String("k"), Value: proto.String("w")}}},
	}}
	require.NoError(t, client.PutLogs("p", "s", g))
	require.True(t, srv.WaitLogs(2, time.Second))
	require.Equal(t, 2, srv.LogCount())
	require.Empty(t, srv.Logs())
	require.Empty(t, srv.Requests())
	srv.Reset()
	require.Zero(t, srv.LogCount())
}
