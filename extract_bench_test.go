//go:build unix

package zapsls

import (
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// Messages with eight pairs to extract, for WithMessageJSON and
// WithMessageKV.
const (
	benchJSONPairs = `{"user":"ann","order":"A-1001","items":3,"total":42.5,"currency":"EUR","paid":true,"region":"cn-hangzhou","latency_ms":15}`
	benchKVPairs   = `order placed user=ann order=A-1001 items=3 total=42.5 currency=EUR paid=true region="cn hangzhou" latency_ms=15`
)

// BenchmarkEncoderOptions measures each message and built-in option of the
// native path against the same entry without it. "plain" is a message with
// nothing to extract (zap's benchmark messages), "8pairs" one with eight
// pairs to extract, as JSON for WithMessageJSON and as KEY=VALUE for
// WithMessageKV. Compare the plain cases with "none" over several runs
// (BenchmarkEncoderOptionsPaired does it with less noise):
//
//	go test -run '^$' -bench 'EncoderOptions' -count 10 . | tee out.txt
func BenchmarkEncoderOptions(b *testing.B) {
	fields := benchFakeFields()[:4]
	for _, bc := range []struct {
		name string
		opts []EncoderOption
		msg  string
	}{
		{"none/plain", nil, ""},
		{"json/plain", []EncoderOption{WithMessageJSON(Extract{})}, ""},
		{"kv/plain", []EncoderOption{WithMessageKV(Extract{})}, ""},
		{"json+kv/plain", []EncoderOption{WithMessageJSON(Extract{}), WithMessageKV(Extract{})}, ""},
		{"affixes/plain", []EncoderOption{WithBuiltinAffixes("__", "__")}, ""},
		{"root/plain", []EncoderOption{WithBuiltinRoot("meta")}, ""},
		{"none/8pairs-json", nil, benchJSONPairs},
		{"json/8pairs-json", []EncoderOption{WithMessageJSON(Extract{})}, benchJSONPairs},
		{"json-drop/8pairs-json", []EncoderOption{WithMessageJSON(Extract{DropMessage: true})}, benchJSONPairs},
		{"none/8pairs-kv", nil, benchKVPairs},
		{"kv/8pairs-kv", []EncoderOption{WithMessageKV(Extract{})}, benchKVPairs},
		{"kv-drop/8pairs-kv", []EncoderOption{WithMessageKV(Extract{DropMessage: true})}, benchKVPairs},
	} {
		enc := NewEncoder(benchEncoderConfig(), bc.opts...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			benchEncodeEntries(b, enc, bc.msg, fields, 0, b.N)
		})
	}
}

// BenchmarkEncoderOptionsPaired times each option against no option in
// alternating blocks of entries within one run, on the same message: one
// with nothing to extract ("plain", zap's benchmark messages), or one with
// eight pairs ("8pairs"). It counts the thread's CPU time (on Linux), not wall time,
// and alternates the sides, so that the load of a shared machine weighs on
// both alike. It reports base-ns/entry, option-ns/entry and their ratio
// (option/base); compare the medians of the ratio over several runs:
//
//	go test -run '^$' -bench 'EncoderOptionsPaired' -count 10 .
func BenchmarkEncoderOptionsPaired(b *testing.B) {
	const block = 256
	fields := benchFakeFields()[:4]
	base := NewEncoder(benchEncoderConfig())
	for _, bc := range []struct {
		name string
		opts []EncoderOption
		msg  string // "": zap's benchmark messages
	}{
		{"json/plain", []EncoderOption{WithMessageJSON(Extract{})}, ""},
		{"kv/plain", []EncoderOption{WithMessageKV(Extract{})}, ""},
		{"json+kv/plain", []EncoderOption{WithMessageJSON(Extract{}), WithMessageKV(Extract{})}, ""},
		{"json/8pairs", []EncoderOption{WithMessageJSON(Extract{})}, benchJSONPairs},
		{"json-drop/8pairs", []EncoderOption{WithMessageJSON(Extract{DropMessage: true})}, benchJSONPairs},
		{"kv/8pairs", []EncoderOption{WithMessageKV(Extract{})}, benchKVPairs},
		{"kv-drop/8pairs", []EncoderOption{WithMessageKV(Extract{DropMessage: true})}, benchKVPairs},
	} {
		opt := NewEncoder(benchEncoderConfig(), bc.opts...)
		b.Run(bc.name, func(b *testing.B) {
			defer lockThread()()
			run := func(enc zapcore.Encoder, from int) time.Duration {
				start := threadCPUClock()
				benchEncodeEntries(b, enc, bc.msg, fields, from, from+block)
				return threadCPUClock() - start
			}
			var tBase, tOpt time.Duration
			blocks := 0
			for i := 0; i < b.N; i += 2 * block {
				// Alternate which side goes first, so neither always runs
				// on a cache the other warmed.
				if blocks%2 == 0 {
					tBase += run(base, i)
					tOpt += run(opt, i)
				} else {
					tOpt += run(opt, i)
					tBase += run(base, i)
				}
				blocks++
			}
			n := float64(blocks * block)
			b.ReportMetric(float64(tBase.Nanoseconds())/n, "base-ns/entry")
			b.ReportMetric(float64(tOpt.Nanoseconds())/n, "option-ns/entry")
			b.ReportMetric(float64(tOpt)/float64(tBase), "ratio")
		})
	}
}

// benchEncodeEntries encodes entries from to to with msg, or zap's
// benchmark messages when msg is empty.
func benchEncodeEntries(b *testing.B, enc zapcore.Encoder, msg string, fields []zapcore.Field, from, to int) {
	ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(), Message: msg}
	for i := from; i < to; i++ {
		if msg == "" {
			ent.Message = benchGetMessage(i)
		}
		buf, err := enc.EncodeEntry(ent, fields)
		if err != nil {
			b.Fatal(err)
		}
		buf.Free()
	}
}
