package slstest

import (
	"encoding/binary"
	"math"
	"net/http"
	"time"
	"unicode/utf8"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// A request's LogGroup is verified by walking its protobuf bytes once,
// without allocating: decoding it with the SDK allocates a Log, a
// LogContent and two strings per content, and collecting that garbage made
// the server cost more CPU per entry than the client it serves in the
// README's benchmarks. walkGroup refuses exactly what decodeGroup (the
// SDK's Unmarshal, then checkGroup) refuses, with the same status and code,
// and with the same message for every check after decoding; the
// differential fuzz test FuzzWalkGroup holds it to that, and a Server that
// keeps logs runs decodeGroup as well on every request it may keep
// (crossCheck), so the SDK stays the oracle of what tests read back.

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// groupSummary is what walkGroup reports of a LogGroup it accepts.
type groupSummary struct {
	logs   int    // len(LogGroup.Logs)
	packID []byte // value of the last __pack_id__ LogTag, nil if none; in raw
}

// walkGroup verifies raw, a LogGroup in protobuf, as decodeGroup does, and
// counts its logs. now is the server time the logs' Time is checked
// against. It allocates only to report a refusal.
func (s *Server) walkGroup(raw []byte, now time.Time) (groupSummary, *apiError) {
	times := s.logTimes(now)
	var (
		logs                  int
		topic, source, packID []byte
		tagErr, logErr        *apiError // the first refusal among tags, among logs
	)
	for i := 0; i < len(raw); {
		field, wt, next, ok := readKey(raw, i)
		if !ok {
			return groupSummary{}, invalidGroup("a malformed field key at byte %d", i)
		}
		if field > 6 {
			next, ok = skipField(raw, i)
			if !ok {
				return groupSummary{}, invalidGroup("the unknown field %d at byte %d does not parse", field, i)
			}
			i = next
			continue
		}
		// Fields 1 to 6 (Logs, Category, Topic, Source, MachineUUID,
		// LogTags) are all length-delimited.
		if wt != wireBytes {
			return groupSummary{}, invalidGroup("field %d at byte %d has wire type %d, not %d", field, i, wt, wireBytes)
		}
		v, next, ok := readBytes(raw, next)
		if !ok {
			return groupSummary{}, invalidGroup("field %d at byte %d has a malformed length or runs past the end", field, i)
		}
		switch field {
		case 1:
			e, bad := s.walkLog(v, logs, times, tagErr == nil && logErr == nil)
			if bad != "" {
				return groupSummary{}, invalidGroup("log %d at byte %d: %s", logs, i, bad)
			}
			if logErr == nil {
				logErr = e
			}
			logs++
		case 3:
			topic = v
		case 4:
			source = v
		case 6:
			k, tv, bad := readPair(v)
			if bad != "" {
				return groupSummary{}, invalidGroup("the tag at byte %d: %s", i, bad)
			}
			if tagErr == nil && !tagOK(k, tv) {
				tagErr = checkTag(string(k), string(tv))
			}
			if string(k) == packIDTag {
				packID = tv
			}
		}
		i = next
	}
	// What follows is checkGroup's order.
	if logs > s.opts.MaxLogs {
		return groupSummary{}, tooManyLogs(logs, s.opts.MaxLogs)
	}
	if !metaOK(topic, maxTopicBytes) {
		if e := checkMeta("topic", string(topic), maxTopicBytes); e != nil {
			return groupSummary{}, e
		}
	}
	if !metaOK(source, maxSourceBytes) {
		if e := checkMeta("source", string(source), maxSourceBytes); e != nil {
			return groupSummary{}, e
		}
	}
	if tagErr != nil {
		return groupSummary{}, tagErr
	}
	if logErr != nil {
		return groupSummary{}, logErr
	}
	return groupSummary{logs: logs, packID: packID}, nil
}

// walkLog walks b, the Log at index i of its group. bad says why the SDK's
// Unmarshal refuses it ("" if it does not); otherwise, when check is set,
// refusal is checkGroup's refusal of this log: its Time first, then its
// contents in order.
func (s *Server) walkLog(b []byte, i int, times logTimes, check bool) (refusal *apiError, bad string) {
	var (
		sec, ns    uint32
		hasTime    bool
		contentErr *apiError
	)
	for p := 0; p < len(b); {
		field, wt, next, ok := readKey(b, p)
		if !ok {
			return nil, "a malformed field key"
		}
		switch field {
		case 1:
			if wt != wireVarint {
				return nil, "Time is not a varint"
			}
			v, n, ok := readVarint(b, next)
			if !ok {
				return nil, "Time is a malformed varint"
			}
			// The SDK keeps the low 32 bits, as a uint32 field does.
			sec, hasTime, p = uint32(v), true, n
		case 2:
			if wt != wireBytes {
				return nil, "Contents is not length-delimited"
			}
			c, n, ok := readBytes(b, next)
			if !ok {
				return nil, "a content has a malformed length or runs past the end"
			}
			k, v, bad := readPair(c)
			if bad != "" {
				return nil, "a content: " + bad
			}
			if check && contentErr == nil && !contentOK(k, v) {
				contentErr = checkContent(i, string(k), string(v))
			}
			p = n
		case 4:
			if wt != wireFixed32 {
				return nil, "TimeNs is not a fixed32"
			}
			if len(b)-next < 4 {
				return nil, "TimeNs runs past the end"
			}
			ns, p = binary.LittleEndian.Uint32(b[next:]), next+4
		default:
			n, ok := skipField(b, p)
			if !ok {
				return nil, "an unknown field does not parse"
			}
			p = n
		}
	}
	if !hasTime {
		return nil, "the required Time is missing"
	}
	if !check {
		return nil, ""
	}
	if !times.ok(sec, ns) {
		if e := s.checkTime(i, sec, ns, times.now); e != nil {
			return e, ""
		}
	}
	return contentErr, ""
}

// logTimes is checkTime's window for one request's server time now, in
// Unix nanoseconds, so that ok checks a log's time with two comparisons
// instead of building a time.Time and subtracting twice.
type logTimes struct {
	now    time.Time
	lo, hi int64 // the times accepted, inclusive
}

func (s *Server) logTimes(now time.Time) logTimes {
	// UnixNano is exact until 2262. Between 1971 and 2200 (unless
	// SetClockOffset moved the clock further) now less a log's time
	// (1970 to 2106) is far from time.Duration's limits, so now.Sub(t) >
	// MaxLogAge is exactly t < lo, and t.Sub(now) > MaxLogFuture t > hi.
	if y := now.Year(); y < 1971 || y > 2200 {
		return logTimes{now: now, lo: 1, hi: 0} // empty: checkTime decides
	}
	n := now.UnixNano()
	lt := logTimes{now: now, lo: math.MinInt64, hi: math.MaxInt64}
	if a := s.opts.MaxLogAge; a > 0 {
		lt.lo = n - int64(a) // n > 0, so no overflow
	}
	if f := s.opts.MaxLogFuture; f > 0 && int64(f) <= math.MaxInt64-n {
		lt.hi = n + int64(f)
	}
	return lt
}

// ok reports whether checkTime accepts a log of Time sec and TimeNs ns.
func (lt logTimes) ok(sec, ns uint32) bool {
	if ns >= 1e9 {
		return false
	}
	t := int64(sec)*1e9 + int64(ns)
	return lt.lo <= t && t <= lt.hi
}

// readPair walks a LogContent or a LogTag (the SDK generates the same
// Unmarshal for both): a required Key (field 1) and Value (field 2), both
// length-delimited, the last one of each winning. bad says why the SDK
// refuses it, "" if it does not.
func readPair(b []byte) (key, value []byte, bad string) {
	// The layout encoders write: Key (1-byte length), then Value, once
	// each, and nothing else.
	if len(b) >= 2 && b[0] == 1<<3|wireBytes && b[1] < 0x80 {
		k := 2 + int(b[1])
		if k < len(b) && b[k] == 2<<3|wireBytes {
			if n, p, ok := readVarint(b, k+1); ok && n == uint64(len(b)-p) {
				return b[2:k], b[p:], ""
			}
		}
	}
	var hasKey, hasValue bool
	for p := 0; p < len(b); {
		field, wt, next, ok := readKey(b, p)
		if !ok {
			return nil, nil, "a malformed field key"
		}
		if field != 1 && field != 2 {
			n, ok := skipField(b, p)
			if !ok {
				return nil, nil, "an unknown field does not parse"
			}
			p = n
			continue
		}
		if wt != wireBytes {
			return nil, nil, "Key or Value is not length-delimited"
		}
		v, n, ok := readBytes(b, next)
		if !ok {
			return nil, nil, "Key or Value has a malformed length or runs past the end"
		}
		if field == 1 {
			key, hasKey = v, true
		} else {
			value, hasValue = v, true
		}
		p = n
	}
	if !hasKey || !hasValue {
		return nil, nil, "the required Key or Value is missing"
	}
	return key, value, ""
}

// readVarint reads a base-128 varint at b[i:] as the SDK's generated code
// (gogo/protobuf) does: at most 10 bytes, bits past the 64th dropped. ok is
// false if b ends first or a 10th byte has its continuation bit set.
func readVarint(b []byte, i int) (v uint64, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1, true
	}
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, true
		}
	}
	return 0, i, false
}

// readKey reads a field's key at b[i:]. ok is false where the SDK's
// Unmarshal refuses the key: a malformed varint, an end-group wire type, or
// a field number of zero or less once truncated to an int32 as the SDK
// truncates it.
func readKey(b []byte, i int) (field int32, wt int, next int, ok bool) {
	v, next, ok := readVarint(b, i)
	if !ok {
		return 0, 0, next, false
	}
	field, wt = int32(v>>3), int(v&7)
	return field, wt, next, wt != wireEndGroup && field > 0
}

// readBytes reads a length-delimited value at b[i:], the length being a
// varint that must fit in what is left of b.
func readBytes(b []byte, i int) (v []byte, next int, ok bool) {
	n, i, ok := readVarint(b, i)
	if !ok || n > uint64(len(b)-i) {
		return nil, i, false
	}
	return b[i : i+int(n)], i + int(n), true
}

// skipField skips the field whose key is at b[i:], as the SDK's skipLog
// (log.pb.go) skips a field its message does not know: every wire type but
// 6 and 7, a group up to the end-group key that brings the depth back to
// zero (whatever its field numbers), and nothing that runs past the end.
func skipField(b []byte, i int) (next int, ok bool) {
	depth := 0
	for i < len(b) {
		key, n, ok := readVarint(b, i)
		if !ok {
			return 0, false
		}
		i = n
		switch key & 7 {
		case wireVarint:
			if _, i, ok = readVarint(b, i); !ok {
				return 0, false
			}
		case wireFixed64:
			i += 8
		case wireBytes:
			length, n, ok := readVarint(b, i)
			if !ok || int(length) < 0 {
				return 0, false
			}
			i = n + int(length)
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return 0, false
			}
			depth--
		case wireFixed32:
			i += 4
		default:
			return 0, false
		}
		if i < 0 { // a length that overflowed
			return 0, false
		}
		if depth == 0 {
			return i, i <= len(b)
		}
	}
	return 0, false
}

// contentOK reports, without allocating, whether checkContent accepts a
// content of key k and value v.
func contentOK(k, v []byte) bool {
	if len(k) == 0 || len(k) > maxKeyBytes || len(v) > maxValueBytes {
		return false
	}
	for _, r := range reservedKeys {
		if string(k) == r {
			return false
		}
	}
	if len(k) >= len(tagKeyPrefix) && string(k[:len(tagKeyPrefix)]) == tagKeyPrefix {
		return false
	}
	return utf8.Valid(k) && utf8.Valid(v)
}

// tagOK reports, without allocating, whether checkTag accepts a LogTag.
func tagOK(k, v []byte) bool {
	return len(k) > 0 && len(k) <= maxKeyBytes && utf8.Valid(k) && utf8.Valid(v)
}

// metaOK reports, without allocating, whether checkMeta accepts a topic or
// source v.
func metaOK(v []byte, limit int) bool {
	return len(v) <= limit && utf8.Valid(v)
}

// decodeGroup is the reference walkGroup answers for: raw decoded with the
// SDK's (*sls.LogGroup).Unmarshal, then checked by checkGroup.
func (s *Server) decodeGroup(raw []byte, now time.Time) (*sls.LogGroup, *apiError) {
	g := &sls.LogGroup{}
	if err := g.Unmarshal(raw); err != nil {
		return nil, invalidGroup("%v", err)
	}
	if e := s.checkGroup(g, now); e != nil {
		return nil, e
	}
	return g, nil
}

// crossCheck runs decodeGroup on raw and compares its verdict with
// walkGroup's (sum, walked): it returns nil if they agree (the same logs
// and __pack_id__, or the same status and code), else a 500 that names
// both, a bug of this package that a test then sees among Rejections.
func (s *Server) crossCheck(raw []byte, now time.Time, sum groupSummary, walked *apiError) *apiError {
	g, decoded := s.decodeGroup(raw, now)
	switch {
	case walked == nil && decoded == nil:
		if n := len(g.Logs); n != sum.logs || packIDOf(g) != string(sum.packID) {
			return errorf(http.StatusInternalServerError, "InternalServerError",
				"slstest bug: its LogGroup walk counts %d logs (__pack_id__ %q), the SDK decodes %d (%q)", sum.logs, sum.packID, n, packIDOf(g))
		}
		return nil
	case walked != nil && decoded != nil && walked.status == decoded.status && walked.code == decoded.code:
		return nil
	}
	return errorf(http.StatusInternalServerError, "InternalServerError",
		"slstest bug: its LogGroup walk answers %s, the SDK decode and checks answer %s", verdict(walked), verdict(decoded))
}

func verdict(e *apiError) string {
	if e == nil {
		return "200"
	}
	return e.code + " (" + e.message + ")"
}

// packIDOf returns the value of g's last __pack_id__ LogTag, "" if none.
func packIDOf(g *sls.LogGroup) string {
	id := ""
	for _, t := range g.LogTags {
		if t.GetKey() == packIDTag {
			id = t.GetValue()
		}
	}
	return id
}

func invalidGroup(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "PostBodyInvalid", "the body is not a valid LogGroup: "+format, args...)
}
