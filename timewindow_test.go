package zapsls

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/pb"
	"github.com/zapsls/zapsls/slstest"
)

// offsetClock is a zapcore.Clock whose Now is at a fixed offset from the
// real clock.
type offsetClock struct{ offset time.Duration }

func (c offsetClock) Now() time.Time                         { return time.Now().Add(c.offset) }
func (c offsetClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// An entry whose time SLS refuses no longer sinks its batch (issue: a
// logger 30 days in the past wrote one entry among nine normal ones, and
// 0 of 10 arrived). The odd entry arrives stamped with the time it was
// batched, its own time kept in OriginalTimeKey, counted in
// Stats.Repaired; its neighbours in the same batch arrive untouched.
func TestEntryOutsideTheTimeWindowIsRepaired(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{}) // SLS's window: 7 days old, 15 minutes ahead
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		offset   time.Duration
		repaired bool
	}{
		{"the issue's 30 days old", -30 * 24 * time.Hour, true},
		{"8 days old", -8 * 24 * time.Hour, true},
		{"20 minutes ahead", 20 * time.Minute, true},
		{"a year ahead", 365 * 24 * time.Hour, true},
		{"within the service's window, not ours: 7 days less 30 minutes old", -(7*24*time.Hour - 30*time.Minute), true},
		{"6 days old", -6 * 24 * time.Hour, false},
		{"5 minutes ahead", 5 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Reset()
			w, _ := newTestWriter(t, srv, func(c *Config) { c.Linger = time.Hour }) // sealed by Sync
			core := NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel)
			normal := zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard)))
			skewed := zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard)), zap.WithClock(offsetClock{tc.offset}))

			for i := 0; i < 9; i++ {
				normal.Info("normal", zap.Int("i", i))
				if i == 4 {
					skewed.Info("odd")
				}
			}
			before := time.Now()
			require.NoError(t, w.Sync())
			after := time.Now()

			logs := srv.Logs()
			require.Len(t, logs, 10, "all ten arrive")
			// Usually one batch; however they are split, the batch holding
			// the odd entry would be refused whole without the repair.
			assert.Empty(t, srv.Rejections())
			st := w.Stats()
			assert.Equal(t, uint64(10), st.Delivered)
			assert.Zero(t, st.Failed)
			want := uint64(0)
			if tc.repaired {
				want = 1
			}
			assert.Equal(t, want, st.Repaired)
			for _, l := range logs {
				if l.Contents["msg"] != "odd" {
					assert.WithinDuration(t, before, l.Time, 5*time.Second, "the neighbours keep their time")
					assert.NotContains(t, l.Keys, OriginalTimeKey)
					continue
				}
				if !tc.repaired {
					assert.WithinDuration(t, before.Add(tc.offset), l.Time, 5*time.Second, "kept its own time")
					assert.NotContains(t, l.Keys, OriginalTimeKey)
					continue
				}
				assert.True(t, !l.Time.Before(before.Add(-5*time.Second)) && !l.Time.After(after.Add(time.Second)), "stamped with the time it was batched: %v", l.Time)
				original, err := time.Parse(time.RFC3339Nano, l.Contents[OriginalTimeKey])
				require.NoError(t, err, l.Contents[OriginalTimeKey])
				assert.WithinDuration(t, before.Add(tc.offset), original, 5*time.Second)
				assert.True(t, strings.HasSuffix(l.Contents[OriginalTimeKey], "Z"), "UTC")
			}
			require.NoError(t, w.Close())
		})
	}
}

// The original time keeps its nanoseconds; the repaired frame is a valid
// Log (slstest decodes it with the SDK's types) and at most timeRepairMax
// longer, whatever the times.
func TestAppendTimeRepaired(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{}))
	for _, when := range []time.Time{
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2026, 10, 1, 12, 30, 15, 123456789, time.UTC),
		time.Date(2106, 2, 7, 6, 28, 15, 999999999, time.UTC), // the last second a uint32 Time holds
		now.Add(MaxEntryAhead + time.Second),
		now.Add(-MaxEntryAge - time.Second),
		now.Add(MaxEntryAhead + time.Nanosecond),
		now.Add(-MaxEntryAge - time.Nanosecond),
		now.Add(MaxEntryAhead + 2*time.Nanosecond).Add(500 * time.Millisecond),
	} {
		buf, err := enc.EncodeEntry(zapcore.Entry{Time: when, Message: strings.Repeat("m", 120)}, nil)
		require.NoError(t, err)
		frame := append([]byte(nil), buf.Bytes()...)
		buf.Free()
		if i := len(frame) - 2; frame[i] == pb.TagRepairs { // no repairs trailer expected
			t.Fatalf("unexpected trailer")
		}
		fixed, ok := appendTimeRepaired(nil, frame, now)
		require.True(t, ok, when)
		assert.LessOrEqual(t, len(fixed)-len(frame), timeRepairMax, when)
		size, n := pb.ConsumeVarint(fixed[1:])
		require.Equal(t, uint64(len(fixed)-1-n), size, "the frame's length")
		require.NoError(t, validateLog(fixed[1+n:]), when)
		assert.Contains(t, string(fixed), when.UTC().Format(time.RFC3339Nano))
	}
	// Within the window, or unreadable: unchanged.
	for _, when := range []time.Time{now, now.Add(MaxEntryAhead), now.Add(-MaxEntryAge)} {
		buf, err := enc.EncodeEntry(zapcore.Entry{Time: when, Message: "m"}, nil)
		require.NoError(t, err)
		out, ok := appendTimeRepaired(nil, buf.Bytes(), now)
		assert.False(t, ok, when)
		assert.Nil(t, out)
		buf.Free()
	}
	// Log.TimeNs may hold more than a second (a frame from Writer.Write):
	// what counts is the time both fields make.
	for _, c := range []struct {
		secs   time.Time
		ns     uint32
		repair bool
	}{
		{now.Add(MaxEntryAhead - 4*time.Second), 4_000_000_001, true},
		{now.Add(MaxEntryAhead - 5*time.Second), 4_000_000_000, false},
		{now.Add(-MaxEntryAge - 4*time.Second), 4_000_000_000, false},
		{now.Add(-MaxEntryAge - 5*time.Second), 4_000_000_000, true},
	} {
		log := pb.AppendVarint([]byte{pb.TagLogTime}, uint64(c.secs.Unix()))
		log = pb.AppendPair(log, pb.TagLogContent, "k", "v")
		log = pb.AppendFixed32(append(log, pb.TagLogTimeNs), c.ns)
		frame := append(pb.AppendVarint([]byte{pb.TagGroupLog}, uint64(len(log))), log...)
		_, ok := appendTimeRepaired(nil, frame, now)
		assert.Equal(t, c.repair, ok, "%v + %d ns", c.secs, c.ns)
	}
	for _, bad := range [][]byte{nil, {0x0A}, {0x0A, 0x02, 0x12, 0x00}, {0x0A, 0x03, 0x08, 0x01, 0x77}} {
		_, ok := appendTimeRepaired(nil, bad, now)
		assert.False(t, ok, bad)
	}
}

// An entry as large as a batch may carry still fits once its time is
// repaired: it arrives, not dropped, and its batch is within the limit.
func TestLargestEntryWithARepairedTimeFits(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 << 10 })
	enc := NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{}))
	build := func(size int, when time.Time) []byte {
		buf, err := enc.EncodeEntry(zapcore.Entry{Time: when, Message: "big"}, []zapcore.Field{zap.String("v", strings.Repeat("v", size))})
		require.NoError(t, err)
		defer buf.Free()
		return append([]byte(nil), buf.Bytes()...)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	probe := build(1000, old)
	limit := w.maxEntry(w.routes.get(0))
	size := 1000 + limit - len(probe)
	frame := build(size, old)
	for len(frame) > limit { // varint lengths shift by a byte or two
		size -= len(frame) - limit
		frame = build(size, old)
	}
	require.GreaterOrEqual(t, len(frame), limit-4, "as large as a batch may carry")
	_, err := w.Write(build(100, time.Now())) // a neighbour in the same batch first
	require.NoError(t, err)
	_, err = w.Write(frame)
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	assert.Equal(t, 2, srv.LogCount())
	assert.Equal(t, uint64(1), w.Stats().Repaired)
	for _, r := range srv.Requests() {
		assert.LessOrEqual(t, r.RawSize, 64<<10)
	}
}
