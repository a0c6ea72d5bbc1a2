package zapsls

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/pb"
	"github.com/zapsls/zapsls/slstest"
)

// The encoder's fast paths (addPlain, isASCII, validString) against a
// model of the slow path written from the rules alone, with the standard
// library's UTF-8 check: every key and value, however adversarial, must
// come out as the same bytes with the same repair count.

// modelValidUTF8 is s with each invalid byte replaced by U+FFFD, as
// NewEncoder documents.
func modelValidUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// modelCut cuts valid UTF-8 s to at most n bytes, marker included, at a
// rune boundary.
func modelCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	m := n - len(TruncatedMarker)
	for m > 0 && !utf8.RuneStart(s[m]) {
		m--
	}
	return s[:m] + TruncatedMarker
}

// modelContent is the Content the encoder must write for key and val with
// the value cap maxValue, and the repairs it counts.
func modelContent(key, val string, maxValue int) ([]byte, int) {
	repairs := 0
	if len(key) == 0 || len(key) > MaxKeyBytes || !utf8.ValidString(key) || reservedKey(key) {
		repairs++
		if len(key) == 0 || reservedKey(key) {
			key = RenamedKeyPrefix + key
		}
		key = modelCut(modelValidUTF8(key), MaxKeyBytes)
	}
	if len(val) > maxValue || !utf8.ValidString(val) {
		repairs++
		val = modelCut(modelValidUTF8(val), maxValue)
	}
	return pb.AppendPair(nil, pb.TagLogContent, key, val), repairs
}

// adversarialPieces are the parts adversarial strings are made of: ASCII,
// valid multi-byte runes, and what utf8.Valid refuses (stray continuation
// bytes, truncated sequences, overlong encodings, surrogates, code points
// past U+10FFFF, bytes that never occur in UTF-8), and reserved keys.
var adversarialPieces = []string{
	"a", "Z", "0", " ", "=", "\x00", "\x7f", "_",
	"é", "€", "日本", "😀", "\u0800", "\uffff", "\U00010000", "\U0010ffff",
	"\x80", "\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc3(", "\xe2(\xa1",
	"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xb0\x80",
	"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8", "\xfe", "\xff",
	"__time__", "__tag__:", "__source__", "_extract_others_",
}

// adversarialString is a string of about n bytes: an ASCII run of random
// length, so that what follows straddles every position of an 8-byte
// block, then pieces.
func adversarialString(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString(strings.Repeat("k", rng.IntN(18)))
	for b.Len() < n {
		if rng.IntN(3) == 0 {
			b.WriteString(strings.Repeat("x", rng.IntN(20)))
			continue
		}
		b.WriteString(adversarialPieces[rng.IntN(len(adversarialPieces))])
	}
	return b.String()
}

// adversarialPair picks a key and a value, most of them near the bounds:
// keys around MaxKeyBytes, values around maxValue.
func adversarialPair(rng *rand.Rand, maxValue int) (key, val string) {
	keyLens := []int{0, 1, 7, 8, 9, 15, 16, 17, 120, 127, 128, 129, 140}
	valLens := []int{0, 1, 7, 8, 9, 16, 17, 63, 64, 120, 124, 125, 128, maxValue - 3, maxValue, maxValue + 1, maxValue + 9}
	key = adversarialString(rng, keyLens[rng.IntN(len(keyLens))])
	val = adversarialString(rng, valLens[rng.IntN(len(valLens))])
	switch rng.IntN(8) {
	case 0:
		key = key[:min(len(key), rng.IntN(MaxKeyBytes+3))]
	case 1:
		val = val[:min(len(val), rng.IntN(maxValue+3))]
	case 2:
		key = strings.Repeat("k", rng.IntN(MaxKeyBytes+3))
	case 3: // valid values of exactly the lengths around the cap
		val = validOfLen(rng, valLens[rng.IntN(len(valLens))])
	case 4:
		key = validOfLen(rng, keyLens[rng.IntN(len(keyLens))])
	}
	return key, val
}

// validOfLen is valid UTF-8 of exactly n bytes: ASCII with, now and then,
// a multi-byte rune.
func validOfLen(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		r := []string{"a", "é", "€", "😀"}[rng.IntN(4)]
		if b.Len()+len(r) > n {
			r = "a"
		}
		b.WriteString(r)
	}
	return b.String()
}

func TestEncoderFastPathMatchesModel(t *testing.T) {
	const maxValue = 200
	rng := rand.New(rand.NewPCG(1, 2))
	conf := &encoderConf{EncoderConfig: testEncoderConfig(), sep: ".", maxValue: maxValue}
	conf.prepare()
	adders := map[string]func(e *encoder, key, val string){
		"AddString":     func(e *encoder, key, val string) { e.AddString(key, val) },
		"AddByteString": func(e *encoder, key, val string) { e.AddByteString(key, []byte(val)) },
		"builtin":       func(e *encoder, key, val string) { builtin(e, key, val, validString) },
		"builtin bytes": func(e *encoder, key, val string) { builtin(e, key, []byte(val), validBytes) },
		"addEncoded": func(e *encoder, key, val string) {
			e.text.buf = append(e.scratch[:0], val...)
			e.addEncoded(key, "")
		},
	}
	for i := 0; i < 20000; i++ {
		key, val := adversarialPair(rng, maxValue)
		want, wantRepairs := modelContent(key, val, maxValue)
		if i%2 == 0 { // also after other contents, with the buffer's capacity used up
			want = append([]byte("\x12\x06\x0a\x01p\x12\x01q"), want...)
		}
		for name, add := range adders {
			if name == "addEncoded" && val == "" {
				continue // an empty Encode* result falls back to its default
			}
			e := getEncoder(conf)
			if i%2 == 0 {
				e.AddString("p", "q")
			}
			add(e, key, val)
			if !bytes.Equal(e.buf, want) || e.repairs != wantRepairs {
				t.Fatalf("%s(%q, %q):\n got %q, %d repairs\nwant %q, %d repairs", name, key, val, e.buf, e.repairs, want, wantRepairs)
			}
			putEncoder(e)
		}
		// In a namespace the key is the prefix and the key: the slow path.
		e := getEncoder(conf)
		e.OpenNamespace("ns")
		e.AddString(key, val)
		want, wantRepairs = modelContent("ns."+key, val, maxValue)
		if !bytes.Equal(e.buf, want) || e.repairs != wantRepairs {
			t.Fatalf("namespaced AddString(%q, %q):\n got %q, %d repairs\nwant %q, %d repairs", key, val, e.buf, e.repairs, want, wantRepairs)
		}
		e.prefix = e.prefix[:0]
		putEncoder(e)
	}
}

// isASCII and validString against the standard library on every length up
// to 80 with a non-ASCII byte, or a multi-byte rune, at every position.
func TestEncoderASCIICheckEveryPosition(t *testing.T) {
	for n := 0; n <= 80; n++ {
		base := strings.Repeat("a", n)
		if !isASCII(base) || !isASCII([]byte(base)) {
			t.Fatalf("isASCII(%d bytes of a) = false", n)
		}
		for i := 0; i < n; i++ {
			for _, c := range []byte{0x80, 0xbf, 0xc3, 0xed, 0xff} {
				s := base[:i] + string([]byte{c}) + base[i+1:]
				if isASCII(s) || isASCII([]byte(s)) {
					t.Fatalf("isASCII(%q) = true", s)
				}
			}
			for _, r := range []string{"é", "€", "😀", "\xed\xa0\x80", "\xc0\x80", "\xe2\x82"} {
				s := base[:i] + r + base[i:]
				if validString(s) != utf8.ValidString(s) || validBytes([]byte(s)) != utf8.Valid([]byte(s)) {
					t.Fatalf("validString(%q) = %v", s, validString(s))
				}
			}
		}
	}
}

// A whole entry through EncodeEntry: the frame is the model's, byte for
// byte, with the repair trailer counting the model's repairs.
func TestEncoderFastPathFrameMatchesModel(t *testing.T) {
	const maxValue = 100
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := zapcore.EncoderConfig{MessageKey: "msg"}
	enc := NewEncoder(cfg, WithFieldSet(NoFieldSet()), WithMaxValueBytes(maxValue))
	for i := 0; i < 3000; i++ {
		msg := adversarialString(rng, rng.IntN(2*maxValue))
		ent := zapcore.Entry{Message: msg, Time: time.Unix(1_700_000_000, int64(rng.IntN(2))*123456789)}
		content, repairs := modelContent("msg", msg, maxValue)
		log := pb.AppendVarint([]byte{pb.TagLogTime}, uint64(ent.Time.Unix()))
		log = append(log, content...)
		var fields []zapcore.Field
		for j := rng.IntN(6); j > 0; j-- {
			key, val := adversarialPair(rng, maxValue)
			if rng.IntN(2) == 0 {
				fields = append(fields, zap.String(key, val))
			} else {
				fields = append(fields, zap.ByteString(key, []byte(val)))
			}
			content, n := modelContent(key, val, maxValue)
			log, repairs = append(log, content...), repairs+n
		}
		if ns := ent.Time.Nanosecond(); ns != 0 {
			log = pb.AppendFixed32(append(log, pb.TagLogTimeNs), uint32(ns))
		}
		want := append(pb.AppendVarint([]byte{pb.TagGroupLog}, uint64(len(log))), log...)
		if repairs > 0 {
			want = appendRepairs(want, repairs)
		}
		buf, err := enc.EncodeEntry(ent, fields)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("entry %q with %v:\n got %q\nwant %q", msg, fields, buf.Bytes(), want)
		}
		buf.Free()
	}
}

// FuzzEncoderFastPath: any key and value, through AddString and
// AddByteString, give the model's bytes and repairs, and a content SLS
// accepts.
func FuzzEncoderFastPath(f *testing.F) {
	for _, p := range adversarialPieces {
		f.Add("key", "abcdefg"+p)
		f.Add(p, "v")
	}
	const maxValue = 64
	conf := &encoderConf{EncoderConfig: testEncoderConfig(), sep: ".", maxValue: maxValue}
	conf.prepare()
	f.Fuzz(func(t *testing.T, key, val string) {
		want, wantRepairs := modelContent(key, val, maxValue)
		for _, bytesValue := range []bool{false, true} {
			e := getEncoder(conf)
			if bytesValue {
				e.AddByteString(key, []byte(val))
			} else {
				e.AddString(key, val)
			}
			if !bytes.Equal(e.buf, want) || e.repairs != wantRepairs {
				t.Fatalf("got %q, %d repairs; want %q, %d repairs", e.buf, e.repairs, want, wantRepairs)
			}
			putEncoder(e)
		}
		log := append([]byte{pb.TagLogTime, 1}, want...)
		if err := slstest.ContentError(contentsOf(t, log)); err != nil {
			t.Fatalf("SLS would refuse it: %v", err)
		}
	})
}

// contentsOf returns the key and value of the one content in log.
func contentsOf(t *testing.T, log []byte) (key, val string) {
	t.Helper()
	l := decodeLog(t, append(pb.AppendVarint([]byte{pb.TagGroupLog}, uint64(len(log))), log...))
	if len(l.Contents) != 1 {
		t.Fatalf("%d contents", len(l.Contents))
	}
	return l.Contents[0].GetKey(), l.Contents[0].GetValue()
}
