package slstest

// Tests of walkGroup, the allocation-free LogGroup verification of the
// request path, against decodeGroup, the SDK decode and checks it replaces.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
)

// walkNow is the server time of the differential tests: seeds put their
// logs' Time around it.
var walkNow = time.Now()

// walkServer is a Server for calling walkGroup and decodeGroup directly:
// only its options are used. MaxLogs is small so that seeds reach it.
func walkServer() *Server {
	return &Server{opts: Options{MaxLogs: 8, MaxLogAge: DefaultMaxLogAge, MaxLogFuture: DefaultMaxLogFuture}}
}

// pb appends protobuf wire format, malformed where a seed wants it.
type pb []byte

func (b pb) varint(v uint64) pb { return binary.AppendUvarint(b, v) }
func (b pb) key(field uint64, wt int) pb {
	return b.varint(field<<3 | uint64(wt))
}
func (b pb) bytes(field uint64, v []byte) pb {
	return append(b.key(field, wireBytes).varint(uint64(len(v))), v...)
}
func (b pb) str(field uint64, v string) pb { return b.bytes(field, []byte(v)) }
func (b pb) uint(field uint64, v uint64) pb {
	return b.key(field, wireVarint).varint(v)
}
func (b pb) fixed32(field uint64, v uint32) pb {
	return binary.LittleEndian.AppendUint32(b.key(field, wireFixed32), v)
}
func (b pb) raw(v ...byte) pb { return append(b, v...) }

// content is a LogContent; pbLog a Log of Time sec and these contents; at
// a Log of time t; tag a LogTag; logGroup a LogGroup of these Logs.
func content(k, v string) pb { return pb{}.str(1, k).str(2, v) }
func tag(k, v string) pb     { return pb{}.str(1, k).str(2, v) }
func pbLog(sec uint64, contents ...pb) pb {
	b := pb{}.uint(1, sec)
	for _, c := range contents {
		b = b.bytes(2, c)
	}
	return b
}
func at(t time.Time) pb {
	return pb{}.uint(1, uint64(t.Unix())).fixed32(4, uint32(t.Nanosecond())).bytes(2, content("k", "v"))
}
func logGroup(logs ...pb) pb {
	var b pb
	for _, l := range logs {
		b = b.bytes(1, l)
	}
	return b
}

// walkSeeds returns LogGroups that decodeGroup accepts and refuses for
// every reason it has, and that the SDK's Unmarshal accepts and refuses
// for every kind of malformed wire format, keyed by what they are.
func walkSeeds(t testing.TB) map[string][]byte {
	now := uint64(walkNow.Unix())
	ok := content("message", "hello")
	good := pbLog(now, ok, content("level", "info"))
	rich := pb{}.str(3, "topic").str(4, "10.0.0.1").str(2, "category").str(5, "machine").
		bytes(6, tag("env", "test")).bytes(6, tag(packIDTag, "ABCDEF-1")).
		bytes(1, pb(good).fixed32(4, 123456789)).
		bytes(1, pb(good).fixed32(4, 999999999).uint(15, 3))
	var manyLogs, tooManyLogs pb
	for range 8 {
		manyLogs = manyLogs.bytes(1, good)
	}
	tooManyLogs = manyLogs.bytes(1, good)
	hugeValue := strings.Repeat("v", maxValueBytes)
	badUTF8 := "bad\xff\xfe"

	seeds := map[string][]byte{
		"empty":                         nil,
		"one log":                       logGroup(good),
		"rich":                          rich,
		"MaxLogs logs":                  manyLogs,
		"MaxLogs+1 logs":                tooManyLogs,
		"a log without contents":        logGroup(pbLog(now)),
		"Time as a 10-byte varint":      logGroup(pbLog(now|1<<40, ok)),
		"Time as a padded varint":       logGroup(pb{}.key(1, wireVarint).raw(byte(now)|0x80, byte(now>>7)|0x80, byte(now>>14)|0x80, byte(now>>21)|0x80, byte(now>>28)|0x80, 0x80, 0).bytes(2, ok)),
		"Time missing":                  logGroup(pb{}.bytes(2, ok)),
		"Time twice, the last too old":  logGroup(pb(good).uint(1, now-8*24*3600)),
		"Time twice, the first too old": logGroup(pb{}.uint(1, now-8*24*3600).uint(1, now).bytes(2, ok)),
		"Time too old":                  logGroup(pbLog(now-8*24*3600, ok)),
		"Time exactly MaxLogAge old":    logGroup(pbLog(now-7*24*3600, ok)),
		"Time too far ahead":            logGroup(pbLog(now+16*60, ok)),
		"Time a minute ahead":           logGroup(pbLog(now+60, ok)),
		"Time zero":                     logGroup(pbLog(0, ok)),
		"Time the largest":              logGroup(pbLog(1<<32-1, ok)),
		"Time MaxLogAge old to the ns":  logGroup(at(walkNow.Add(-DefaultMaxLogAge))),
		"Time MaxLogAge and 1 ns old":   logGroup(at(walkNow.Add(-DefaultMaxLogAge - 1))),
		"Time MaxLogFuture ahead":       logGroup(at(walkNow.Add(DefaultMaxLogFuture))),
		"Time MaxLogFuture and 1 ns":    logGroup(at(walkNow.Add(DefaultMaxLogFuture + 1))),
		"TimeNs one second":             logGroup(pb(good).fixed32(4, 1e9)),
		"TimeNs twice, the last good":   logGroup(pb(good).fixed32(4, 1e9).fixed32(4, 5)),
		"TimeNs truncated":              logGroup(pb(good).key(4, wireFixed32).raw(1, 2, 3)),
		"Time as a fixed32":             logGroup(pb{}.fixed32(1, uint32(now)).bytes(2, ok)),
		"TimeNs as a varint":            logGroup(pb(good).uint(4, 5)),
		"Logs as a varint":              pb{}.uint(1, 5),
		"Topic as a fixed32":            pb(logGroup(good)).fixed32(3, 1),
		"Category as a varint":          pb(logGroup(good)).uint(2, 1),
		"MachineUUID as a varint":       pb(logGroup(good)).uint(5, 1),
		"LogTags as a varint":           pb(logGroup(good)).uint(6, 1),
		"Contents as a varint":          logGroup(pb{}.uint(1, now).uint(2, 1)),
		"Key as a varint":               logGroup(pbLog(now, pb{}.uint(1, 1).str(2, "v"))),
		"Value as a fixed32":            logGroup(pbLog(now, pb{}.str(1, "k").fixed32(2, 1))),
		"tag Key as a varint":           pb{}.bytes(6, pb{}.uint(1, 1).str(2, "v")),
		"Key missing":                   logGroup(pbLog(now, pb{}.str(2, "v"))),
		"Value missing":                 logGroup(pbLog(now, pb{}.str(1, "k"))),
		"tag Value missing":             pb{}.bytes(6, pb{}.str(1, "k")),
		"tag Key missing":               pb{}.bytes(6, pb{}.str(2, "v")),
		"Key twice, the first reserved": logGroup(pbLog(now, pb{}.str(1, "__time__").str(2, "v").str(1, "k"))),
		"Key twice, the last reserved":  logGroup(pbLog(now, pb{}.str(1, "k").str(2, "v").str(1, "__topic__"))),
		"topic twice, the first long":   pb(logGroup(good)).str(3, strings.Repeat("t", 129)).str(3, "t"),
		"topic twice, the last long":    pb(logGroup(good)).str(3, "t").str(3, strings.Repeat("t", 129)),
		"duplicate content keys":        logGroup(pbLog(now, ok, ok)),

		"field number 0":                  pb{}.key(0, wireBytes).varint(0),
		"field number 1 after int32 wrap": pb{}.key(1<<32|1, wireBytes).varint(uint64(len(good))).raw(good...),
		"field number negative as int32":  pb{}.key(1<<31, wireBytes).varint(0),
		"end group at the top":            pb{}.key(1, wireEndGroup),
		"end group in a log":              logGroup(pb(good).key(9, wireEndGroup)),
		"end group in a content":          logGroup(pbLog(now, pb(ok).key(9, wireEndGroup))),
		"start group for Logs":            pb{}.key(1, wireStartGroup).key(1, wireEndGroup),
		"unknown varint":                  pb(logGroup(good)).uint(7, 1),
		"unknown fixed64":                 pb(logGroup(good)).key(8, wireFixed64).raw(1, 2, 3, 4, 5, 6, 7, 8),
		"unknown fixed64 truncated":       pb(logGroup(good)).key(8, wireFixed64).raw(1, 2, 3),
		"unknown bytes":                   pb(logGroup(good)).str(9, "x"),
		"unknown bytes too long":          pb(logGroup(good)).key(9, wireBytes).varint(5).raw('x'),
		"unknown bytes of length 2^63":    pb(logGroup(good)).key(9, wireBytes).varint(1 << 63),
		"unknown bytes of length 2^63-1":  pb(logGroup(good)).key(9, wireBytes).varint(1<<63 - 1),
		"unknown fixed32":                 pb(logGroup(good)).fixed32(11, 1),
		"unknown fixed32 truncated":       pb(logGroup(good)).key(11, wireFixed32).raw(1),
		"unknown group":                   pb(logGroup(good)).key(10, wireStartGroup).uint(1, 2).str(2, "x").key(10, wireEndGroup),
		"unknown nested groups":           pb(logGroup(good)).key(10, wireStartGroup).key(3, wireStartGroup).fixed32(1, 1).key(3, wireEndGroup).key(10, wireEndGroup),
		"unknown group, other end number": pb(logGroup(good)).key(10, wireStartGroup).key(12, wireEndGroup),
		"unknown group never ended":       pb(logGroup(good)).key(10, wireStartGroup).uint(1, 2),
		"unknown group with a bad inside": pb(logGroup(good)).key(10, wireStartGroup).key(1, 6).key(10, wireEndGroup),
		"unknown wire type 6":             pb(logGroup(good)).key(12, 6),
		"unknown wire type 7":             pb(logGroup(good)).key(12, 7),
		"unknown fields in a log":         logGroup(pb(good).uint(3, 1).str(9, "x").key(10, wireStartGroup).key(10, wireEndGroup)),
		"unknown fields in a content":     logGroup(pbLog(now, pb(ok).uint(3, 1).fixed32(7, 1))),
		"unknown fields in a tag":         pb{}.bytes(6, pb(tag("k", "v")).uint(3, 1)),
		"tag key truncated varint":        pb{}.raw(0x80),
		"11-byte varint key":              pb{}.raw(0x8a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
		"10-byte varint key":              pb{}.raw(0x8a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00),
		"Logs length truncated":           pb{}.key(1, wireBytes).raw(0x80),
		"Logs length past the end":        pb{}.key(1, wireBytes).varint(100).raw(good...),
		"Logs length of 10 bytes":         pb{}.key(1, wireBytes).raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"Time varint truncated":           logGroup(pb{}.key(1, wireVarint).raw(0x80)),
		"Time varint of 11 bytes":         logGroup(pb{}.key(1, wireVarint).raw(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)),

		"key invalid UTF-8":               logGroup(pbLog(now, content(badUTF8, "v"))),
		"value invalid UTF-8":             logGroup(pbLog(now, content("k", badUTF8))),
		"tag key invalid UTF-8":           pb(logGroup(good)).bytes(6, tag(badUTF8, "v")),
		"tag value invalid UTF-8":         pb(logGroup(good)).bytes(6, tag("k", badUTF8)),
		"topic invalid UTF-8":             pb(logGroup(good)).str(3, badUTF8),
		"source invalid UTF-8":            pb(logGroup(good)).str(4, badUTF8),
		"category invalid UTF-8":          pb(logGroup(good)).str(2, badUTF8),
		"machine UUID invalid UTF-8":      pb(logGroup(good)).str(5, badUTF8),
		"key empty":                       logGroup(pbLog(now, content("", "v"))),
		"key of 128 bytes":                logGroup(pbLog(now, content(strings.Repeat("k", 128), "v"))),
		"key of 129 bytes":                logGroup(pbLog(now, content(strings.Repeat("k", 129), "v"))),
		"key of 129 bytes, invalid UTF-8": logGroup(pbLog(now, content(strings.Repeat("k", 128)+"\xff", "v"))),
		"tag key empty":                   pb{}.bytes(6, tag("", "v")),
		"tag key of 129 bytes":            pb{}.bytes(6, tag(strings.Repeat("k", 129), "v")),
		"tag value of 2000 bytes":         pb{}.bytes(6, tag("k", strings.Repeat("v", 2000))),
		"topic of 128 bytes":              pb{}.str(3, strings.Repeat("t", 128)),
		"topic of 129 bytes":              pb{}.str(3, strings.Repeat("t", 129)),
		"source of 129 bytes":             pb{}.str(4, strings.Repeat("s", 129)),
		"value of the maximum":            logGroup(pbLog(now, content("k", hugeValue))),
		"value over the maximum":          logGroup(pbLog(now, content("k", hugeValue+"v"))),
		"key __tag__:x":                   logGroup(pbLog(now, content("__tag__:x", "v"))),
		"key __tag__":                     logGroup(pbLog(now, content("__tag__", "v"))),
		"key __tag__:":                    logGroup(pbLog(now, content("__tag__:", "v"))),
		"key _time_":                      logGroup(pbLog(now, content("_time_", "v"))),

		"a bad content, then a log too old":       logGroup(pbLog(now, content("", "v")), pbLog(now-8*24*3600, ok)),
		"a log too old, then a bad content":       logGroup(pbLog(now-8*24*3600, ok), pbLog(now, content("", "v"))),
		"a content before its bad Time":           logGroup(pb{}.bytes(2, content("", "v")).uint(1, now+3600)),
		"a bad content, then a bad tag":           pb(logGroup(pbLog(now, content("", "v")))).bytes(6, tag("", "v")),
		"a bad tag, then a long topic":            pb{}.bytes(6, tag("", "v")).str(3, strings.Repeat("t", 129)),
		"a long topic, then a bad source":         pb{}.str(3, strings.Repeat("t", 129)).str(4, badUTF8),
		"too many logs, one of them bad":          pb(tooManyLogs).bytes(1, pbLog(now, content("", "v"))),
		"a bad content, then malformed":           pb(logGroup(pbLog(now, content("", "v")))).raw(0x80),
		"a bad content, then one without a Value": logGroup(pbLog(now, content("", "v"), pb{}.str(1, "k"))),
	}
	for _, k := range reservedKeys {
		seeds["key "+k] = logGroup(pbLog(now, content(k, "v")))
	}
	// Every truncation of a group that uses every field.
	for n := range len(rich) {
		seeds[fmt.Sprintf("rich cut to %d bytes", n)] = rich[:n]
	}
	// Groups the SDK marshals.
	g := &sls.LogGroup{Topic: proto.String("t"), LogTags: []*sls.LogTag{{Key: proto.String(packIDTag), Value: proto.String("P-1")}}}
	for i := range 3 {
		g.Logs = append(g.Logs, &sls.Log{
			Time:     proto.Uint32(uint32(now) - uint32(i)),
			TimeNs:   proto.Uint32(uint32(i) * 1000),
			Contents: []*sls.LogContent{{Key: proto.String("message"), Value: proto.String("héllo")}, {Key: proto.String("i"), Value: proto.String(strings.Repeat("x", i*100))}},
		})
	}
	b, err := g.Marshal()
	require.NoError(t, err)
	seeds["SDK marshaled"] = b
	for i, raw := range zapslsGroups(t) {
		seeds[fmt.Sprintf("zapsls request %d", i)] = raw
	}
	return seeds
}

// zapslsGroups returns the LogGroups of the requests a zapsls Writer sends
// for a few entries, including ones it repairs (invalid UTF-8, a reserved
// key), which add the field-15 trailer to their Log.
func zapslsGroups(t testing.TB) [][]byte {
	s := NewServer(Options{})
	defer s.Close()
	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint: s.Endpoint(), Project: testProject, Logstore: testLogstore,
		Topic: "topic", Source: "source", Tags: map[string]string{"env": "test"},
		AccessKeyID: DefaultAccessKeyID, AccessKeySecret: DefaultAccessKeySecret,
		HTTPClient: s.Client(),
	})
	require.NoError(t, err)
	logger := zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zapcore.DebugLevel),
		zap.ErrorOutput(zapcore.AddSync(io.Discard)))
	for round := range 3 {
		logger.Info("hello", zap.Int("round", round), zap.String("user", "ü"), zap.Duration("took", time.Millisecond))
		logger.Warn("bad \xff bytes", zap.String("k\xfe", "v\xff"), zap.String("__time__", "x"))
		logger.Error("with a stack", zap.Error(io.EOF), zap.Strings("list", []string{"a", "b"}))
		require.NoError(t, w.Sync())
	}
	require.NoError(t, w.Close())
	var out [][]byte
	for _, k := range s.keptRequests() {
		out = append(out, k.raw)
	}
	require.NotEmpty(t, out)
	return out
}

// FuzzWalkGroup checks that walkGroup, the request path's verification,
// accepts exactly the LogGroups decodeGroup (the SDK's Unmarshal and
// checkGroup) accepts, counting the same logs and __pack_id__, and refuses
// the others with the same status and code, and the same message for every
// refusal but malformed wire format. The normal test run tries the seeds
// only; fuzz with go test -fuzz FuzzWalkGroup ./slstest.
func FuzzWalkGroup(f *testing.F) {
	for _, raw := range walkSeeds(f) {
		f.Add(raw)
	}
	noTimeLimits := walkServer()
	noTimeLimits.opts.MaxLogAge, noTimeLimits.opts.MaxLogFuture = -1, -1
	servers := []*Server{walkServer(), noTimeLimits}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, s := range servers {
			requireSameVerdict(t, s, raw)
		}
	})
}

func requireSameVerdict(t *testing.T, s *Server, raw []byte) {
	sum, walked := s.walkGroup(raw, walkNow)
	g, decoded := s.decodeGroup(raw, walkNow)
	if decoded == nil {
		require.Nil(t, walked, "walkGroup refuses what decodeGroup accepts")
		require.Equal(t, len(g.Logs), sum.logs, "logs")
		require.Equal(t, packIDOf(g), string(sum.packID), "__pack_id__")
		return
	}
	require.NotNil(t, walked, "walkGroup accepts what decodeGroup refuses: %s %s", decoded.code, decoded.message)
	require.Equal(t, decoded.status, walked.status, "status; decodeGroup: %s", decoded.message)
	require.Equal(t, decoded.code, walked.code, "code; decodeGroup: %s, walkGroup: %s", decoded.message, walked.message)
	malformed := func(e *apiError) bool { return strings.HasPrefix(e.message, "the body is not a valid LogGroup: ") }
	require.Equal(t, malformed(decoded), malformed(walked), "decodeGroup: %s, walkGroup: %s", decoded.message, walked.message)
	if !malformed(decoded) {
		require.Equal(t, decoded.message, walked.message)
	}
}

// TestWalkSeedsCoverEveryOutcome checks that the seeds of FuzzWalkGroup
// reach every answer decodeGroup has, so that the fuzz test compares them
// all.
func TestWalkSeedsCoverEveryOutcome(t *testing.T) {
	s := walkServer()
	codes := map[string]int{}
	for _, raw := range walkSeeds(t) {
		_, e := s.decodeGroup(raw, walkNow)
		switch {
		case e == nil:
			codes["200"]++
		case strings.HasPrefix(e.message, "the body is not a valid LogGroup: "):
			codes["malformed"]++
		default:
			codes[e.code]++
		}
	}
	for _, want := range []string{"200", "malformed", "PostBodyTooLarge", "PostBodyInvalid", "InvalidEncoding", "InvalidKey", "InvalidTimestamp"} {
		require.Positive(t, codes[want], "no seed is answered %s: %v", want, codes)
	}
}

// TestWalkGroupDoesNotAllocate checks that verifying a request zapsls sends
// allocates nothing.
func TestWalkGroupDoesNotAllocate(t *testing.T) {
	s := walkServer()
	s.opts.MaxLogs = DefaultMaxLogs
	for _, raw := range zapslsGroups(t) {
		allocs := testing.AllocsPerRun(20, func() {
			if _, e := s.walkGroup(raw, walkNow); e != nil {
				t.Fatal(e.message)
			}
		})
		require.Zero(t, allocs)
	}
}

// TestCrossCheckReportsDisagreement checks that a Server keeping logs
// answers 500 when walkGroup and decodeGroup disagree, so that a bug of
// the walk cannot pass unseen in the tests of clients.
func TestCrossCheckReportsDisagreement(t *testing.T) {
	s := walkServer()
	raw := walkSeeds(t)["rich"]
	sum, walked := s.walkGroup(raw, walkNow)
	require.Nil(t, walked)
	require.Nil(t, s.crossCheck(raw, walkNow, sum, nil))

	miscounted := sum
	miscounted.logs++
	e := s.crossCheck(raw, walkNow, miscounted, nil)
	require.NotNil(t, e)
	require.Equal(t, http.StatusInternalServerError, e.status)
	require.Contains(t, e.message, "slstest bug")

	otherPackID := sum
	otherPackID.packID = []byte("other")
	require.NotNil(t, s.crossCheck(raw, walkNow, otherPackID, nil))

	e = s.crossCheck(raw, walkNow, groupSummary{}, errorf(http.StatusBadRequest, "InvalidKey", "x"))
	require.NotNil(t, e)
	require.Equal(t, "InternalServerError", e.code)

	bad := logGroup(pbLog(uint64(walkNow.Unix()), content("", "v")))
	_, walked = s.walkGroup(bad, walkNow)
	require.NotNil(t, walked)
	require.Nil(t, s.crossCheck(bad, walkNow, groupSummary{}, walked))
	require.NotNil(t, s.crossCheck(bad, walkNow, groupSummary{logs: 1}, nil))
	require.NotNil(t, s.crossCheck(bad, walkNow, groupSummary{}, errorf(http.StatusBadRequest, "InvalidEncoding", "x")))
}

// TestKeptRequestsDoNotShareBuffers sends requests of the same size one
// after another, so that each reuses the pooled buffers of the one before,
// and checks that what the server kept of each (logs, attempts) is intact.
func TestKeptRequestsDoNotShareBuffers(t *testing.T) {
	s := newServer(t, Options{RecordAttempts: true})
	var bodies [][]byte
	for i := range 4 {
		g := withContent("message", strings.Repeat(string(rune('a'+i)), 1000))
		raw, err := g.Marshal()
		require.NoError(t, err)
		for _, compression := range []string{"", "lz4"} {
			body := raw
			if compression == "lz4" {
				body = lz4Block(raw)
			}
			bodies = append(bodies, bytes.Clone(body))
			resp, rb := do(t, s, handReq{Raw: raw, Compress: compression})
			require.Equal(t, http.StatusOK, resp.StatusCode, string(rb))
		}
	}
	logs := s.Logs()
	require.Len(t, logs, 8)
	for i, l := range logs {
		require.Equal(t, strings.Repeat(string(rune('a'+i/2)), 1000), l.Contents["message"], "log %d", i)
	}
	attempts := s.Attempts()
	require.Len(t, attempts, len(bodies))
	for i, a := range attempts {
		require.Equal(t, bodies[i], a.Body, "attempt %d", i)
	}
}

// BenchmarkVerifyGroup compares walkGroup with decodeGroup on the requests
// zapsls sends.
func BenchmarkVerifyGroup(b *testing.B) {
	s := walkServer()
	s.opts.MaxLogs = DefaultMaxLogs
	raws := zapslsGroups(b)
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, raw := range raws {
				if _, e := s.walkGroup(raw, walkNow); e != nil {
					b.Fatal(e.message)
				}
			}
		}
	})
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, raw := range raws {
				if _, e := s.decodeGroup(raw, walkNow); e != nil {
					b.Fatal(e.message)
				}
			}
		}
	})
}
