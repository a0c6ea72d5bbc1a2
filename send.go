package zapsls

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/zapsls/zapsls/internal/pb"
)

// apiVersion is the x-log-apiversion of the PutLogs API.
const apiVersion = "0.6.0"

// userAgent identifies zapsls in the service's access logs.
const userAgent = "zapsls-go/0.1"

// maxErrorBody bounds how much of an error answer is read: enough for the
// JSON error, never enough for a hostile endpoint to exhaust memory.
const maxErrorBody = 64 << 10

// sendConfig is what the sender and posters need, fixed at NewWriter.
type sendConfig struct {
	client    *http.Client
	ownClient bool
	url       string // scheme://host/logstores/LOGSTORE/shards/lb
	uri       string // /logstores/LOGSTORE/shards/lb, as signed
	groupTail []byte // Topic, Source and Tags, encoded once

	packPrefix string
	packSeq    atomic.Uint64

	// The compressors and their output buffer belong to the sender
	// goroutine.
	lz4c    lz4.Compressor
	zstd    *zstd.Encoder
	scratch []byte
}

func (s *sendConfig) init(cfg Config, ep endpoint) error {
	s.uri = "/logstores/" + cfg.Logstore + "/shards/lb"
	s.url = ep.scheme + "://" + ep.dialTo + s.uri
	s.client = cfg.HTTPClient
	if s.client == nil {
		s.client = newHTTPClient(cfg)
		s.ownClient = true
	}
	if cfg.Topic != "" {
		s.groupTail = pb.AppendString(s.groupTail, pb.TagGroupTopic, cfg.Topic)
	}
	if cfg.Source != "" {
		s.groupTail = pb.AppendString(s.groupTail, pb.TagGroupSource, cfg.Source)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		s.groupTail = pb.AppendPair(s.groupTail, pb.TagGroupTag, k, cfg.Tags[k])
	}
	s.packPrefix = newPackPrefix()
	if cfg.Compression == CompressZstd {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return fmt.Errorf("zapsls: zstd: %w", err)
		}
		s.zstd = enc
	}
	return nil
}

func (s *sendConfig) closeSendConfig() {
	if s.zstd != nil {
		s.zstd.Close()
	}
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
}

// newHTTPClient keeps enough idle connections for MaxInflight requests, so
// that every request after the first reuses one.
func newHTTPClient(cfg Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = cfg.MaxInflight
	t.MaxConnsPerHost = cfg.MaxInflight
	t.ResponseHeaderTimeout = cfg.RequestTimeout
	t.ForceAttemptHTTP2 = false
	return &http.Client{Transport: t, Timeout: cfg.RequestTimeout}
}

func (w *Writer) nextPackID() string {
	return w.packPrefix + "-" + strings.ToUpper(strconv.FormatUint(w.packSeq.Add(1)-1, 16))
}

var bodyPool sync.Pool // *[]byte

const maxPooledBody = 4 << 20

// getBody returns an empty buffer with room for n bytes. A new one gets a
// quarter more, so that the next batches, of about the same size, reuse it.
func getBody(n int) []byte {
	if p, ok := bodyPool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n+n/4)
}

func putBody(b []byte) {
	if b != nil && cap(b) <= maxPooledBody {
		bodyPool.Put(&b)
	}
}

// compress returns the body to send for the LogGroup raw, in a pooled
// buffer of about its own size: compression writes into the sender's
// scratch buffer, sized for the worst case, and only the result is copied
// out, so that in-flight batches hold what they send, not a worst-case
// bound each. Only the sender goroutine calls it.
func (w *Writer) compress(raw []byte) []byte {
	switch w.cfg.Compression {
	case CompressZstd:
		w.scratch = w.zstd.EncodeAll(raw, w.scratch[:0])
	case CompressLZ4:
		bound := lz4.CompressBlockBound(len(raw))
		if cap(w.scratch) < bound {
			w.scratch = make([]byte, bound)
		}
		n, err := w.lz4c.CompressBlock(raw, w.scratch[:bound])
		if err != nil || n == 0 {
			// Incompressible: an LZ4 block of one literal run.
			w.scratch = appendLiteralBlock(w.scratch[:0], raw)
		} else {
			w.scratch = w.scratch[:n]
		}
	default:
		w.scratch = raw
	}
	return append(getBody(len(w.scratch)), w.scratch...)
}

// appendLiteralBlock writes src as an LZ4 block holding a single literal
// sequence, which every LZ4 block decoder accepts.
func appendLiteralBlock(dst, src []byte) []byte {
	n := len(src)
	if n < 15 {
		dst = append(dst, byte(n<<4))
	} else {
		dst = append(dst, 0xF0)
		for n -= 15; n >= 255; n -= 255 {
			dst = append(dst, 0xFF)
		}
		dst = append(dst, byte(n))
	}
	return append(dst, src...)
}

// runPoster posts batches until the sender closes w.work.
func (w *Writer) runPoster() {
	defer w.postersWG.Done()
	for b := range w.work {
		w.resolve(b, w.post(b))
	}
}

// post sends b until SLS stores it, the failure is not retryable, the retry
// budget is spent, or Close's deadline passes. It returns nil on success.
func (w *Writer) post(b *batch) error {
	began := time.Now()
	var last *PutLogsError
	var authSince time.Time // first 401 that may be an expired token
	for attempt := 1; ; attempt++ {
		if w.abortCtx.Err() != nil {
			return w.giveUp(b, last, attempt-1, "writer closed before delivery")
		}
		res := w.attempt(b)
		if res == nil {
			return nil
		}
		res.Entries, res.Attempts = b.count, attempt
		last = res
		kind := classify(res)
		if kind == retryAuth {
			// A 401 with temporary credentials may be an expired token:
			// the provider has authGrace to hand out a fresh one.
			if authSince.IsZero() {
				authSince = time.Now()
			} else if time.Since(authSince) > authGrace {
				kind = permanent
			}
		}
		if kind == permanent {
			res.Retryable = false
			return res
		}
		delay := backoff(attempt, kind == retryQuota)
		if time.Since(began)+delay > w.cfg.RetryTimeout {
			res.Retryable = true
			return res
		}
		w.stats.retries.Add(1)
		w.mu.Lock()
		b.lastErr = res
		w.noteErrorLocked(res)
		w.mu.Unlock()
		w.onError(&RetryError{Delay: delay, Err: res})
		select {
		case <-time.After(delay):
		case <-w.abortCtx.Done():
		}
	}
}

func (w *Writer) giveUp(b *batch, last *PutLogsError, attempts int, why string) *PutLogsError {
	if last == nil {
		return &PutLogsError{Entries: b.count, Message: why, Attempts: attempts, Retryable: true}
	}
	// A copy: last may already be in OnError's hands and in Sync's.
	cp := *last
	cp.Message += "; " + why
	return &cp
}

// authGrace is how long 401s that carry a security token are retried, from
// the first: time for a credentials provider to notice an expired token and
// fetch a new one.
const authGrace = 10 * time.Second

type failureKind int

const (
	permanent failureKind = iota
	retryable
	retryQuota
	retryAuth
)

// classify decides what to do after a failed attempt, per the delivery
// rules in design.md: retry network errors, timeouts, 5xx, 429, quota
// errors, expired request time, and (a few times) 401s that carry a security
// token; report everything else at once.
func classify(e *PutLogsError) failureKind {
	if e.badCert {
		// Not a network hiccup: the endpoint is not who it says, or the
		// client does not trust it. Retrying changes neither; report it
		// at once (and spool, with a SpoolDir).
		return permanent
	}
	switch e.Code {
	case "WriteQuotaExceed", "ShardWriteQuotaExceed", "ProjectQuotaExceed":
		return retryQuota
	case "RequestTimeExpired", "RequestTimeTooSkewed", "InternalServerError", "ServerBusy":
		return retryable
	case "SecurityTokenExpired", "InvalidSecurityToken":
		return retryAuth
	}
	switch {
	case e.Status == 0 || e.Status >= 500:
		return retryable
	case e.Status == http.StatusTooManyRequests:
		return retryQuota
	case e.Status == http.StatusUnauthorized && e.hadToken:
		return retryAuth
	}
	return permanent
}

// backoff is exponential with jitter: 100ms doubling to 5s, or, for quota
// errors, 500ms doubling to 10s; each delay drawn from [d/2, d].
func backoff(attempt int, quota bool) time.Duration {
	base, ceiling := 100*time.Millisecond, 5*time.Second
	if quota {
		base, ceiling = 500*time.Millisecond, 10*time.Second
	}
	d := base << min(attempt-1, 16)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1)
}

// attempt makes one signed request for b. It returns nil on HTTP 200.
func (w *Writer) attempt(b *batch) *PutLogsError {
	creds, err := w.cfg.Credentials.GetCredentials()
	if err != nil {
		// The provider's error may quote what it fetched; keep only that
		// it failed.
		return &PutLogsError{Message: "credentials provider failed", Code: "", Status: 0}
	}
	headers := map[string]string{
		sls.HTTPHeaderAPIVersion:  apiVersion,
		sls.HTTPHeaderContentType: "application/x-protobuf",
		sls.HTTPHeaderBodyRawSize: strconv.Itoa(b.rawSize),
		sls.HTTPHeaderHost:        w.ep.reqHost,
		sls.HTTPHeaderUserAgent:   userAgent,
	}
	if b.compression != CompressNone {
		headers["x-log-compresstype"] = b.compression
	}
	if creds.SecurityToken != "" {
		headers[sls.HTTPHeaderAcsSecurityToken] = creds.SecurityToken
	}
	if w.cfg.SignatureVersion == "v4" {
		sum := md5.Sum(b.body)
		headers[sls.HTTPHeaderContentMD5] = strings.ToUpper(hex.EncodeToString(sum[:]))
		headers[sls.HTTPHeaderLogDate] = time.Now().UTC().Format("20060102T150405Z")
		err = sls.NewSignerV4(creds.AccessKeyID, creds.AccessKeySecret, w.cfg.Region).Sign(http.MethodPost, w.uri, headers, b.body)
	} else {
		headers[sls.HTTPHeaderDate] = time.Now().UTC().Format(http.TimeFormat)
		err = sls.NewSignerV1(creds.AccessKeyID, creds.AccessKeySecret).Sign(http.MethodPost, w.uri, headers, b.body)
	}
	if err != nil {
		return &PutLogsError{Message: "signing failed: " + err.Error()}
	}

	reqBody := &requestBody{Reader: bytes.NewReader(b.body), closed: make(chan struct{})}
	// Runs last, after cancel: the transport may read the body after Do
	// returns; until it closes it, b.body must not go back to the pool.
	defer func() {
		select {
		case <-reqBody.closed:
		case <-time.After(time.Second):
			b.bodyHeld = true
		}
	}()
	ctx, cancel := context.WithTimeout(w.abortCtx, w.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, reqBody)
	if err != nil {
		reqBody.Close()
		return &PutLogsError{Message: err.Error()}
	}
	req.ContentLength = int64(len(b.body))
	for k, v := range headers {
		switch k {
		case sls.HTTPHeaderHost:
			req.Host = v
		case sls.HTTPHeaderContentLength: // set by net/http from the body
		default:
			req.Header.Set(k, v)
		}
	}

	w.stats.requests.Add(1)
	w.stats.inflight.Add(1)
	resp, err := w.client.Do(req)
	w.stats.inflight.Add(-1)
	if err != nil {
		return &PutLogsError{Message: networkError(err), badCert: certificateError(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &PutLogsError{Status: resp.StatusCode, RequestID: resp.Header.Get("x-log-requestid"), hadToken: creds.SecurityToken != ""}
	var answer struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.Code != "" {
		e.Code, e.Message = answer.Code, answer.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	// Scrub before cutting, so that no fragment of a credential survives.
	e.Message = scrub(e.Message, creds)
	if len(e.Message) > 200 {
		e.Message = string(truncateUTF8([]byte(e.Message), 200)) + "..."
	}
	return e
}

// scrub removes credentials from text that came from the service: an SLS
// error message may quote the access key id, and nothing zapsls reports
// may carry a credential.
func scrub(text string, c sls.Credentials) string {
	for _, secret := range []string{c.AccessKeySecret, c.SecurityToken, c.AccessKeyID} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "***")
		}
	}
	return text
}

// requestBody is a request's body that tells when the transport is done
// with it.
type requestBody struct {
	*bytes.Reader
	closed chan struct{}
	once   sync.Once
}

func (r *requestBody) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// certificateError reports whether err is a failed verification of the
// endpoint's TLS certificate.
func certificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// networkError describes err without the request URL that net/http puts in
// it (the URL carries no secrets, but the text is shorter and stable).
func networkError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout: " + err.Error()
	}
	return err.Error()
}
