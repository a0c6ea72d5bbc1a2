package slstest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/klauspost/compress/zstd"
)

// Credentials a Server accepts when Options leaves them empty.
const (
	DefaultAccessKeyID     = "test-ak"
	DefaultAccessKeySecret = "test-secret"
)

// Defaults applied by NewServer to zero Options fields.
const (
	DefaultMaxRawBytes  = 10 << 20
	DefaultMaxLogs      = 4096
	DefaultMaxSkew      = 15 * time.Minute
	DefaultMaxLogAge    = 7 * 24 * time.Hour
	DefaultMaxLogFuture = 15 * time.Minute
)

// Options configures NewServer. The zero value is usable: it accepts the
// default credentials, any project and logstore, and applies the SLS limits.
type Options struct {
	// AccessKeyID and AccessKeySecret are the only credentials accepted;
	// empty means DefaultAccessKeyID / DefaultAccessKeySecret. See also
	// SetCredentials.
	AccessKeyID, AccessKeySecret string
	// SecurityToken, if non-empty, must arrive in x-acs-security-token; if
	// empty, a request that carries a token is refused, as SLS refuses a
	// token that does not belong to the key.
	SecurityToken string
	// Projects, if non-empty, lists the projects that exist; others get
	// 404 ProjectNotExist.
	Projects []string
	// Logstores, if non-empty, lists the logstores that exist (in every
	// project); others get 404 LogStoreNotExist.
	Logstores []string
	// MaxRawBytes bounds x-log-bodyrawsize (default DefaultMaxRawBytes);
	// larger requests get 400 PostBodyTooLarge, and bodies larger than the
	// worst-case compressed size of MaxRawBytes are refused without being
	// read into memory.
	MaxRawBytes int
	// MaxLogs bounds the logs in one request (default DefaultMaxLogs); more
	// get 400 PostBodyTooLarge, the code older SLS documentation gives for
	// the 4096-log limit.
	MaxLogs int
	// TLS serves HTTPS with a self-signed certificate that Client trusts.
	TLS bool
	// MaxSkew is how far Date (signature V1) or x-log-date (V4) may be from
	// the server clock (default DefaultMaxSkew); beyond it, 400
	// RequestTimeTooSkewed. Negative disables the check.
	MaxSkew time.Duration
	// MaxLogAge is how old a log's Time may be (default DefaultMaxLogAge);
	// older logs get 400 InvalidTimestamp. Negative disables the check.
	MaxLogAge time.Duration
	// MaxLogFuture is how far a log's Time may be ahead of the server clock
	// (default DefaultMaxLogFuture); beyond it, 400 InvalidTimestamp.
	// Negative disables the check.
	MaxLogFuture time.Duration
	// DiscardLogs verifies requests as usual but keeps only counts:
	// Requests and Logs stay empty while LogCount and WaitLogs count every
	// accepted log. For benchmarks and soak tests, where even the compact
	// record kept per request (see KeepLogs) would measure the test server
	// instead of the client.
	DiscardLogs bool
	// RecordAttempts keeps every PutLogs request whose body was read,
	// accepted or not (faulted, refused, dropped), with its body as sent:
	// see Attempts. Off by default, since it holds every body; for tests
	// that compare a retry with the attempt before it.
	RecordAttempts bool
	// KeepLogs, if positive, bounds what is kept to a sample: requests are
	// kept whole, in arrival order, until they hold KeepLogs logs or more
	// (so Logs returns at most KeepLogs plus one request's logs); later
	// ones are verified and counted (LogCount, WaitLogs) but not kept.
	// Zero keeps every accepted request. A kept request costs its
	// uncompressed LogGroup bytes and a copy of its headers; Requests and
	// Logs decode them again on every call.
	KeepLogs int
}

// Server is an SLS PutLogs endpoint listening on a loopback port. Create it
// with NewServer and stop it with Close. All methods are safe for
// concurrent use, including while requests are in flight.
type Server struct {
	opts    Options // normalized; read-only after NewServer
	addr    string  // "127.0.0.1:PORT", kept across RefuseConnections
	scheme  string
	cert    *x509.Certificate
	tlsConf *tls.Config // server side; nil without TLS
	srv     *http.Server
	client  *http.Client
	zstd    *zstd.Decoder
	reqSeq  atomic.Uint64
	// clockOffset is how far the server's clock runs ahead of this
	// machine's, in nanoseconds (SetClockOffset).
	clockOffset atomic.Int64
	idStamp     uint32

	closing   chan struct{} // closed by Close: wakes delayed handlers and waiters
	closeOnce sync.Once
	handlers  sync.WaitGroup // running ServeHTTP calls
	bg        sync.WaitGroup // Serve loops and the RefuseFor timer

	connMu sync.Mutex
	conns  map[net.Conn]http.ConnState // open connections, to drop idle ones when refusing

	mu           sync.Mutex
	closed       bool
	ln           net.Listener // nil while refusing connections
	refuseStop   chan struct{}
	creds        credentials
	kept         []keptRequest
	keptLogs     int // logs in kept
	logCount     int // accepted logs, kept or not (DiscardLogs, KeepLogs)
	rejections   []Rejection
	attempts     []Attempt     // with RecordAttempts
	changed      chan struct{} // closed and replaced whenever logs change
	faults       faultState
	respOverride *responseOverride

	idx indexState // the index endpoints (index.go), with their own lock
}

type credentials struct {
	accessKeyID, accessKeySecret, securityToken string
}

// NewServer starts a server on 127.0.0.1 with a free port and returns at
// once. It panics if it cannot listen, as httptest.NewServer does.
func NewServer(opts Options) *Server {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = DefaultAccessKeyID
	}
	if opts.AccessKeySecret == "" {
		opts.AccessKeySecret = DefaultAccessKeySecret
	}
	if opts.MaxRawBytes <= 0 {
		opts.MaxRawBytes = DefaultMaxRawBytes
	}
	if opts.MaxLogs <= 0 {
		opts.MaxLogs = DefaultMaxLogs
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.MaxLogAge == 0 {
		opts.MaxLogAge = DefaultMaxLogAge
	}
	if opts.MaxLogFuture == 0 {
		opts.MaxLogFuture = DefaultMaxLogFuture
	}
	opts.Projects = append([]string(nil), opts.Projects...)
	opts.Logstores = append([]string(nil), opts.Logstores...)

	// The window bound keeps a hostile frame header from making the decoder
	// allocate far more than a request may hold; DecodeAllCapLimit bounds the
	// output to the announced raw size.
	window := uint64(8 << 20)
	if uint64(opts.MaxRawBytes) > window {
		window = uint64(opts.MaxRawBytes)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxWindow(window))
	if err != nil {
		panic("slstest: zstd decoder: " + err.Error())
	}

	s := &Server{
		opts:    opts,
		scheme:  "http",
		zstd:    dec,
		idStamp: uint32(time.Now().Unix()),
		closing: make(chan struct{}),
		conns:   make(map[net.Conn]http.ConnState),
		changed: make(chan struct{}),
		creds: credentials{
			accessKeyID:     opts.AccessKeyID,
			accessKeySecret: opts.AccessKeySecret,
			securityToken:   opts.SecurityToken,
		},
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ConnState:         s.trackConn,
		// HTTP/1.1 only: the CloseConnection fault hijacks the connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// Handshake failures and dropped connections are what fault tests
		// provoke; logging them would only add noise to test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("slstest: listen: " + err.Error())
	}
	s.addr = ln.Addr().String()

	var roots *x509.CertPool
	if opts.TLS {
		cert, leaf, err := selfSignedCert()
		if err != nil {
			ln.Close()
			panic("slstest: certificate: " + err.Error())
		}
		s.scheme = "https"
		s.cert = leaf
		s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
		roots = x509.NewCertPool()
		roots.AddCert(leaf)
	}
	s.client = s.newClient(roots)

	s.mu.Lock()
	s.serveLocked(ln)
	s.mu.Unlock()
	return s
}

// serveLocked starts an accept loop on ln; s.mu must be held.
func (s *Server) serveLocked(ln net.Listener) {
	if s.tlsConf != nil {
		ln = tls.NewListener(ln, s.tlsConf)
	}
	s.ln = ln
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		_ = s.srv.Serve(ln) // returns when ln is closed by RefuseConnections or Close
	}()
}

// newClient builds the client returned by Client. It always dials the
// server's address, so URLs with a project label in the host
// ("http://proj.127.0.0.1:PORT") reach it without DNS, and it trusts only
// the server's certificate.
func (s *Server) newClient(roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil, // never send loopback traffic through an environment proxy
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, s.addr)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// selfSignedCert makes a certificate valid for 127.0.0.1, ::1, localhost
// and any single label under them ("proj.127.0.0.1", "proj.localhost"),
// since SLS clients put the project in front of the endpoint host.
func selfSignedCert() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"slstest"}, CommonName: "127.0.0.1"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost", "*.localhost", "*.127.0.0.1"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

// Endpoint returns "http://127.0.0.1:PORT", or "https://..." with
// Options.TLS: the endpoint to configure in a client. Clients address a
// project as "{project}.127.0.0.1:PORT", so they must connect through
// Client (or dial Addr themselves).
func (s *Server) Endpoint() string { return s.scheme + "://" + s.addr }

// URL returns the zapsls sink URL (sls://, zapsls.ConfigFromURL's grammar)
// of this server's project and logstore: "sls://127.0.0.1:PORT/PROJECT/
// LOGSTORE?protocol=http" ("https" with Options.TLS, whose certificate a
// Writer built from the URL alone does not trust). project and logstore
// are escaped as URL path segments. The URL carries no credentials: give a
// Writer DefaultAccessKeyID and DefaultAccessKeySecret as zapsls finds them
// (for a test, its ALIBABA_CLOUD_* environment variables, t.Setenv).
func (s *Server) URL(project, logstore string) string {
	return "sls://" + s.addr + "/" + url.PathEscape(project) + "/" + url.PathEscape(logstore) + "?protocol=" + s.scheme
}

// Addr returns "127.0.0.1:PORT". It does not change across
// RefuseConnections and AcceptConnections.
func (s *Server) Addr() string { return s.addr }

// Client returns an HTTP client that reaches this server whatever host a
// URL names, and with Options.TLS trusts the server's certificate. It is the
// same client on every call; Close closes its idle connections. Its
// one-minute Timeout keeps a forgotten delay fault from hanging a test.
func (s *Server) Client() *http.Client { return s.client }

// Certificate returns the server's self-signed certificate, or nil without
// Options.TLS.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// SetCredentials replaces the accepted credentials at run time, as when an
// STS token is rotated: requests signed with the old ones are refused from
// now on (401 InvalidAccessKeyId for another key, 401 SignatureNotMatch for
// another secret, 401 Unauthorized for another token). Empty accessKeyID or
// accessKeySecret keep their current value; securityToken is taken as
// given, so "" stops requiring a token.
func (s *Server) SetCredentials(accessKeyID, accessKeySecret, securityToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if accessKeyID != "" {
		s.creds.accessKeyID = accessKeyID
	}
	if accessKeySecret != "" {
		s.creds.accessKeySecret = accessKeySecret
	}
	s.creds.securityToken = securityToken
}

func (s *Server) credentials() credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds
}

// Close stops the server: it closes the listener and every connection,
// wakes delayed handlers, and waits until all handlers and background
// goroutines have returned. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()

		_ = s.srv.Close()
		s.connMu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.connMu.Unlock()
		s.handlers.Wait()
		s.bg.Wait()
		s.client.CloseIdleConnections()
		s.zstd.Close()
	})
}

// enter registers a handler so that Close can wait for it; false once the
// server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	default:
		s.conns[c] = state
	}
}

// Request is one PutLogs request the server accepted (answered 200).
// Header and Group are shared with the server's record: do not modify them.
type Request struct {
	Project, Logstore string
	// Path is the URL path, e.g. "/logstores/ls/shards/lb".
	Path string
	// HashKey is the key query parameter of /shards/route, else "".
	HashKey string
	// Processor is the processor query parameter (an ingest processor),
	// else "".
	Processor string
	// Compression is x-log-compresstype: "lz4", "zstd", "deflate" or "".
	Compression string
	// RawSize is x-log-bodyrawsize; WireSize is the length of the body as
	// sent.
	RawSize, WireSize int
	// SignatureVersion is 1 (Authorization: LOG ...) or 4 (SLS4-HMAC-SHA256).
	SignatureVersion int
	// AccessKeyID is the key the request was signed with.
	AccessKeyID string
	// SecurityToken is x-acs-security-token as received.
	SecurityToken string
	// Header is a copy of the request headers.
	Header http.Header
	// Group is the body, decoded with (*sls.LogGroup).Unmarshal.
	Group *sls.LogGroup
	// PackID is the value of the __pack_id__ LogTag, "" if none.
	PackID string
	// RequestID is the x-log-requestid the server answered with.
	RequestID string
}

// Log is one log of an accepted request, with the group's fields copied in.
// Its maps and slices are shared with the server's record: do not modify
// them.
type Log struct {
	Project, Logstore string
	Topic, Source     string
	// Tags holds the group's LogTags, __pack_id__ included.
	Tags map[string]string
	// Time is Log.Time (seconds) plus Log.TimeNs (nanoseconds), in UTC.
	Time time.Time
	// Contents maps each key to its value; for a key sent more than once,
	// the last value wins (Keys keeps them all).
	Contents map[string]string
	// Keys lists the content keys in wire order, duplicates kept.
	Keys []string
	// PackID is the group's __pack_id__ tag, "" if none.
	PackID string
	// RequestID is the x-log-requestid of the request that carried it.
	RequestID string
	// HashKey and Processor are the request's shard hash key and ingest
	// processor (see Request), "" when it had none.
	HashKey, Processor string
}

// Rejection is a request the server answered with an error, or dropped.
type Rejection struct {
	// Status is the HTTP status answered: 0 for a connection dropped by a
	// CloseConnection fault, and 200 only for a request that failed
	// verification but was answered 200 because of SetResponseBody.
	Status int
	// Code and Message are the SLS error code and message. Code is "" for
	// a dropped connection and for a valid request answered with another
	// status by SetResponseBody.
	Code, Message     string
	RequestID         string
	Project, Logstore string
}

// Attempt is one PutLogs request the server read, whatever its fate, kept
// with Options.RecordAttempts.
type Attempt struct {
	// RequestID is the x-log-requestid the server answered with (also in
	// Request, Log and Rejection).
	RequestID string
	// Status is the HTTP status answered: 0 when the connection was
	// dropped without an answer (a CloseConnection fault, or a delay cut
	// short by the client or by Close).
	Status int
	// Code is the SLS error code answered, "" for a 200 and for an answer
	// without an SLS error body (Fault.Body, SetResponseBody).
	Code string
	// Compression is x-log-compresstype and RawSize x-log-bodyrawsize, as
	// received (RawSize -1 if absent or not a number).
	Compression string
	RawSize     int
	// Body is the request body as sent, still compressed.
	Body []byte
	// PackID is the __pack_id__ LogTag of the body, "" if the body does not
	// decode into a LogGroup or has none.
	PackID string
}

// Attempts returns, in arrival order, every PutLogs request whose body was
// read: accepted, refused, faulted or dropped. It is empty unless
// Options.RecordAttempts is set. A request refused before its body was read
// (routing, a body over the size limit) is not an attempt.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// beginAttempt records a copy of r's body as an attempt still unanswered,
// and returns its index in s.attempts, or -1 when attempts are not
// recorded.
func (s *Server) beginAttempt(id string, r *http.Request, body []byte) int {
	if !s.opts.RecordAttempts {
		return -1
	}
	a := Attempt{RequestID: id, Compression: r.Header.Get("x-log-compresstype"), RawSize: -1, Body: bytes.Clone(body)}
	if n, err := strconv.Atoi(r.Header.Get("x-log-bodyrawsize")); err == nil && n >= 0 && n <= s.opts.MaxRawBytes {
		a.RawSize = n
		if raw, e := s.decompress(a.Compression, body, n, nil); e == nil {
			var g sls.LogGroup
			if g.Unmarshal(raw) == nil {
				a.PackID = packIDOf(&g)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
	return len(s.attempts) - 1
}

// endAttempt records the answer to attempt i (see beginAttempt).
func (s *Server) endAttempt(i, status int, code string) {
	if i < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.attempts) { // Reset may have forgotten it
		s.attempts[i].Status, s.attempts[i].Code = status, code
	}
}

// Requests returns the accepted requests in arrival order (with
// Options.KeepLogs, the kept ones). Each call decodes the kept LogGroup
// bytes again, so every Request has a Group of its own.
func (s *Server) Requests() []Request {
	kept := s.keptRequests()
	out := make([]Request, len(kept))
	for i, k := range kept {
		out[i] = k.request()
	}
	return out
}

// Logs returns every accepted log (with Options.KeepLogs, those of the
// kept requests), flattened, in arrival order. Each call decodes the kept
// LogGroup bytes again: call it once a test has waited for its logs
// (WaitLogs), not in a polling loop.
func (s *Server) Logs() []Log {
	kept := s.keptRequests()
	var out []Log
	for _, k := range kept {
		out = append(out, flatten(k.request())...)
	}
	return out
}

func (s *Server) keptRequests() []keptRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]keptRequest(nil), s.kept...)
}

// keptRequest is an accepted request as the server keeps it: the Request
// without its Group, and the Group's uncompressed protobuf bytes as
// received, several times smaller than the decoded Group and its flattened
// Logs.
type keptRequest struct {
	req Request // Group is nil
	raw []byte  // the LogGroup as received, uncompressed
}

// request returns k's Request with its Group decoded from k.raw.
func (k keptRequest) request() Request {
	req := k.req
	req.Group = &sls.LogGroup{}
	if err := req.Group.Unmarshal(k.raw); err != nil {
		// verify kept k.raw only after decodeGroup accepted it (crossCheck).
		panic("slstest: a kept LogGroup does not decode: " + err.Error())
	}
	return req
}

// LogCount returns the number of accepted logs, kept or not: len(Logs())
// without decoding, unless Options.DiscardLogs or KeepLogs left some out.
func (s *Server) LogCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logCount
}

// Rejections returns the requests answered with an error, in arrival
// order.
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejections...)
}

// WaitLogs blocks until LogCount() >= n, the timeout passes, or the server
// is closed, and reports whether LogCount() >= n.
func (s *Server) WaitLogs(n int, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		count, changed := s.logCount, s.changed
		s.mu.Unlock()
		if count >= n {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return s.LogCount() >= n
		case <-s.closing:
			return s.LogCount() >= n
		}
	}
}

// Reset forgets the stored requests, logs, rejections and attempts. Faults and
// credentials are kept (see ClearFaults).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept, s.rejections, s.attempts, s.keptLogs, s.logCount = nil, nil, nil, 0, 0
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// accepted is what verify returns of a request it accepts.
type accepted struct {
	req  *Request // Group is nil; Header is the live request's
	logs int      // len(LogGroup.Logs)
	raw  []byte   // the LogGroup, in the request's buffers
	keep bool     // s.keeping() when verified: crossCheck ran, store may keep it
}

// keeping reports whether an accepted request would be kept now (see
// Options.DiscardLogs and KeepLogs).
func (s *Server) keeping() bool {
	return !s.opts.DiscardLogs && (s.opts.KeepLogs <= 0 || s.keptSoFar() < s.opts.KeepLogs)
}

// store records an accepted request before its 200 is written, so a client
// that has seen the 200 also sees the logs. It keeps copies of the
// LogGroup's bytes and of the headers (keptRequest), and only a sample
// with Options.KeepLogs.
func (s *Server) store(a *accepted) {
	var k keptRequest
	if a.keep {
		k.req, k.raw = *a.req, bytes.Clone(a.raw)
		k.req.Header = a.req.Header.Clone()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.keep && (s.opts.KeepLogs <= 0 || s.keptLogs < s.opts.KeepLogs) {
		s.kept = append(s.kept, k)
		s.keptLogs += a.logs
	}
	s.logCount += a.logs
	s.notifyLocked()
}

func (s *Server) keptSoFar() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keptLogs
}

func flatten(req Request) []Log {
	g := req.Group
	tags := make(map[string]string, len(g.LogTags))
	for _, t := range g.LogTags {
		tags[t.GetKey()] = t.GetValue()
	}
	logs := make([]Log, 0, len(g.Logs))
	for _, l := range g.Logs {
		out := Log{
			Project:   req.Project,
			Logstore:  req.Logstore,
			Topic:     g.GetTopic(),
			Source:    g.GetSource(),
			Tags:      tags,
			Time:      time.Unix(int64(l.GetTime()), int64(l.GetTimeNs())).UTC(),
			Contents:  make(map[string]string, len(l.Contents)),
			Keys:      make([]string, 0, len(l.Contents)),
			PackID:    req.PackID,
			RequestID: req.RequestID,
			HashKey:   req.HashKey,
			Processor: req.Processor,
		}
		for _, c := range l.Contents {
			out.Contents[c.GetKey()] = c.GetValue()
			out.Keys = append(out.Keys, c.GetKey())
		}
		logs = append(logs, out)
	}
	return logs
}

func (s *Server) reject(r Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejections = append(s.rejections, r)
}

// newRequestID returns 24 upper-case hex digits, like SLS request IDs:
// the server's start second and a sequence number, so IDs are unique.
func (s *Server) newRequestID() string {
	return fmt.Sprintf("%08X%016X", s.idStamp, s.reqSeq.Add(1))
}

// apiError is an answer in SLS's error format.
type apiError struct {
	status        int
	code, message string
	body          []byte // answered instead of the SLS error body, if non-nil
	encoding      string // Content-Encoding of the body: "", "gzip" or "deflate"
	location      string // a Location header, for a redirect
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// ServeHTTP serves PutLogs; NewServer already serves it on Addr. When a
// delay is cut short by the client going away or by Close, it panics with
// http.ErrAbortHandler, so that net/http drops the connection instead of
// completing an empty 200 that would look like success.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		panic(http.ErrAbortHandler)
	}
	defer s.handlers.Done()
	id := s.newRequestID()
	if s.serveIndex(w, r, id) {
		return
	}

	rt, rerr := route(r)
	if rerr != nil {
		s.answer(w, id, rt, nil, rerr, -1)
		return
	}

	// Read the body first: net/http notices a client hanging up only once
	// the body has been consumed, and delays must end when the client does.
	var bufs requestBuffers
	defer bufs.release()
	body, berr := s.readBody(w, r, &bufs)
	att := -1
	if berr == nil {
		att = s.beginAttempt(id, r, body)
	}

	if !s.sleep(r.Context(), s.delay()) {
		panic(http.ErrAbortHandler)
	}
	if f, ok := s.nextFault(); ok {
		if !s.sleep(r.Context(), f.Delay) {
			panic(http.ErrAbortHandler)
		}
		switch {
		case f.CloseConnection:
			s.endAttempt(att, 0, "")
			s.drop(w, id, rt)
			return
		case !f.Accept && f.Status != http.StatusOK:
			s.answer(w, id, rt, nil, f.apiError(), att)
			return
		}
	}
	if berr != nil {
		s.answer(w, id, rt, nil, berr, att)
		return
	}
	acc, verr := s.verify(r, rt, body, &bufs)
	if verr != nil {
		s.answer(w, id, rt, nil, verr, att)
		return
	}
	acc.req.RequestID = id
	s.answer(w, id, rt, acc, nil, att)
}

// answer writes the response, recording the request first as accepted
// (acc != nil and the status is 200) or as rejected, and ending attempt att
// (see beginAttempt) with what it answers.
func (s *Server) answer(w http.ResponseWriter, id string, rt routeInfo, acc *accepted, e *apiError, att int) {
	status, body := http.StatusOK, []byte(nil)
	slsBody := false // body is an SLS error
	if e != nil {
		status = e.status
		if e.body != nil {
			body = e.body
		} else {
			body, _ = json.Marshal(struct {
				ErrorCode    string `json:"errorCode"`
				ErrorMessage string `json:"errorMessage"`
			}{e.code, e.message})
			slsBody = true
		}
	}
	if o := s.override(); o != nil {
		if o.status != 0 {
			status = o.status
		}
		body, slsBody = o.body, false
		if e == nil && status != http.StatusOK {
			e = &apiError{message: "valid request answered with the SetResponseBody status"}
		}
	}
	code := ""
	if e == nil && status == http.StatusOK {
		s.store(acc)
	} else {
		if slsBody {
			code = e.code
		}
		s.reject(Rejection{Status: status, Code: e.code, Message: e.message, RequestID: id, Project: rt.project, Logstore: rt.logstore})
	}
	s.endAttempt(att, status, code)

	if e != nil && e.location != "" {
		w.Header().Set("Location", e.location)
	}
	if e != nil && e.encoding != "" && len(body) > 0 {
		body = encodeBody(e.encoding, body)
		w.Header().Set("Content-Encoding", e.encoding)
	}
	s.writeAnswer(w, id, status, body)
}

// encodeBody compresses an answer's body for a ContentEncoding fault.
func encodeBody(encoding string, body []byte) []byte {
	var buf bytes.Buffer
	var zw io.WriteCloser
	switch encoding {
	case "gzip":
		zw = gzip.NewWriter(&buf)
	case "deflate":
		zw = zlib.NewWriter(&buf)
	default:
		panic("slstest: Fault.ContentEncoding " + encoding + ": want gzip or deflate")
	}
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes()
}

// writeAnswer writes an answer as SLS does: the request id always, a JSON
// error body when there is one.
func (s *Server) writeAnswer(w http.ResponseWriter, id string, status int, body []byte) {
	h := w.Header()
	h.Set("x-log-requestid", id)
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	if s.refusing() {
		h.Set("Connection", "close")
	}
	if len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that went away is not our concern
}

// drop closes the connection without answering.
func (s *Server) drop(w http.ResponseWriter, id string, rt routeInfo) {
	s.reject(Rejection{Message: "connection closed without an answer (CloseConnection fault)", RequestID: id, Project: rt.project, Logstore: rt.logstore})
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// sleep waits d, and reports false if the client or the server went away
// first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}
