package slstest

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// indexState is the index endpoints' state, guarded by its own mutex.
type indexState struct {
	mu      sync.Mutex
	stored  map[indexID]storedIndex
	faults  []Fault
	calls   []IndexCall
	touched time.Time // last modification, to keep lastModifyTime increasing
}

type indexID struct{ project, logstore string }

type storedIndex struct {
	fields   map[string]json.RawMessage // the index's JSON object
	modified int64                      // lastModifyTime, Unix seconds
}

// IndexCall is one request to an index endpoint, as answered.
//
// Besides PutLogs, a Server serves each logstore's index configuration,
// as the SDK's GetIndex, CreateIndex, UpdateIndex and DeleteIndex (and
// their ...String forms) call it:
//
//	GET    /logstores/{ls}/index   200 the index as JSON, with lastModifyTime;
//	                               404 IndexConfigNotExist
//	POST   /logstores/{ls}/index   200; 400 IndexAlreadyExist
//	PUT    /logstores/{ls}/index   200 (replaces it); 404 IndexConfigNotExist
//	DELETE /logstores/{ls}/index   200; 404 IndexConfigNotExist
//	other methods                  405 MethodNotAllowed
//
// They are verified as PutLogs is, in the same order: Host and
// Options.Projects / Options.Logstores (400 InvalidHost, 404
// ProjectNotExist, 404 LogStoreNotExist), x-log-apiversion, Content-Type
// application/json with a body (400 MissingContentType, 415
// InvalidContentType), x-log-bodyrawsize when present (400
// InvalidBodyRawSize: index bodies are never compressed), Content-MD5, and
// the signature, clock and security token with the same code as PutLogs.
// A POST or PUT body must be a JSON object that decodes into sls.Index,
// with a line (full-text) or keys; the line and every text or json key need
// a token list, and every key a name of 1 to 128 bytes and a type among
// text, long, double and json (400 IndexInfoInvalid otherwise, the code SLS
// documents for CreateIndex). Fields sls.Index does not model are kept and
// served back as received, except lastModifyTime, which the server sets.
//
// IndexConfigNotExist and IndexAlreadyExist are the codes SLS answers (the
// SDK's CheckIndexExist tests the former; the 404 that goes with it is
// unconfirmed); 404 for a PUT or DELETE without an index is this package's
// choice. PutLogs faults (FailNext, FailFor, FailRate, SetDelay,
// SetResponseBody) do not touch index requests; FailIndexNext does. SLS
// answers an action that RAM denies with the code Unauthorized and a
// message such as "denied by sts or ram, action: log:GetIndex, resource:
// ...": FailIndexNext(1, Fault{Status: 403, Code: "Unauthorized",
// Message: ...}) plays it. Rejected index requests are recorded in
// Rejections like any other; Reset does not forget stored indexes.
type IndexCall struct {
	// Method is GET, POST, PUT, DELETE, or whatever else was sent.
	Method            string
	Project, Logstore string
	// Status is the HTTP status answered, and Code the SLS error code (""
	// for 200).
	Status int
	Code   string
	// Body is the request body of a POST or PUT.
	Body []byte
	// RequestID is the x-log-requestid answered.
	RequestID string
}

// Index returns the index configuration stored for project and logstore,
// decoded into the SDK's type, and whether there is one.
func (s *Server) Index(project, logstore string) (*sls.Index, bool) {
	raw, ok := s.IndexJSON(project, logstore)
	if !ok {
		return nil, false
	}
	idx := &sls.Index{}
	if err := json.Unmarshal(raw, idx); err != nil {
		panic("slstest: stored index does not decode: " + err.Error()) // validated when stored
	}
	return idx, true
}

// IndexJSON returns the index configuration stored for project and
// logstore as a JSON object, fields sls.Index does not model included,
// lastModifyTime excluded, and whether there is one.
func (s *Server) IndexJSON(project, logstore string) ([]byte, bool) {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	st, ok := s.idx.stored[indexID{project, logstore}]
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(st.fields)
	if err != nil {
		panic("slstest: stored index does not encode: " + err.Error())
	}
	return raw, true
}

// SetIndex stores idx as the index of project and logstore, as if a client
// had created it, replacing any other. It panics if idx is not an index a
// CreateIndex request could carry (see the package documentation).
func (s *Server) SetIndex(project, logstore string, idx sls.Index) {
	raw, err := json.Marshal(idx)
	if err != nil {
		panic("slstest: SetIndex: " + err.Error())
	}
	if err := s.SetIndexJSON(project, logstore, raw); err != nil {
		panic("slstest: SetIndex: " + err.Error())
	}
}

// SetIndexJSON stores the JSON object index as the index of project and
// logstore, replacing any other; index nil removes it. Unlike SetIndex, it
// keeps fields sls.Index does not model. It returns the IndexInfoInvalid
// error a CreateIndex request with that body would get.
func (s *Server) SetIndexJSON(project, logstore string, index []byte) error {
	id := indexID{project, logstore}
	if index == nil {
		s.idx.mu.Lock()
		delete(s.idx.stored, id)
		s.idx.mu.Unlock()
		return nil
	}
	fields, e := checkIndex(index)
	if e != nil {
		return fmt.Errorf("%d %s: %s", e.status, e.code, e.message)
	}
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	s.storeIndexLocked(id, fields)
	return nil
}

// IndexCalls returns the requests to index endpoints, in arrival order.
func (s *Server) IndexCalls() []IndexCall {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	return append([]IndexCall(nil), s.idx.calls...)
}

// FailIndexNext makes the next n index requests get f (after the faults
// queued by earlier calls), applied after the body is read and before any
// verification. A Fault with Accept, or Status 200, lets the request
// through after f.Delay. n <= 0 empties the queue.
func (s *Server) FailIndexNext(n int, f Fault) {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	if n <= 0 {
		s.idx.faults = nil
		return
	}
	for range n {
		s.idx.faults = append(s.idx.faults, f)
	}
}

func (s *Server) nextIndexFault() (Fault, bool) {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	if len(s.idx.faults) == 0 {
		return Fault{}, false
	}
	f := s.idx.faults[0]
	s.idx.faults = s.idx.faults[1:]
	return f, true
}

func (s *Server) storeIndexLocked(id indexID, fields map[string]json.RawMessage) {
	if s.idx.stored == nil {
		s.idx.stored = map[indexID]storedIndex{}
	}
	now := time.Now()
	if !now.After(s.idx.touched) {
		now = s.idx.touched.Add(time.Second)
	}
	s.idx.touched = now
	s.idx.stored[id] = storedIndex{fields: fields, modified: now.Unix()}
}

// indexRoute reports whether path is /logstores/{ls}/index, and the
// logstore.
func indexRoute(path string) (string, bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) == 3 && parts[0] == "logstores" && parts[1] != "" && parts[2] == "index" {
		return parts[1], true
	}
	return "", false
}

// serveIndex serves r if it is for an index endpoint, and reports whether
// it was.
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request, id string) bool {
	logstore, ok := indexRoute(r.URL.Path)
	if !ok {
		return false
	}
	rt := routeInfo{project: projectOf(r.Host), logstore: logstore, path: r.URL.Path}
	call := IndexCall{Method: r.Method, Project: rt.project, Logstore: rt.logstore, RequestID: id}

	// Its buffers are never released: the recorded call keeps the body.
	body, berr := s.readBody(w, r, &requestBuffers{})
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		call.Body = body
	}
	if f, ok := s.nextIndexFault(); ok {
		if !s.sleep(r.Context(), f.Delay) {
			panic(http.ErrAbortHandler)
		}
		switch {
		case f.CloseConnection:
			s.recordIndexCall(call, 0, "")
			s.drop(w, id, rt)
			return true
		case !f.Accept && f.Status != http.StatusOK:
			s.indexAnswer(w, rt, call, nil, f.apiError())
			return true
		}
	}
	if berr != nil {
		s.indexAnswer(w, rt, call, nil, berr)
		return true
	}
	out, e := s.handleIndex(r, rt, body)
	s.indexAnswer(w, rt, call, out, e)
	return true
}

// handleIndex verifies an index request and carries it out.
func (s *Server) handleIndex(r *http.Request, rt routeInfo, body []byte) ([]byte, *apiError) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return nil, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "method %s is not allowed on %s; the index is GET, POST, PUT or DELETE", r.Method, r.URL.Path)
	}
	if e := s.verifyIndexRequest(r, rt, body); e != nil {
		return nil, e
	}
	id := indexID{rt.project, rt.logstore}
	var fields map[string]json.RawMessage
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		var e *apiError
		if fields, e = checkIndex(body); e != nil {
			return nil, e
		}
	}

	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	st, exists := s.idx.stored[id]
	notExist := errorf(http.StatusNotFound, "IndexConfigNotExist", "index config doesn't exist")
	switch r.Method {
	case http.MethodGet:
		if !exists {
			return nil, notExist
		}
		out := make(map[string]json.RawMessage, len(st.fields)+1)
		for k, v := range st.fields {
			out[k] = v
		}
		out["lastModifyTime"] = json.RawMessage(strconv.FormatInt(st.modified, 10))
		raw, err := json.Marshal(out)
		if err != nil {
			return nil, errorf(http.StatusInternalServerError, "InternalServerError", "encoding the index: %v", err)
		}
		return raw, nil
	case http.MethodPost:
		if exists {
			return nil, errorf(http.StatusBadRequest, "IndexAlreadyExist", "Logstore index is already created.")
		}
		s.storeIndexLocked(id, fields)
	case http.MethodPut:
		if !exists {
			return nil, notExist
		}
		s.storeIndexLocked(id, fields)
	case http.MethodDelete:
		if !exists {
			return nil, notExist
		}
		delete(s.idx.stored, id)
	}
	return nil, nil
}

// verifyIndexRequest checks what PutLogs' verify checks, for a JSON body.
func (s *Server) verifyIndexRequest(r *http.Request, rt routeInfo, body []byte) *apiError {
	h := r.Header
	if e := s.checkEnvelope(r, rt, body, "application/json"); e != nil {
		return e
	}
	if v := h.Get("x-log-bodyrawsize"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n != len(body) {
			return errorf(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize is %q but the uncompressed body is %d bytes", v, len(body))
		}
	}
	if md := h.Get("Content-MD5"); md != "" {
		if want := fmt.Sprintf("%X", md5.Sum(body)); md != want {
			return errorf(http.StatusBadRequest, "InvalidContentMD5", "Content-MD5 %s does not match the body (MD5 %s, upper-case hex)", md, want)
		}
	}
	return s.authenticate(r, body, &Request{})
}

// checkIndex validates a CreateIndex or UpdateIndex body and returns its
// fields, lastModifyTime dropped.
func checkIndex(body []byte) (map[string]json.RawMessage, *apiError) {
	invalid := func(format string, args ...any) (map[string]json.RawMessage, *apiError) {
		return nil, errorf(http.StatusBadRequest, "IndexInfoInvalid", format, args...)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return invalid("the index is not a JSON object: %s", short(body))
	}
	var idx sls.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		return invalid("the index does not decode: %v", err)
	}
	if idx.Line == nil && len(idx.Keys) == 0 {
		return invalid("the index has neither line (full-text) nor keys")
	}
	if idx.Line != nil && len(idx.Line.Token) == 0 {
		return invalid("line: Required field token is lacking or of error format.")
	}
	for name, k := range idx.Keys {
		switch {
		case name == "" || len(name) > maxKeyBytes || !utf8.ValidString(name):
			return invalid("key %q: want a UTF-8 name of 1 to %d bytes", name, maxKeyBytes)
		case k.Type != "text" && k.Type != "long" && k.Type != "double" && k.Type != "json":
			return invalid("key %s: type %q: want text, long, double or json", name, k.Type)
		case (k.Type == "text" || k.Type == "json") && len(k.Token) == 0:
			return invalid("key %s: Required field token is lacking or of error format.", name)
		}
	}
	delete(fields, "lastModifyTime")
	for k, v := range fields {
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return invalid("field %s: %v", k, err)
		}
		fields[k] = compact.Bytes()
	}
	return fields, nil
}

func short(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return strconv.Quote(string(b[:limit])) + "..."
	}
	return strconv.Quote(string(b))
}

func (s *Server) recordIndexCall(call IndexCall, status int, code string) {
	call.Status, call.Code = status, code
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	s.idx.calls = append(s.idx.calls, call)
}

// indexAnswer writes the answer to an index request and records it.
func (s *Server) indexAnswer(w http.ResponseWriter, rt routeInfo, call IndexCall, body []byte, e *apiError) {
	status := http.StatusOK
	if e != nil {
		status = e.status
		body, _ = json.Marshal(struct {
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
		}{e.code, e.message})
		s.reject(Rejection{Status: status, Code: e.code, Message: e.message, RequestID: call.RequestID, Project: rt.project, Logstore: rt.logstore})
		s.recordIndexCall(call, status, e.code)
	} else {
		s.recordIndexCall(call, status, "")
	}
	s.writeAnswer(w, call.RequestID, status, body)
}
