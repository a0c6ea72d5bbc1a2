package slstest

import (
	"math/rand"
	"net"
	"net/http"
	"time"
)

// Fault describes how to answer a PutLogs request instead of processing it.
// Faults apply to requests that reach a PutLogs route (POST
// /logstores/...), after the body has been read and before any
// verification, so a faulted request is answered whatever it carries.
type Fault struct {
	// Status is the HTTP status to answer; 0 means 500. 200 is the same as
	// Accept: the request is processed normally after Delay.
	Status int
	// Code and Message fill the SLS error body
	// {"errorCode":...,"errorMessage":...}. An empty Code is derived from
	// Status: 401 Unauthorized, 403 WriteQuotaExceed, 429
	// ShardWriteQuotaExceed, 500 InternalServerError, 502/503/504
	// ServerBusy, anything else InjectedFault.
	Code, Message string
	// Delay is waited before the fault is applied. The wait ends early, with
	// no answer, when the client goes away or the server is closed.
	Delay time.Duration
	// CloseConnection closes the TCP connection without answering: the
	// request was received in full but the client never learns its fate.
	// It is recorded as a Rejection with Status 0.
	CloseConnection bool
	// Accept makes the fault a pure delay: wait Delay, then process the
	// request normally.
	Accept bool
	// Body, if non-nil, is answered instead of the SLS error body, with
	// Status, as a proxy or load balancer in front of SLS answers (an HTML
	// 502 page, an empty 503). The Rejection still records Code and
	// Message, derived as above; the client sees only Status and Body.
	Body []byte
	// Location, if set, is sent as the answer's Location header: with a
	// Status of 301, 302, 303, 307 or 308, a redirect, as a proxy or a
	// wrong endpoint may answer.
	Location string
	// ContentEncoding, "gzip" or "deflate" (zlib), sends the error body
	// compressed, with that Content-Encoding, whatever the request's
	// Accept-Encoding: as the service or a proxy in front of it may.
	ContentEncoding string
}

func (f Fault) apiError() *apiError {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	code := f.Code
	if code == "" {
		switch status {
		case http.StatusUnauthorized:
			code = "Unauthorized"
		case http.StatusForbidden:
			code = "WriteQuotaExceed"
		case http.StatusTooManyRequests:
			code = "ShardWriteQuotaExceed"
		case http.StatusInternalServerError:
			code = "InternalServerError"
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			code = "ServerBusy"
		default:
			code = "InjectedFault"
		}
	}
	msg := f.Message
	if msg == "" {
		msg = "fault injected by slstest"
	}
	return &apiError{status: status, code: code, message: msg, body: f.Body, encoding: f.ContentEncoding, location: f.Location}
}

// faultState is guarded by Server.mu. A request takes, in order of
// precedence: the head of the FailNext queue, the FailFor fault while it
// lasts, or the FailRate fault with its probability.
type faultState struct {
	queue     []Fault
	forFault  Fault
	forUntil  time.Time
	rate      float64
	rateFault Fault
	rng       *rand.Rand
	delay     time.Duration
}

// responseOverride is set by SetResponseBody.
type responseOverride struct {
	status int
	body   []byte
}

func (s *Server) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.faults
	if len(fs.queue) > 0 {
		f := fs.queue[0]
		fs.queue = fs.queue[1:]
		return f, true
	}
	if time.Now().Before(fs.forUntil) {
		return fs.forFault, true
	}
	if fs.rate > 0 && fs.rng.Float64() < fs.rate {
		return fs.rateFault, true
	}
	return Fault{}, false
}

func (s *Server) delay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.delay
}

func (s *Server) override() *responseOverride {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.respOverride
}

// FailNext makes the next n PutLogs requests get f, after any faults queued
// by earlier FailNext calls. n <= 0 empties the queue.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		s.faults.queue = nil
		return
	}
	for range n {
		s.faults.queue = append(s.faults.queue, f)
	}
}

// FailRate makes each PutLogs request get f with probability p, drawn from
// a generator seeded with seed, so a run with the same requests in the same
// order fails the same ones. p <= 0 turns it off.
func (s *Server) FailRate(p float64, f Fault, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p <= 0 {
		s.faults.rate, s.faults.rng = 0, nil
		return
	}
	s.faults.rate = p
	s.faults.rateFault = f
	s.faults.rng = rand.New(rand.NewSource(seed))
}

// FailFor makes every PutLogs request arriving during the next d get f.
// d <= 0 turns it off.
func (s *Server) FailFor(d time.Duration, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.forFault = f
	s.faults.forUntil = time.Now().Add(d)
}

// SetClockOffset makes the server's clock run d ahead of this machine's
// (behind, for a negative d), as a client whose clock is off sees SLS: the
// Date header of every answer, the MaxSkew check of request times and the
// MaxLogAge and MaxLogFuture checks of log times use it. Zero restores.
func (s *Server) SetClockOffset(d time.Duration) { s.clockOffset.Store(int64(d)) }

// now is the server's clock.
func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.clockOffset.Load())) }

// SetDelay delays every PutLogs request by d before it is processed (or
// before its fault is applied); 0 turns the delay off.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.delay = d
}

// SetResponseBody makes every following PutLogs answer carry body verbatim
// (Content-Type application/json, whatever the bytes), with status if it is
// not 0, else the status the request would have got. Verification and
// faults still run; a request is stored only if it passed and is answered
// 200. It is meant for clients' handling of odd answers: a huge body, a 200
// with content, an error that is not JSON. SetResponseBody(0, nil) turns it
// off.
func (s *Server) SetResponseBody(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 && body == nil {
		s.respOverride = nil
		return
	}
	s.respOverride = &responseOverride{status: status, body: append([]byte{}, body...)}
}

// ClearFaults turns off every fault, the delay and the response override;
// it does not re-accept refused connections.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{}
	s.respOverride = nil
}

// RefuseConnections closes the listener, so new connections are refused
// (ECONNREFUSED), and closes idle keep-alive connections so clients must
// reconnect; requests in flight finish and their connections close after
// the answer. The port is kept for AcceptConnections. It cancels a pending
// RefuseFor. Client drops its idle connections at once; another client may
// still try an idle connection it has not yet seen closed and get a reset
// or EOF, as against a real server going away.
func (s *Server) RefuseConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopRefuseTimerLocked()
	if s.closed || s.ln == nil {
		return
	}
	_ = s.ln.Close()
	s.ln = nil
	s.srv.SetKeepAlivesEnabled(false)
	s.connMu.Lock()
	for c, st := range s.conns {
		if st == http.StateIdle || st == http.StateNew {
			_ = c.Close()
		}
	}
	s.connMu.Unlock()
	// Our own client would otherwise race the closing above and reuse a
	// connection whose FIN it has not processed yet.
	s.client.CloseIdleConnections()
}

// AcceptConnections listens again on the same port after
// RefuseConnections, and cancels a pending RefuseFor. It panics if the port
// has been taken by someone else meanwhile.
func (s *Server) AcceptConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopRefuseTimerLocked()
	s.acceptLocked()
}

func (s *Server) acceptLocked() {
	if s.closed || s.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		panic("slstest: listen again on " + s.addr + ": " + err.Error())
	}
	s.srv.SetKeepAlivesEnabled(true)
	s.serveLocked(ln)
}

// RefuseFor refuses connections for d, then accepts them again by itself.
// The timer belongs to the server: Close, RefuseConnections and
// AcceptConnections stop it.
func (s *Server) RefuseFor(d time.Duration) {
	s.RefuseConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	stop := make(chan struct{})
	s.refuseStop = stop
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
			return
		case <-s.closing:
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.refuseStop == stop { // not superseded meanwhile
			s.refuseStop = nil
			s.acceptLocked()
		}
	}()
}

func (s *Server) stopRefuseTimerLocked() {
	if s.refuseStop != nil {
		close(s.refuseStop)
		s.refuseStop = nil
	}
}

func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln == nil
}
