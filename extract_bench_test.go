package zapsls

import (
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// BenchmarkEncoderOptions measures each message and built-in option of the
// native path against the same entry without it. "plain" is a message with
// nothing to extract (zap's benchmark messages), "8pairs" one with eight
// pairs to extract, as JSON for WithMessageJSON and as KEY=VALUE for
// WithMessageKV. Compare the plain cases with "none" over several runs:
//
//	go test -run '^$' -bench 'EncoderOptions' -count 10 . | tee out.txt
func BenchmarkEncoderOptions(b *testing.B) {
	const jsonPairs = `{"user":"ann","order":"A-1001","items":3,"total":42.5,"currency":"EUR","paid":true,"region":"cn-hangzhou","latency_ms":15}`
	const kvPairs = `order placed user=ann order=A-1001 items=3 total=42.5 currency=EUR paid=true region="cn hangzhou" latency_ms=15`
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
		{"none/8pairs-json", nil, jsonPairs},
		{"json/8pairs-json", []EncoderOption{WithMessageJSON(Extract{})}, jsonPairs},
		{"json-drop/8pairs-json", []EncoderOption{WithMessageJSON(Extract{DropMessage: true})}, jsonPairs},
		{"none/8pairs-kv", nil, kvPairs},
		{"kv/8pairs-kv", []EncoderOption{WithMessageKV(Extract{})}, kvPairs},
		{"kv-drop/8pairs-kv", []EncoderOption{WithMessageKV(Extract{DropMessage: true})}, kvPairs},
	} {
		enc := NewEncoder(benchEncoderConfig(), bc.opts...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			ent := zapcore.Entry{Level: zapcore.InfoLevel, Time: time.Now(), Message: bc.msg}
			for i := 0; i < b.N; i++ {
				if bc.msg == "" {
					ent.Message = benchGetMessage(i)
				}
				buf, err := enc.EncodeEntry(ent, fields)
				if err != nil {
					b.Fatal(err)
				}
				buf.Free()
			}
		})
	}
}
