package slstest

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Limits SLS puts on the contents of a LogGroup.
const (
	maxKeyBytes    = 128
	maxValueBytes  = 1000000
	maxTopicBytes  = 128
	maxSourceBytes = 128
	packIDTag      = "__pack_id__"
	tagKeyPrefix   = "__tag__:" // content keys with it are reserved for tags
)

// reservedKeys are content keys SLS refuses: they name the fields it adds
// itself.
var reservedKeys = []string{
	"__time__", "__source__", "__topic__", "__partition_time__",
	"_extract_others_", "__extract_others__",
}

type routeInfo struct {
	project, logstore, path, hashKey, processor string
}

// route accepts POST /logstores/{ls}, /logstores/{ls}/shards/lb and
// /logstores/{ls}/shards/route?key=K, and reads the project from Host.
func route(r *http.Request) (routeInfo, *apiError) {
	rt := routeInfo{path: r.URL.Path}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	ok := len(parts) >= 2 && parts[0] == "logstores" && parts[1] != ""
	if ok {
		rt.logstore = parts[1]
		switch {
		case len(parts) == 2:
			rt.processor = r.URL.Query().Get("processor")
		case len(parts) == 4 && parts[2] == "shards" && parts[3] == "lb":
		case len(parts) == 4 && parts[2] == "shards" && parts[3] == "route":
			rt.hashKey = r.URL.Query().Get("key")
			rt.processor = r.URL.Query().Get("processor")
		default:
			ok = false
		}
	}
	rt.project = projectOf(r.Host)
	if !ok {
		return rt, errorf(http.StatusNotFound, "NotFound",
			"slstest serves only PutLogs: POST /logstores/{logstore}[/shards/lb | /shards/route?key=...], not %s %s", r.Method, r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return rt, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "method %s is not allowed on %s; PutLogs is POST", r.Method, r.URL.Path)
	}
	if len(parts) == 4 && parts[3] == "route" && rt.hashKey == "" {
		return rt, errorf(http.StatusBadRequest, "ParameterInvalid", "shards/route needs a key query parameter")
	}
	return rt, nil
}

// projectOf returns the first label of a "{project}.{endpoint}" Host, or ""
// when the host carries no project (empty, a bare IP address, one label).
func projectOf(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	p, _, found := strings.Cut(host, ".")
	if !found {
		return ""
	}
	return p
}

// maxWireBytes bounds the body as sent: the worst-case LZ4 expansion of
// MaxRawBytes plus room for frame headers of the other formats.
func (s *Server) maxWireBytes() int64 {
	n := int64(s.opts.MaxRawBytes)
	return n + n/255 + 64<<10
}

// readBody reads the body into bufs without ever holding more than
// maxWireBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, bufs *requestBuffers) ([]byte, *apiError) {
	limit := s.maxWireBytes()
	if r.ContentLength > limit {
		return nil, errorf(http.StatusBadRequest, "PostBodyTooLarge", "body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	size := 512
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1 // room to read EOF without growing
	}
	bufs.body = getBuf(size)
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), *bufs.body)
	*bufs.body = body
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errorf(http.StatusBadRequest, "PostBodyTooLarge", "body exceeds the limit of %d bytes", limit)
	case err != nil:
		return nil, errorf(http.StatusBadRequest, "PostBodyInvalid", "reading the body: %v", err)
	}
	return body, nil
}

// readAll is io.ReadAll appending to b, whose spare capacity it fills
// before growing it.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// requestBuffers lends one request the memory for its body and for its
// decompressed LogGroup, from a pool, until release once the request has
// been answered: a stream of requests reuses warm buffers instead of
// allocating (and collecting) a body and a LogGroup each. Nothing kept past
// the answer may alias them: store and beginAttempt keep copies.
type requestBuffers struct {
	body, rawBuf *[]byte // nil until used
}

// bufPool holds *[]byte of at most maxPooledBytes capacity.
var bufPool sync.Pool

// maxPooledBytes caps the buffers bufPool keeps: a request of up to 4 MiB
// (zapsls and the SDK producer send at most a few hundred KiB) reuses one;
// a rarer larger one, up to MaxRawBytes, is left to the garbage collector.
const maxPooledBytes = 4 << 20

// getBuf returns an empty buffer of at least n bytes of capacity.
func getBuf(n int) *[]byte {
	p, _ := bufPool.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	if cap(*p) < n {
		*p = make([]byte, 0, n)
	}
	*p = (*p)[:0]
	return p
}

// raw returns an empty buffer of at least n bytes of capacity for the
// decompressed LogGroup.
func (b *requestBuffers) raw(n int) []byte {
	if b.rawBuf == nil {
		b.rawBuf = getBuf(n)
	}
	return *b.rawBuf
}

// release gives the buffers back to the pool.
func (b *requestBuffers) release() {
	for _, p := range []*[]byte{b.body, b.rawBuf} {
		if p != nil && cap(*p) <= maxPooledBytes {
			bufPool.Put(p)
		}
	}
	b.body, b.rawBuf = nil, nil
}

// checkEnvelope checks what every request must get right before its body
// is looked at: the Host names a project that exists, the logstore exists,
// the API version, and a body's Content-Type.
func (s *Server) checkEnvelope(r *http.Request, rt routeInfo, body []byte, contentType string) *apiError {
	if r.Host == "" {
		return errorf(http.StatusBadRequest, "MissingHost", "Host does not exist in http header.")
	}
	if rt.project == "" {
		return errorf(http.StatusBadRequest, "InvalidHost", "Host header %s is invalid: expected {project}.{endpoint}", r.Host)
	}
	if len(s.opts.Projects) > 0 && !slices.Contains(s.opts.Projects, rt.project) {
		return errorf(http.StatusNotFound, "ProjectNotExist", "The Project does not exist : %s", rt.project)
	}
	if len(s.opts.Logstores) > 0 && !slices.Contains(s.opts.Logstores, rt.logstore) {
		return errorf(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", rt.logstore)
	}
	switch v := r.Header.Get("x-log-apiversion"); v {
	case "0.6.0":
	case "":
		return errorf(http.StatusBadRequest, "MissingAPIVersion", "x-log-apiversion does not exist in http header.")
	default:
		return errorf(http.StatusBadRequest, "InvalidAPIVersion", "x-log-apiversion %s is unsupported.", v)
	}
	if len(body) > 0 {
		switch ct := r.Header.Get("Content-Type"); ct {
		case contentType:
		case "":
			return errorf(http.StatusBadRequest, "MissingContentType", "Content-Type does not exist in http header when body is not empty.")
		default:
			return errorf(http.StatusUnsupportedMediaType, "InvalidContentType", "Content-Type %s is unsupported; want %s.", ct, contentType)
		}
	}
	return nil
}

// verify checks a routed request the way SLS does, in roughly the order SLS
// reports problems: headers, project and logstore, body integrity,
// signature, decompression, and the LogGroup itself (walkGroup). body was
// read into bufs (readBody), which also lends the decompressed LogGroup
// its memory; it returns what store needs of an accepted request.
func (s *Server) verify(r *http.Request, rt routeInfo, body []byte, bufs *requestBuffers) (*accepted, *apiError) {
	h := r.Header
	if e := s.checkEnvelope(r, rt, body, "application/x-protobuf"); e != nil {
		return nil, e
	}
	rawSizeText := h.Get("x-log-bodyrawsize")
	if rawSizeText == "" {
		return nil, errorf(http.StatusBadRequest, "MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary.")
	}
	rawSize, err := strconv.Atoi(rawSizeText)
	if err != nil || rawSize < 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize is invalid: %q", rawSizeText)
	}
	if rawSize > s.opts.MaxRawBytes {
		return nil, errorf(http.StatusBadRequest, "PostBodyTooLarge", "body raw size %d exceeds the limit of %d bytes", rawSize, s.opts.MaxRawBytes)
	}
	if md := h.Get("Content-MD5"); md != "" {
		if want := fmt.Sprintf("%X", md5.Sum(body)); md != want {
			return nil, errorf(http.StatusBadRequest, "InvalidContentMD5", "Content-MD5 %s does not match the body (MD5 %s, upper-case hex)", md, want)
		}
	}

	req := &Request{
		Project:     rt.project,
		Logstore:    rt.logstore,
		Path:        rt.path,
		HashKey:     rt.hashKey,
		Processor:   rt.processor,
		Compression: h.Get("x-log-compresstype"),
		RawSize:     rawSize,
		WireSize:    len(body),
		Header:      h, // cloned by store if the request is kept
	}
	if e := s.authenticate(r, body, req); e != nil {
		return nil, e
	}
	var dst []byte // an uncompressed body is its own LogGroup
	if req.Compression != "" {
		dst = bufs.raw(rawSize)
	}
	raw, e := s.decompress(req.Compression, body, rawSize, dst)
	if e != nil {
		return nil, e
	}
	now := s.now()
	sum, e := s.walkGroup(raw, now)
	keep := s.keeping()
	if keep {
		if bug := s.crossCheck(raw, now, sum, e); bug != nil {
			return nil, bug
		}
	}
	if e != nil {
		return nil, e
	}
	if keep {
		req.PackID = string(sum.packID)
	}
	return &accepted{req: req, logs: sum.logs, raw: raw, keep: keep}, nil
}

// authenticate checks the signature (V1 or V4), the clock skew and the
// security token, and fills the request's auth fields.
func (s *Server) authenticate(r *http.Request, body []byte, req *Request) *apiError {
	h := r.Header
	auth := h.Get("Authorization")
	creds := s.credentials()
	uri := r.URL.RequestURI()

	var ak string
	signed := map[string]string{}
	if ct, ok := h["Content-Type"]; ok && len(ct) > 0 {
		signed["Content-Type"] = ct[0]
	}
	// The signers canonicalize x-log-* and x-acs-* names in lower case; keep
	// them so, or the signer's own additions would appear twice.
	for name, vals := range h {
		l := strings.ToLower(name)
		if (strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-")) && len(vals) > 0 {
			signed[l] = vals[0]
		}
	}

	switch {
	case auth == "":
		return errorf(http.StatusUnauthorized, "Unauthorized", "Authorization does not exist in http header.")

	case strings.HasPrefix(auth, "LOG "):
		req.SignatureVersion = 1
		id, _, ok := strings.Cut(strings.TrimPrefix(auth, "LOG "), ":")
		if !ok || id == "" {
			return errorf(http.StatusBadRequest, "ParameterInvalid", "Http extend authorization : %s pair is invalid.", auth)
		}
		ak = id
		date := h.Get("Date")
		if date == "" {
			return errorf(http.StatusBadRequest, "MissingDate", "Date does not exist in http header.")
		}
		t, err := http.ParseTime(date)
		if err != nil {
			return errorf(http.StatusBadRequest, "InvalidDateFormat", "Date %s must follow RFC822.", date)
		}
		if e := s.checkSkew(t); e != nil {
			return e
		}
		switch m := h.Get("x-log-signaturemethod"); m {
		case "hmac-sha1":
		case "":
			return errorf(http.StatusBadRequest, "MissingSignatureMethod", "x-log-signaturemethod does not exist in http header.")
		default:
			return errorf(http.StatusBadRequest, "InvalidSignatureMethod", "signature method %s is unsupported.", m)
		}
		// V1 signs Content-MD5; a body without one cannot be verified.
		if len(body) > 0 && h.Get("Content-MD5") == "" {
			return errorf(http.StatusBadRequest, "MissingContentMD5", "Content-MD5 does not exist in http header when body is not empty.")
		}
		if e := checkKey(ak, creds); e != nil {
			return e
		}
		signed["Date"] = date
		signBody := body
		if h.Get("Content-MD5") == "" {
			signBody = nil // an empty body signed without Content-MD5
		}
		if err := sls.NewSignerV1(creds.accessKeyID, creds.accessKeySecret).Sign(r.Method, uri, signed, signBody); err != nil {
			return errorf(http.StatusBadRequest, "ParameterInvalid", "cannot compute the signature: %v", err)
		}

	case strings.HasPrefix(auth, "SLS4-HMAC-SHA256 "):
		req.SignatureVersion = 4
		id, region, ok := parseV4Credential(strings.TrimPrefix(auth, "SLS4-HMAC-SHA256 "))
		if !ok {
			return errorf(http.StatusBadRequest, "ParameterInvalid", "Http extend authorization : %s pair is invalid.", auth)
		}
		ak = id
		date := h.Get("x-log-date")
		if date == "" {
			return errorf(http.StatusBadRequest, "MissingDate", "x-log-date does not exist in http header.")
		}
		t, err := time.Parse(sls.ISO8601, date)
		if err != nil {
			return errorf(http.StatusBadRequest, "InvalidDateFormat", "x-log-date %s must be formatted as %s.", date, sls.ISO8601)
		}
		if e := s.checkSkew(t); e != nil {
			return e
		}
		// V4 signs the payload hash from the header; check it is the body's.
		if got, want := h.Get("x-log-content-sha256"), hex.EncodeToString(sha256Sum(body)); got != want {
			return errorf(http.StatusBadRequest, "InvalidContentSha256", "x-log-content-sha256 %q does not match the body (SHA-256 %s)", got, want)
		}
		if e := checkKey(ak, creds); e != nil {
			return e
		}
		signed["Host"] = r.Host
		if err := sls.NewSignerV4(creds.accessKeyID, creds.accessKeySecret, region).Sign(r.Method, uri, signed, body); err != nil {
			return errorf(http.StatusBadRequest, "ParameterInvalid", "cannot compute the signature: %v", err)
		}

	default:
		return errorf(http.StatusBadRequest, "ParameterInvalid", "Http extend authorization : %s pair is invalid.", auth)
	}

	if subtle.ConstantTimeCompare([]byte(signed["Authorization"]), []byte(auth)) != 1 {
		return errorf(http.StatusUnauthorized, "SignatureNotMatch", "Signature %s not matched.", auth)
	}
	token := h.Get("x-acs-security-token")
	if token != creds.securityToken {
		return errorf(http.StatusUnauthorized, "Unauthorized", "The security token you provided is invalid or has expired.")
	}
	req.AccessKeyID = ak
	req.SecurityToken = token
	return nil
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func checkKey(ak string, creds credentials) *apiError {
	if ak != creds.accessKeyID {
		return errorf(http.StatusUnauthorized, "InvalidAccessKeyId", "AccessKeyId not found: %s", ak)
	}
	return nil
}

// parseV4Credential reads
// "Credential={ak}/{yyyymmdd}/{region}/sls/aliyun_v4_request,Signature={hex}".
func parseV4Credential(s string) (ak, region string, ok bool) {
	var cred, sig string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if v, found := strings.CutPrefix(part, "Credential="); found {
			cred = v
		} else if v, found := strings.CutPrefix(part, "Signature="); found {
			sig = v
		}
	}
	f := strings.Split(cred, "/")
	if sig == "" || len(f) != 5 || f[0] == "" || len(f[1]) != 8 || f[2] == "" || f[3] != "sls" || f[4] != "aliyun_v4_request" {
		return "", "", false
	}
	return f[0], f[2], true
}

func (s *Server) checkSkew(t time.Time) *apiError {
	if s.opts.MaxSkew < 0 {
		return nil
	}
	now := s.now()
	if d := now.Sub(t); d > s.opts.MaxSkew || -d > s.opts.MaxSkew {
		return errorf(http.StatusBadRequest, "RequestTimeTooSkewed", "Request time %s is more than %s away from server time %s.",
			t.UTC().Format(time.RFC1123), s.opts.MaxSkew, now.UTC().Format(time.RFC1123))
	}
	return nil
}

// decompress returns the raw LogGroup bytes, which must be exactly rawSize
// long: body itself when it is not compressed, else bytes decoded into
// dst's memory when its capacity holds rawSize (dst may be nil).
func (s *Server) decompress(kind string, body []byte, rawSize int, dst []byte) ([]byte, *apiError) {
	sizeErr := func(got string) *apiError {
		return errorf(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize is %d but the %s body decodes to %s bytes", rawSize, orNone(kind), got)
	}
	switch kind {
	case "":
		if len(body) != rawSize {
			return nil, sizeErr(strconv.Itoa(len(body)))
		}
		return body, nil
	case "lz4":
		// A raw LZ4 block carries no length: SLS sizes the output from
		// x-log-bodyrawsize, and so do we.
		raw := sized(dst, rawSize)
		n, err := lz4.UncompressBlock(body, raw)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "PostBodyUncompressError", "lz4 block does not decode into %d bytes: %v", rawSize, err)
		}
		if n != rawSize {
			return nil, sizeErr(strconv.Itoa(n))
		}
		return raw, nil
	case "zstd":
		// The decoder stops at the capacity (WithDecodeAllCapLimit):
		// exactly rawSize.
		raw, err := s.zstd.DecodeAll(body, sized(dst, rawSize)[:0:rawSize])
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, sizeErr("more than " + strconv.Itoa(rawSize))
		}
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "PostBodyUncompressError", "zstd body does not decode: %v", err)
		}
		if len(raw) != rawSize {
			return nil, sizeErr(strconv.Itoa(len(raw)))
		}
		return raw, nil
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "PostBodyUncompressError", "deflate (zlib) body does not decode: %v", err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, int64(rawSize)+1))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "PostBodyUncompressError", "deflate (zlib) body does not decode: %v", err)
		}
		if len(raw) != rawSize {
			return nil, sizeErr(strconv.Itoa(len(raw)))
		}
		return raw, nil
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidCompressType", "x-log-compresstype %s is unsupported.", kind)
	}
}

// sized returns dst resliced to n bytes, or a new slice if dst cannot hold
// them.
func sized(dst []byte, n int) []byte {
	if cap(dst) < n {
		return make([]byte, n)
	}
	return dst[:n]
}

func orNone(kind string) string {
	if kind == "" {
		return "uncompressed"
	}
	return kind
}

// checkGroup applies SLS's limits to a decoded LogGroup, with now as the
// server's time.
func (s *Server) checkGroup(g *sls.LogGroup, now time.Time) *apiError {
	if len(g.Logs) > s.opts.MaxLogs {
		return tooManyLogs(len(g.Logs), s.opts.MaxLogs)
	}
	if e := checkMeta("topic", g.GetTopic(), maxTopicBytes); e != nil {
		return e
	}
	if e := checkMeta("source", g.GetSource(), maxSourceBytes); e != nil {
		return e
	}
	for _, t := range g.LogTags {
		if e := checkTag(t.GetKey(), t.GetValue()); e != nil {
			return e
		}
	}
	for i, l := range g.Logs {
		if l.Time == nil {
			return errorf(http.StatusBadRequest, "PostBodyInvalid", "log %d has no Time", i)
		}
		if e := s.checkTime(i, l.GetTime(), l.GetTimeNs(), now); e != nil {
			return e
		}
		for _, c := range l.Contents {
			if e := checkContent(i, c.GetKey(), c.GetValue()); e != nil {
				return e
			}
		}
	}
	return nil
}

func tooManyLogs(n, limit int) *apiError {
	return errorf(http.StatusBadRequest, "PostBodyTooLarge", "%d logs exceed the limit of %d logs per request", n, limit)
}

func checkTag(k, v string) *apiError {
	if !utf8.ValidString(k) || !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, "InvalidEncoding", "tag %q is not valid UTF-8", k)
	}
	if k == "" || len(k) > maxKeyBytes {
		return errorf(http.StatusBadRequest, "InvalidKey", "tag key %q must be 1 to %d bytes", k, maxKeyBytes)
	}
	return nil
}

func checkMeta(what, v string, limit int) *apiError {
	if !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, "InvalidEncoding", "%s %q is not valid UTF-8", what, v)
	}
	if len(v) > limit {
		return errorf(http.StatusBadRequest, "PostBodyInvalid", "%s of %d bytes exceeds %d bytes", what, len(v), limit)
	}
	return nil
}

// checkTime checks log i's Time (sec) and TimeNs (ns, 0 when absent)
// against the server time now.
func (s *Server) checkTime(i int, sec, ns uint32, now time.Time) *apiError {
	// TimeNs holds only the sub-second part; a full Unix-nanosecond value
	// there is a client bug that SLS would store as garbage.
	if ns >= 1e9 {
		return errorf(http.StatusBadRequest, "InvalidTimestamp", "log %d: TimeNs %d is not below one second", i, ns)
	}
	t := time.Unix(int64(sec), int64(ns))
	if s.opts.MaxLogAge > 0 && now.Sub(t) > s.opts.MaxLogAge {
		return errorf(http.StatusBadRequest, "InvalidTimestamp", "log %d: time %s is older than %s", i, t.UTC().Format(time.RFC3339), s.opts.MaxLogAge)
	}
	if s.opts.MaxLogFuture > 0 && t.Sub(now) > s.opts.MaxLogFuture {
		return errorf(http.StatusBadRequest, "InvalidTimestamp", "log %d: time %s is more than %s in the future", i, t.UTC().Format(time.RFC3339), s.opts.MaxLogFuture)
	}
	return nil
}

// ContentError returns why SLS refuses a Log content with this key and
// value, or nil if it accepts it: an empty key, a key over 128 bytes, a
// reserved key (__time__, __source__, __topic__, __partition_time__,
// _extract_others_, __extract_others__, or any __tag__:*), a value over
// 1,000,000 bytes, or invalid UTF-8 in either. The error reads
// "CODE: message" with the code the server answers (InvalidKey,
// InvalidEncoding, PostBodyInvalid). It is the check the server applies to
// every content of every request, for tests that check an encoder's output
// without sending it.
func ContentError(key, value string) error {
	if e := checkContent(0, key, value); e != nil {
		return errors.New(e.code + ": " + e.message)
	}
	return nil
}

func checkContent(i int, k, v string) *apiError {
	if !utf8.ValidString(k) {
		return errorf(http.StatusBadRequest, "InvalidEncoding", "log %d: key %q is not valid UTF-8", i, k)
	}
	switch {
	case k == "":
		return errorf(http.StatusBadRequest, "InvalidKey", "log %d: empty key", i)
	case len(k) > maxKeyBytes:
		return errorf(http.StatusBadRequest, "InvalidKey", "log %d: key %q is longer than %d bytes", i, k, maxKeyBytes)
	case slices.Contains(reservedKeys, k):
		return errorf(http.StatusBadRequest, "InvalidKey", "log %d: key %s is reserved", i, k)
	case strings.HasPrefix(k, tagKeyPrefix):
		return errorf(http.StatusBadRequest, "InvalidKey", "log %d: key %s is reserved for tags", i, k)
	}
	if len(v) > maxValueBytes {
		return errorf(http.StatusBadRequest, "PostBodyInvalid", "log %d: value of key %s is %d bytes, more than %d", i, k, len(v), maxValueBytes)
	}
	if !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, "InvalidEncoding", "log %d: value of key %s is not valid UTF-8", i, k)
	}
	return nil
}
