package zapsls

// The bad-input suite: bad entries through the Core and through
// Writer.Write are delivered repaired, or reported and counted, and never
// harm their neighbours.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// relErrMarshaler adds a field, then fails: zap adds KEYError.
type relErrMarshaler struct{}

func (relErrMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("partial", "kept")
	return errors.New("marshal failed")
}

// relPanicMarshaler adds a field, then panics, with some nesting open.
type relPanicMarshaler struct{}

func (relPanicMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("partial", "leaked?")
	enc.OpenNamespace("ns")
	_ = enc.AddObject("inner", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("deeper", "x")
		panic("marshaler panics")
	}))
	return nil
}

type relPanicArray struct{}

func (relPanicArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	enc.AppendString("first")
	_ = enc.AppendObject(zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("in", "array")
		panic("array marshaler panics")
	}))
	return nil
}

// relNested is an object nested depth levels deep with a leaf at the bottom.
type relNested int

func (n relNested) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if n == 0 {
		enc.AddString("leaf", "bottom")
		return nil
	}
	return enc.AddObject("level", n-1)
}

// relBadInputCase is one kind of bad entry, logged between two good ones.
type relBadInputCase struct {
	name string
	// log logs the bad entry; it may panic (recovered by the harness).
	log func(l *zap.Logger)
	// check examines the stored logs of the bad entry (nil if it was
	// dropped), given the Stats delta.
	dropped bool
	check   func(t *testing.T, bad []slstest.Log, repaired uint64)
}

func TestBadInputThroughCore(t *testing.T) {
	deepKey := ""
	many := make([]zap.Field, 10000)
	for i := range many {
		many[i] = zap.Int("f"+strconv.Itoa(i), i)
	}
	for _, tc := range []relBadInputCase{
		{
			name: "invalid UTF-8 keys and values",
			log: func(l *zap.Logger) {
				l.Info("bad utf8", zap.String("k\xffey", "va\xfelue"), zap.ByteString("bytes", []byte{0xff, 'a'}),
					zap.String("ok", "fine"))
			},
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				c := bad[0].Contents
				assert.Equal(t, "va\uFFFDlue", c["k\uFFFDey"])
				assert.Equal(t, "\uFFFDa", c["bytes"])
				assert.Equal(t, "fine", c["ok"])
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "value over 1 MB",
			log:  func(l *zap.Logger) { l.Info("big value", zap.String("big", strings.Repeat("x", 1_500_000))) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				v := bad[0].Contents["big"]
				assert.Len(t, v, DefaultMaxValueBytes)
				assert.True(t, strings.HasSuffix(v, TruncatedMarker))
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "10,000 fields",
			log:  func(l *zap.Logger) { l.Info("many fields", many...) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				assert.Len(t, bad[0].Keys, 10000+3) // level, ts, msg
				assert.Equal(t, "9999", bad[0].Contents["f9999"])
				assert.Zero(t, repaired)
			},
		},
		{
			name: "forbidden and 200-byte keys",
			log: func(l *zap.Logger) {
				l.Info("forbidden", zap.String("__time__", "1"), zap.String("__topic__", "2"), zap.String("__source__", "3"),
					zap.String("__partition_time__", "4"), zap.String("_extract_others_", "5"), zap.String("__extract_others__", "6"),
					zap.String("__tag__:x", "7"), zap.String("", "8"), zap.String(strings.Repeat("k", 200), "9"),
					zap.Namespace("__tag__:ns"), zap.String("k", "10"))
			},
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				c := bad[0].Contents
				for key, want := range map[string]string{
					"field___time__": "1", "field___topic__": "2", "field___source__": "3", "field___partition_time__": "4",
					"field__extract_others_": "5", "field___extract_others__": "6", "field___tag__:x": "7", "field_": "8",
					strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker)) + TruncatedMarker: "9",
					"field___tag__:ns.k": "10",
				} {
					assert.Equal(t, want, c[key], key)
				}
				for _, k := range bad[0].Keys {
					// slstest's own list, not the Encoder's reservedKey.
					assert.NoError(t, slstest.ContentError(k, c[k]), k)
				}
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name: "ObjectMarshaler returning an error",
			log:  func(l *zap.Logger) { l.Info("obj error", zap.Object("obj", relErrMarshaler{})) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				assert.Equal(t, "kept", bad[0].Contents["obj.partial"])
				assert.Equal(t, "marshal failed", bad[0].Contents["objError"])
			},
		},
		{
			name: "objects 1000 levels deep",
			log:  func(l *zap.Logger) { l.Info("deep", zap.Object("deep", relNested(1000))) },
			check: func(t *testing.T, bad []slstest.Log, repaired uint64) {
				require.Len(t, bad, 1)
				var keys []string
				for k, v := range bad[0].Contents {
					if v == "bottom" {
						keys = append(keys, k)
						deepKey = k
					}
				}
				require.Len(t, keys, 1)
				assert.Len(t, deepKey, MaxKeyBytes)
				assert.True(t, strings.HasPrefix(deepKey, "deep.level.level."), deepKey)
				assert.True(t, strings.HasSuffix(deepKey, TruncatedMarker), deepKey)
				assert.Equal(t, uint64(1), repaired)
			},
		},
		{
			name:    "entry larger than a batch",
			log:     func(l *zap.Logger) { l.Info("huge", zap.String("big", strings.Repeat("y", 100<<10))) },
			dropped: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, func(c *Config) {
				// One batch, sealed by Sync: the neighbours' order is then
				// the order they were written in, whatever the machine's
				// load (two batches would be posted side by side). A value
				// over 1 MB makes more than one batch while the buffer holds
				// no backlog (128 KiB batches), so one request at a time
				// keeps them in order.
				c.Linger = time.Hour
				c.MaxInflight = 1
				if tc.dropped {
					c.MaxBatchBytes = 64 << 10
				}
			})
			zapErrs := &relZapErrors{}
			logger := relLogger(w, zapErrs)
			logger.Info("before", zap.String("g", "n"), zap.Int("i", 1))
			before := w.Stats()
			tc.log(logger)
			after := w.Stats()
			logger.Info("after", zap.String("g", "n"), zap.Int("i", 2))
			err := logger.Sync()

			logs := srv.Logs()
			var neighbours, bad []slstest.Log
			for _, l := range logs {
				if l.Contents["g"] == "n" {
					neighbours = append(neighbours, l)
				} else {
					bad = append(bad, l)
				}
			}
			require.Len(t, neighbours, 2, "both neighbours arrive")
			assert.Equal(t, "before", neighbours[0].Contents["msg"])
			assert.Equal(t, "after", neighbours[1].Contents["msg"])
			for _, n := range neighbours {
				assert.Len(t, n.Keys, 5, "no leftovers from the bad entry: %v", n.Keys)
			}
			if tc.dropped {
				assert.Zero(t, len(bad), "the bad entry is not delivered")
				var nd *NotDeliveredError
				require.ErrorAs(t, err, &nd)
				assert.Equal(t, 1, nd.Entries)
				assert.Contains(t, err.Error(), "entry too large")
				assert.Equal(t, uint64(1), after.Dropped-before.Dropped)
				assert.Contains(t, errs.text(), "entry too large")
				assert.Equal(t, 1, zapErrs.count(), "zap's ErrorOutput reports it")
				return
			}
			require.NoError(t, err)
			assert.Empty(t, errs.text())
			assert.Zero(t, w.Stats().Dropped)
			tc.check(t, bad, after.Repaired-before.Repaired)
		})
	}
}

// TestBadInputPanickingMarshaler: zap does not recover a panic in
// MarshalLogObject; it is the caller's bug and reaches the caller. zapsls
// must not be left broken by it: the pooled encoder the panic abandoned is
// not reused half-built, the ring is not left with a reserved record, and
// the logger (and other goroutines' loggers) keep working.
func TestBadInputPanickingMarshaler(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, errs := newTestWriter(t, srv, nil)
	logger := relLogger(w, &relZapErrors{})
	ctx := logger.With(zap.String("ctx", "kept"))

	panics := func(f func()) (msg any) {
		done := make(chan any)
		go func() { // in another goroutine, as in a server handler
			defer func() { done <- recover() }()
			f()
		}()
		return <-done
	}
	logger.Info("before", zap.String("g", "n"), zap.Int("i", 0))
	assert.Equal(t, "marshaler panics", panics(func() { logger.Info("object", zap.Object("obj", relPanicMarshaler{})) }))
	assert.Equal(t, "marshaler panics", panics(func() { ctx.Info("object", zap.Object("obj", relPanicMarshaler{})) }))
	assert.Equal(t, "array marshaler panics", panics(func() { logger.Info("array", zap.Array("arr", relPanicArray{})) }))
	assert.Equal(t, "marshaler panics", panics(func() { _ = logger.With(zap.Object("obj", relPanicMarshaler{})) }))

	// Many goroutines log right after, reusing pooled encoders.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l := logger
				if i%2 == 1 {
					l = ctx
				}
				l.Info("after", zap.String("g", "n"), zap.Int("i", 1+g*200+i), zap.Array("arr", zapcore.ArrayMarshalerFunc(func(enc zapcore.ArrayEncoder) error {
					enc.AppendInt(i)
					return nil
				})))
			}
		}(g)
	}
	wg.Wait()
	require.NoError(t, logger.Sync())
	logs := srv.Logs()
	require.Len(t, logs, 1+8*200)
	for _, l := range logs {
		for k := range l.Contents {
			switch k {
			case "level", "ts", "msg", "g", "i", "arr", "ctx":
			default:
				t.Fatalf("leftover key %q from a panicked entry in %v", k, l.Contents)
			}
		}
		if l.Contents["msg"] == "after" {
			i, _ := strconv.Atoi(l.Contents["i"])
			assert.Equal(t, "["+strconv.Itoa((i-1)%200)+"]", l.Contents["arr"])
		}
	}
	assert.Zero(t, w.Stats().Dropped)
	assert.Empty(t, errs.text())
	assert.Zero(t, w.Stats().Buffered, "no record left reserved in the ring")
}

// asText checks that a line arrived whole as the content of a text line.
func asText(line string) func(t *testing.T, c map[string]string, keys []string) {
	return func(t *testing.T, c map[string]string, _ []string) {
		assert.Equal(t, map[string]string{"content": line}, c)
	}
}

func TestBadInputThroughWriterWrite(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 1000) + `"bottom"` + strings.Repeat("}", 1000)
	var manyKeys strings.Builder
	manyKeys.WriteString("{")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			manyKeys.WriteByte(',')
		}
		fmt.Fprintf(&manyKeys, `"f%d":%d`, i, i)
	}
	manyKeys.WriteString("}")

	for _, tc := range []struct {
		name     string
		line     string
		dropped  bool
		maxBatch int // MaxBatchBytes, when not the default
		check    func(t *testing.T, c map[string]string, keys []string)
	}{
		{
			name: "invalid UTF-8 keys and values",
			line: "{\"k\xffey\":\"va\xfelue\",\"raw\":[\"\xff\"]}",
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Equal(t, "va\uFFFDlue", c["k\uFFFDey"])
				assert.True(t, utf8.ValidString(c["raw"]), c["raw"])
			},
		},
		{
			name: "value over 1 MB",
			line: `{"big":"` + strings.Repeat("x", 1_500_000) + `"}`,
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Len(t, c["big"], DefaultMaxValueBytes)
				assert.True(t, strings.HasSuffix(c["big"], TruncatedMarker))
			},
		},
		{
			name: "10,000 keys",
			line: manyKeys.String(),
			check: func(t *testing.T, c map[string]string, keys []string) {
				assert.Len(t, keys, 10000)
				assert.Equal(t, "9999", c["f9999"])
			},
		},
		{
			name: "forbidden and 200-byte keys",
			line: `{"__time__":"1","__tag__:x":"2","__source__":"3","":"4","` + strings.Repeat("k", 200) + `":"5"}`,
			check: func(t *testing.T, c map[string]string, keys []string) {
				assert.Equal(t, "1", c["field___time__"])
				assert.Equal(t, "2", c["field___tag__:x"])
				assert.Equal(t, "3", c["field___source__"])
				assert.Equal(t, "4", c["field_"])
				assert.Equal(t, "5", c[strings.Repeat("k", MaxKeyBytes-len(TruncatedMarker))+TruncatedMarker])
				for _, k := range keys {
					assert.LessOrEqual(t, len(k), MaxKeyBytes)
				}
			},
		},
		{
			name: "1000 levels deep",
			line: `{"deep":` + deep + `}`,
			check: func(t *testing.T, c map[string]string, _ []string) {
				assert.Equal(t, deep, c["deep"], "nested values are JSON text")
			},
		},
		// Lines that are not one JSON object are kept as text (console lines).
		{name: "not JSON", line: `this is not json`, check: asText(`this is not json`)},
		{name: "a JSON array", line: `[1,2,3]`, check: asText(`[1,2,3]`)},
		{name: "truncated JSON", line: `{"a":"b`, check: asText(`{"a":"b`)},
		{name: "text after the object", line: `{"a":"b"} trailing`, check: asText(`{"a":"b"} trailing`)},
		{name: "binary", line: "\x00\x01\x02", dropped: true},
		{name: "entry larger than a batch", line: `{"big":"` + strings.Repeat("y", 100<<10) + `"}`, dropped: true, maxBatch: 64 << 10},
	} {
		for _, together := range []bool{false, true} {
			mode := "separate writes"
			if together {
				mode = "one write"
			}
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				srv := slstest.NewServer(slstest.Options{})
				defer srv.Close()
				w, errs := newTestWriter(t, srv, func(c *Config) {
					c.MaxBatchBytes = tc.maxBatch
					c.Linger = time.Hour // batches in order: see TestBadInputThroughCore
					c.MaxInflight = 1
				})
				before, after := `{"msg":"before","g":"n"}`, `{"msg":"after","g":"n"}`
				var writeErr error
				if together {
					_, writeErr = w.Write([]byte(before + "\n" + tc.line + "\n" + after + "\n"))
				} else {
					_, err := w.Write([]byte(before + "\n"))
					require.NoError(t, err)
					_, writeErr = w.Write([]byte(tc.line + "\n"))
					_, err = w.Write([]byte(after + "\n"))
					require.NoError(t, err)
				}
				syncErr := w.Sync()
				s := w.Stats()

				var neighbours []string
				var bad []slstest.Log
				for _, l := range srv.Logs() {
					if l.Contents["g"] == "n" {
						neighbours = append(neighbours, l.Contents["msg"])
					} else {
						bad = append(bad, l)
					}
				}
				// Separate writes may ride in batches posted side by side, so
				// their order of arrival is not promised.
				assert.ElementsMatch(t, []string{"before", "after"}, neighbours, "both neighbours arrive")
				if tc.dropped {
					assert.Zero(t, len(bad), "the bad line is not delivered")
					var de *DropError
					require.ErrorAs(t, writeErr, &de, "Write reports the bad line")
					assert.Equal(t, 1, de.Entries)
					var nd *NotDeliveredError
					require.ErrorAs(t, syncErr, &nd)
					assert.Equal(t, 1, nd.Entries, "Sync reports exactly the bad line: %v", syncErr)
					assert.Equal(t, uint64(1), s.Dropped)
					assert.Equal(t, uint64(2), s.Delivered)
					assert.Contains(t, errs.text(), "dropped 1 entries")
					return
				}
				require.NoError(t, writeErr)
				require.NoError(t, syncErr)
				require.Len(t, bad, 1)
				assert.Zero(t, s.Dropped)
				tc.check(t, bad[0].Contents, bad[0].Keys)
			})
		}
	}
}

// TestBadInputRepairsAreCounted: a JSON line whose keys or values had to be
// repaired (invalid UTF-8, reserved or long keys, long values) counts in
// Stats.Repaired, as through the Encoder.
func TestBadInputRepairsAreCounted(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	for _, line := range []string{
		"{\"k\xffey\":\"v\"}",
		"{\"k\":\"v\xfe\"}",
		`{"__time__":"1"}`,
		`{"` + strings.Repeat("k", 200) + `":"1"}`,
		`{"big":"` + strings.Repeat("x", 1_500_000) + `"}`,
	} {
		before := w.Stats().Repaired
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
		assert.Equal(t, before+1, w.Stats().Repaired, "%.40q", line)
	}
	_, err := w.Write([]byte(`{"fine":"line"}`))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), w.Stats().Repaired)
	require.NoError(t, w.Sync())
	assert.Equal(t, 6, srv.LogCount())
}

// TestBadInputFramesAmongGoodOnes: framed Logs (the Encoder's output) in
// one Write: a frame SLS would refuse is dropped and counted, and the
// frames after it still arrive.
func TestBadInputFramesAmongGoodOnes(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	enc := NewEncoder(zap.NewProductionEncoderConfig(), WithFieldSet(NoFieldSet()))
	frame := func(msg string) []byte {
		buf, err := enc.EncodeEntry(zapcore.Entry{Message: msg, Time: time.Now()}, nil)
		require.NoError(t, err)
		defer buf.Free()
		return append([]byte(nil), buf.Bytes()...)
	}
	// A well-framed Log whose content key SLS forbids.
	reserved := []byte{0x0A, 0x14, 0x08, 0x01, 0x12, 0x10, 0x0A, 0x08, '_', '_', 't', 'i', 'm', 'e', '_', '_', 0x12, 0x04, 'a', 'b', 'c', 'd'}
	var p []byte
	p = append(p, frame("first")...)
	p = append(p, reserved...)
	p = append(p, frame("second")...)
	_, err := w.Write(p)
	var de *DropError
	require.ErrorAs(t, err, &de)
	require.NoError(t, func() error {
		err := w.Sync()
		var nd *NotDeliveredError
		if errors.As(err, &nd) && nd.Entries == 1 {
			return nil
		}
		return fmt.Errorf("want exactly 1 entry not delivered, got %v", err)
	}())
	var msgs []string
	for _, l := range srv.Logs() {
		msgs = append(msgs, l.Contents["msg"])
	}
	assert.Equal(t, []string{"first", "second"}, msgs)
	assert.Equal(t, uint64(1), w.Stats().Dropped)
}

// TestSyncCountsManyDistinctCauses: more than 1024 unreported failures of
// more kinds than a NotDeliveredError lists: Sync still counts them all.
func TestSyncCountsManyDistinctCauses(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 << 10 })
	logger := relLogger(w, &relZapErrors{})
	const n = 1100
	for i := 0; i < n; i++ {
		// Too large, each by a different size: a different reason each.
		logger.Info("too large", zap.String("big", strings.Repeat("y", 70<<10+i)))
	}
	err := w.Sync()
	var nd *NotDeliveredError
	require.ErrorAs(t, err, &nd)
	assert.Equal(t, n, nd.Entries, "Sync counts every dropped entry")
	sum := 0
	for _, c := range nd.Causes {
		sum += causeEntries(c)
	}
	assert.Equal(t, n, sum, "the causes add up to the entries")
	assert.LessOrEqual(t, len(nd.Causes), maxCauses+2)
	assert.Equal(t, uint64(n), w.Stats().Dropped)
}
