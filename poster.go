package zapsls

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// apiVersion is the x-log-apiversion of the PutLogs API.
const apiVersion = "0.6.0"

// maxErrorBody bounds how much of an error answer is read: enough for the
// JSON error, never enough for a hostile endpoint to exhaust memory.
const maxErrorBody = 64 << 10

// poster is the stage that delivers sealed batches: it signs each attempt
// afresh (SDK signers, current credentials and Date), posts it, classifies
// the answer and retries with backoff within the batch's retry budget.
// MaxInflight goroutines run poster.run side by side; the poster's fields
// are fixed at NewWriter and safe to share.
type poster struct {
	cfg       *Config // Credentials, SignatureVersion, Region, timeouts
	client    *http.Client
	ownClient bool // made by NewWriter: its idle connections are closed by close
	stats     *counters
	// retrying is told of every failed attempt that will be retried, before
	// the backoff: the ledger keeps it for Sync and Stats.LastError, and
	// OnError hears of it.
	retrying func(b *batch, err *PutLogsError, delay time.Duration)
	// backoffCut returns a channel closed when a Sync wants the next
	// attempt now rather than after the backoff.
	backoffCut func() <-chan struct{}
}

func newPoster(cfg *Config, stats *counters, retrying func(*batch, *PutLogsError, time.Duration), backoffCut func() <-chan struct{}) *poster {
	p := &poster{cfg: cfg, stats: stats, retrying: retrying, backoffCut: backoffCut}
	if cfg.HTTPClient == nil {
		p.client, p.ownClient = newHTTPClient(*cfg), true
	} else {
		// A copy sharing the user's transport, connections and timeout,
		// with zapsls's redirect policy.
		c := *cfg.HTTPClient
		p.client = &c
	}
	p.client.CheckRedirect = refuseRedirect
	return p
}

// refuseRedirect keeps the client from following redirects: the request
// body is replayable (GetBody), so net/http would resend it, with the
// x-acs-security-token header, which it does not hold back from another
// host, wherever Location points. SLS never redirects; the 3xx answer is
// reported as the failure, with a hint.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

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

func (p *poster) close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// run posts batches from work until it is closed, and hands each outcome
// to resolve. ctx is cancelled at Close's deadline: retries stop then.
func (p *poster) run(ctx context.Context, work <-chan *batch, resolve func(*batch, error)) {
	for b := range work {
		if !b.ordered {
			resolve(b, p.post(ctx, b))
			continue
		}
		// The batch sealed before it, to the same shard key, is settled
		// first: a poster never waits for a batch not yet taken, since the
		// batcher hands batches over one at a time, in order.
		b.route.waitTurn(b.seq)
		resolve(b, p.post(ctx, b))
		b.route.endTurn()
	}
}

// post sends b until SLS stores it, the failure is not retryable, the retry
// budget (RetryTimeout from the first attempt) is spent, or ctx is done. It
// returns nil on success, otherwise a *PutLogsError.
func (p *poster) post(ctx context.Context, b *batch) error {
	began := time.Now()
	var last *PutLogsError
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return giveUp(b, last, "writer closed before delivery")
		}
		started := time.Now()
		res := p.attempt(ctx, b)
		if res == nil {
			b.attempts, b.latency = attempt, time.Since(began)
			return nil
		}
		res.Entries, res.Attempts, res.started = b.count, attempt, started
		res.Project, res.Logstore = b.route.dest.Project, b.route.dest.Logstore
		last = res
		kind := classify(res)
		if kind == permanent {
			res.Retryable = false
			return res
		}
		delay := backoff(attempt, kind == retryQuota, p.cfg.RetryBackoff, p.cfg.RetryBackoffMax)
		if time.Since(began)+delay > p.cfg.RetryTimeout {
			res.Retryable = true
			return res
		}
		p.stats.retries.Add(1)
		cut := p.backoffCut() // before retrying: a Sync that sees it asks for the next attempt now
		p.retrying(b, res, delay)
		select {
		case <-time.After(delay):
		case <-cut:
		case <-ctx.Done():
		}
	}
}

// giveUp is the error for a batch abandoned before delivery: the last
// attempt's, with why, or a new one when there was no attempt.
func giveUp(b *batch, last *PutLogsError, why string) *PutLogsError {
	if last == nil {
		return &PutLogsError{Entries: b.count, Message: why, Retryable: true, Project: b.route.dest.Project, Logstore: b.route.dest.Logstore}
	}
	// A copy: last may already be in OnError's hands and in Sync's.
	cp := *last
	cp.Message += "; " + why
	return &cp
}

type failureKind int

const (
	permanent failureKind = iota
	retryable
	retryQuota // retried, with a slower backoff
	// retryAuth is a 401 that may be an expired STS token: retried within
	// the same retry budget as retryable failures, each attempt signed with
	// what the credentials provider hands out then, so a provider that
	// refreshes late still delivers (README.md, "Delivery guarantees").
	retryAuth
)

// classify decides what to do after a failed attempt, per the delivery
// rules in DESIGN.md: retry network errors, timeouts, 5xx, 429, quota
// errors, expired request time, and 401s that carry a security token (an
// expired token: the provider may have a fresh one by the next attempt);
// report everything else at once.
func classify(e *PutLogsError) failureKind {
	if e.wrongScheme {
		// HTTPS against an HTTP endpoint or the reverse: every attempt
		// will fail the same way.
		return permanent
	}
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

// backoff is exponential with jitter: base doubling to ceiling
// (Config.RetryBackoff and RetryBackoffMax), or, for quota errors, 5 x base
// doubling to 2 x ceiling; each delay drawn from [d/2, d].
func backoff(attempt int, quota bool, base, ceiling time.Duration) time.Duration {
	if quota {
		base, ceiling = 5*base, 2*ceiling
	}
	d := base << min(attempt-1, 16)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1)
}

// attempt makes one signed request for b. It returns nil on HTTP 200.
func (p *poster) attempt(ctx context.Context, b *batch) *PutLogsError {
	creds, err := p.cfg.Credentials.GetCredentials()
	if err != nil {
		// The provider's error may quote what it fetched; keep only that
		// it failed.
		return &PutLogsError{Message: "credentials provider failed", Code: "", Status: 0}
	}
	headers := map[string]string{
		sls.HTTPHeaderAPIVersion:  apiVersion,
		sls.HTTPHeaderContentType: "application/x-protobuf",
		sls.HTTPHeaderBodyRawSize: strconv.Itoa(b.rawSize),
		sls.HTTPHeaderHost:        b.route.reqHost,
		sls.HTTPHeaderUserAgent:   p.cfg.UserAgent,
	}
	if b.compression != CompressNone {
		headers["x-log-compresstype"] = b.compression
	}
	if creds.SecurityToken != "" {
		headers[sls.HTTPHeaderAcsSecurityToken] = creds.SecurityToken
	}
	if p.cfg.SignatureVersion == "v4" {
		sum := md5.Sum(b.body)
		headers[sls.HTTPHeaderContentMD5] = strings.ToUpper(hex.EncodeToString(sum[:]))
		headers[sls.HTTPHeaderLogDate] = time.Now().UTC().Format("20060102T150405Z")
		err = sls.NewSignerV4(creds.AccessKeyID, creds.AccessKeySecret, p.cfg.Region).Sign(http.MethodPost, b.route.uri, headers, b.body)
	} else {
		headers[sls.HTTPHeaderDate] = time.Now().UTC().Format(http.TimeFormat)
		err = sls.NewSignerV1(creds.AccessKeyID, creds.AccessKeySecret).Sign(http.MethodPost, b.route.uri, headers, b.body)
	}
	if err != nil {
		return &PutLogsError{Message: "signing failed: " + err.Error()}
	}

	bodies := &requestBodies{data: b.body}
	reqBody := bodies.open()
	// Runs last, after cancel: the transport may read the body after Do
	// returns; until it closes every copy, b.body must not go back to the
	// pool.
	defer func() {
		select {
		case <-bodies.allClosed():
		case <-time.After(time.Second):
			b.bodyHeld = true
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.route.url, reqBody)
	if err != nil {
		reqBody.Close()
		return &PutLogsError{Message: err.Error()}
	}
	req.ContentLength = int64(len(b.body))
	// A replayable body, and the mark (a nil header value, never sent) by
	// which net/http treats this POST as idempotent: when a keep-alive
	// connection the server has closed is reused, the transport resends
	// the request on a new one by itself, instead of failing with EOF and
	// costing a reported retry. Resending is what zapsls's own retry would
	// do: the same bytes and __pack_id__ (README.md, "Delivery guarantees").
	req.GetBody = func() (io.ReadCloser, error) { return bodies.open(), nil }
	req.Header["Idempotency-Key"] = nil
	for k, v := range headers {
		switch k {
		case sls.HTTPHeaderHost:
			req.Host = v
		case sls.HTTPHeaderContentLength: // set by net/http from the body
		default:
			req.Header.Set(k, v)
		}
	}

	p.stats.requests.Add(1)
	p.stats.inflight.Add(1)
	resp, err := p.client.Do(req)
	p.stats.inflight.Add(-1)
	if err != nil {
		e := &PutLogsError{Message: networkError(err), badCert: certificateError(err)}
		e.Hint, e.wrongScheme, e.unreachable = diagnose(err)
		return e
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode == http.StatusOK {
		b.requestID = resp.Header.Get("x-log-requestid")
		return nil
	}
	body = decodeErrorBody(resp.Header.Get("Content-Encoding"), body)
	e := &PutLogsError{Status: resp.StatusCode, RequestID: resp.Header.Get("x-log-requestid"), hadToken: creds.SecurityToken != ""}
	var answer struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.Code != "" {
		e.Code, e.Message = answer.Code, answer.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(e.Message, "HTTP request to an HTTPS server") {
			// Go's and nginx's answer to plain HTTP on a TLS port.
			e.Hint, e.wrongScheme = "the endpoint speaks HTTPS: write https:// (or no scheme) in Endpoint, or drop protocol=http from the sls:// URL", true
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Not followed (refuseRedirect); SLS never redirects.
		e.Hint = "the endpoint answers with a redirect, which zapsls does not follow: write the SLS endpoint itself in Endpoint"
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

// decodeErrorBody decodes an error answer sent with Content-Encoding gzip
// or deflate, which net/http leaves encoded when it did not ask for it
// (DisableCompression, or a proxy that compresses regardless): without
// this, the SLS error code in it is missed and a quota error looks
// permanent. The decoded text is bounded by maxErrorBody; a body that does
// not decode is kept as it came.
func decodeErrorBody(encoding string, body []byte) []byte {
	var r io.ReadCloser
	var err error
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some servers send it raw.
		if r, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(body)), nil
		}
	default:
		return body
	}
	if err != nil {
		return body
	}
	defer r.Close()
	decoded, err := io.ReadAll(io.LimitReader(r, maxErrorBody))
	if err != nil && len(decoded) == 0 {
		return body
	}
	return decoded
}

// requestBodies hands out readers of one request's body, the first for the
// request and one more for each resend by the transport (GetBody), and
// tells when the transport has closed them all.
type requestBodies struct {
	data    []byte
	mu      sync.Mutex
	readers int           // open readers
	done    chan struct{} // closed when the last open reader closes
}

func (s *requestBodies) open() *requestBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers == 0 {
		s.done = make(chan struct{})
	}
	s.readers++
	return &requestBody{Reader: bytes.NewReader(s.data), set: s}
}

// allClosed is closed once every reader handed out so far is closed. Call
// it after Client.Do has returned: no reader is handed out after that.
func (s *requestBodies) allClosed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// requestBody is one reader of a request's body.
type requestBody struct {
	*bytes.Reader
	set  *requestBodies
	once sync.Once
}

func (r *requestBody) Close() error {
	r.once.Do(func() {
		r.set.mu.Lock()
		defer r.set.mu.Unlock()
		if r.set.readers--; r.set.readers == 0 {
			close(r.set.done)
		}
	})
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

// diagnose explains a request that got no HTTP answer, when the cause is
// one a user must fix: a hint saying what to change, whether the endpoint
// speaks the other scheme (never worth a retry), and whether it is
// unreachable (a host that does not resolve, a port nothing listens on:
// worth retrying in the background, since DNS and servers come back, but
// not worth making Sync and Close wait; see ledger.unreachable).
func diagnose(err error) (hint string, wrongScheme, unreachable bool) {
	var dnsErr *net.DNSError
	var tlsRecord tls.RecordHeaderError
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"), errors.As(err, &tlsRecord):
		return "the endpoint speaks HTTP: write http:// in Endpoint, or protocol=http in the sls:// URL", true, false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "the endpoint's host does not resolve: check Endpoint (a region's host such as cn-hangzhou.log.aliyuncs.com, its -intranet form only inside Alibaba Cloud)", false, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens at the endpoint's host and port: check Endpoint", false, true
	}
	return "", false, false
}
