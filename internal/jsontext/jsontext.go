// Package jsontext writes the JSON text that zapsls stores for values SLS
// has no structure for: arrays, and objects inside arrays. It implements
// zapcore.ArrayEncoder and zapcore.ObjectEncoder with zap's JSON conventions
// (NaN and infinities as strings, complex numbers as "1+2i", invalid UTF-8
// as U+FFFD), appending to a caller-owned []byte so that encoding allocates
// nothing.
package jsontext

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.uber.org/zap/zapcore"
)

// Encoder appends JSON to Buf. The zero value needs a Config for times and
// durations; without EncodeTime or EncodeDuration it writes Unix nanoseconds
// and nanoseconds, as zap's JSON encoder does. An Encoder is not safe for
// concurrent use.
type Encoder struct {
	Buf    []byte
	Config *zapcore.EncoderConfig
	// Reflect encodes a value with the configured reflected encoder and
	// returns JSON text without a trailing newline.
	Reflect func(v interface{}) ([]byte, error)

	openNamespaces int
	needSep        bool
}

var (
	_ zapcore.ArrayEncoder  = (*Encoder)(nil)
	_ zapcore.ObjectEncoder = (*Encoder)(nil)
)

// AppendArray writes arr as a JSON array.
func (e *Encoder) AppendArray(arr zapcore.ArrayMarshaler) error {
	e.sep()
	return e.array(arr)
}

// AppendObject writes obj as a JSON object.
func (e *Encoder) AppendObject(obj zapcore.ObjectMarshaler) error {
	e.sep()
	return e.object(obj)
}

// Array writes arr as a JSON array at the top level of Buf.
func (e *Encoder) array(arr zapcore.ArrayMarshaler) error {
	e.Buf = append(e.Buf, '[')
	e.needSep = false
	err := arr.MarshalLogArray(e)
	e.Buf = append(e.Buf, ']')
	e.needSep = true
	return err
}

func (e *Encoder) object(obj zapcore.ObjectMarshaler) error {
	outer := e.openNamespaces
	e.openNamespaces = 0
	e.Buf = append(e.Buf, '{')
	e.needSep = false
	err := obj.MarshalLogObject(e)
	e.closeNamespaces()
	e.Buf = append(e.Buf, '}')
	e.needSep = true
	e.openNamespaces = outer
	return err
}

// WriteArray resets the separator state and writes arr as one JSON array.
func (e *Encoder) WriteArray(arr zapcore.ArrayMarshaler) error {
	e.needSep = false
	e.openNamespaces = 0
	return e.array(arr)
}

func (e *Encoder) closeNamespaces() {
	for ; e.openNamespaces > 0; e.openNamespaces-- {
		e.Buf = append(e.Buf, '}')
	}
}

func (e *Encoder) sep() {
	if e.needSep {
		e.Buf = append(e.Buf, ',')
	}
	e.needSep = true
}

func (e *Encoder) key(k string) {
	e.sep()
	e.Buf = AppendString(e.Buf, k)
	e.Buf = append(e.Buf, ':')
	e.needSep = false
}

// AppendReflected writes v with the reflected encoder.
func (e *Encoder) AppendReflected(v interface{}) error {
	b, err := e.Reflect(v)
	if err != nil {
		return err
	}
	e.sep()
	e.Buf = append(e.Buf, b...)
	return nil
}

func (e *Encoder) AppendBool(v bool)             { e.sep(); e.Buf = strconv.AppendBool(e.Buf, v) }
func (e *Encoder) AppendByteString(v []byte)     { e.sep(); e.Buf = AppendBytes(e.Buf, v) }
func (e *Encoder) AppendComplex128(v complex128) { e.sep(); e.Buf = appendComplex(e.Buf, v, 64) }
func (e *Encoder) AppendComplex64(v complex64) {
	e.sep()
	e.Buf = appendComplex(e.Buf, complex128(v), 32)
}
func (e *Encoder) AppendFloat64(v float64) { e.sep(); e.Buf = appendFloat(e.Buf, v, 64) }
func (e *Encoder) AppendFloat32(v float32) { e.sep(); e.Buf = appendFloat(e.Buf, float64(v), 32) }
func (e *Encoder) AppendInt(v int)         { e.AppendInt64(int64(v)) }
func (e *Encoder) AppendInt64(v int64)     { e.sep(); e.Buf = strconv.AppendInt(e.Buf, v, 10) }
func (e *Encoder) AppendInt32(v int32)     { e.AppendInt64(int64(v)) }
func (e *Encoder) AppendInt16(v int16)     { e.AppendInt64(int64(v)) }
func (e *Encoder) AppendInt8(v int8)       { e.AppendInt64(int64(v)) }
func (e *Encoder) AppendString(v string)   { e.sep(); e.Buf = AppendString(e.Buf, v) }
func (e *Encoder) AppendUint(v uint)       { e.AppendUint64(uint64(v)) }
func (e *Encoder) AppendUint64(v uint64)   { e.sep(); e.Buf = strconv.AppendUint(e.Buf, v, 10) }
func (e *Encoder) AppendUint32(v uint32)   { e.AppendUint64(uint64(v)) }
func (e *Encoder) AppendUint16(v uint16)   { e.AppendUint64(uint64(v)) }
func (e *Encoder) AppendUint8(v uint8)     { e.AppendUint64(uint64(v)) }
func (e *Encoder) AppendUintptr(v uintptr) { e.AppendUint64(uint64(v)) }
func (e *Encoder) AppendTimeLayout(t time.Time, layout string) {
	e.sep()
	e.Buf = append(e.Buf, '"')
	e.Buf = t.AppendFormat(e.Buf, layout)
	e.Buf = append(e.Buf, '"')
}

// AppendDuration uses the config's EncodeDuration, falling back to
// nanoseconds when it is unset or writes nothing.
func (e *Encoder) AppendDuration(d time.Duration) {
	n := len(e.Buf)
	if e.Config != nil && e.Config.EncodeDuration != nil {
		e.Config.EncodeDuration(d, e)
	}
	if len(e.Buf) == n {
		e.AppendInt64(int64(d))
	}
}

// AppendTime uses the config's EncodeTime, falling back to Unix nanoseconds
// when it is unset or writes nothing.
func (e *Encoder) AppendTime(t time.Time) {
	n := len(e.Buf)
	if e.Config != nil && e.Config.EncodeTime != nil {
		e.Config.EncodeTime(t, e)
	}
	if len(e.Buf) == n {
		e.AppendInt64(t.UnixNano())
	}
}

func (e *Encoder) AddArray(k string, v zapcore.ArrayMarshaler) error {
	e.key(k)
	return e.array(v)
}

func (e *Encoder) AddObject(k string, v zapcore.ObjectMarshaler) error {
	e.key(k)
	return e.object(v)
}

func (e *Encoder) AddBinary(k string, v []byte) {
	e.key(k)
	e.Buf = append(e.Buf, '"')
	e.Buf = base64.StdEncoding.AppendEncode(e.Buf, v)
	e.Buf = append(e.Buf, '"')
	e.needSep = true
}

func (e *Encoder) AddReflected(k string, v interface{}) error {
	b, err := e.Reflect(v)
	if err != nil {
		return err
	}
	e.key(k)
	e.Buf = append(e.Buf, b...)
	e.needSep = true
	return nil
}

// OpenNamespace opens a nested object that lasts until the enclosing object
// (or the array element) ends.
func (e *Encoder) OpenNamespace(k string) {
	e.key(k)
	e.Buf = append(e.Buf, '{')
	e.needSep = false
	e.openNamespaces++
}

func (e *Encoder) AddByteString(k string, v []byte)     { e.key(k); e.AppendByteString(v) }
func (e *Encoder) AddBool(k string, v bool)             { e.key(k); e.AppendBool(v) }
func (e *Encoder) AddComplex128(k string, v complex128) { e.key(k); e.AppendComplex128(v) }
func (e *Encoder) AddComplex64(k string, v complex64)   { e.key(k); e.AppendComplex64(v) }
func (e *Encoder) AddDuration(k string, v time.Duration) {
	e.key(k)
	e.AppendDuration(v)
}
func (e *Encoder) AddFloat64(k string, v float64) { e.key(k); e.AppendFloat64(v) }
func (e *Encoder) AddFloat32(k string, v float32) { e.key(k); e.AppendFloat32(v) }
func (e *Encoder) AddInt(k string, v int)         { e.key(k); e.AppendInt64(int64(v)) }
func (e *Encoder) AddInt64(k string, v int64)     { e.key(k); e.AppendInt64(v) }
func (e *Encoder) AddInt32(k string, v int32)     { e.key(k); e.AppendInt64(int64(v)) }
func (e *Encoder) AddInt16(k string, v int16)     { e.key(k); e.AppendInt64(int64(v)) }
func (e *Encoder) AddInt8(k string, v int8)       { e.key(k); e.AppendInt64(int64(v)) }
func (e *Encoder) AddString(k, v string)          { e.key(k); e.AppendString(v) }
func (e *Encoder) AddTime(k string, v time.Time)  { e.key(k); e.AppendTime(v) }
func (e *Encoder) AddUint(k string, v uint)       { e.key(k); e.AppendUint64(uint64(v)) }
func (e *Encoder) AddUint64(k string, v uint64)   { e.key(k); e.AppendUint64(v) }
func (e *Encoder) AddUint32(k string, v uint32)   { e.key(k); e.AppendUint64(uint64(v)) }
func (e *Encoder) AddUint16(k string, v uint16)   { e.key(k); e.AppendUint64(uint64(v)) }
func (e *Encoder) AddUint8(k string, v uint8)     { e.key(k); e.AppendUint64(uint64(v)) }
func (e *Encoder) AddUintptr(k string, v uintptr) { e.key(k); e.AppendUint64(uint64(v)) }

// AppendFloat appends the shortest text that round-trips f, in decimal
// notation for magnitudes in [1e-6, 1e21) and exponent notation outside it
// (the rule of ECMAScript and encoding/json), with NaN, +Inf and -Inf spelled
// out. It writes no quotes.
func AppendFloat(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	return strconv.AppendFloat(b, f, format, -1, bitSize)
}

// appendFloat is AppendFloat inside JSON: NaN and infinities are quoted.
func appendFloat(b []byte, f float64, bitSize int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b = append(b, '"')
		b = AppendFloat(b, f, bitSize)
		return append(b, '"')
	}
	return AppendFloat(b, f, bitSize)
}

// AppendComplex appends c as "real+imagi" without quotes, as zap does.
func AppendComplex(b []byte, c complex128, bitSize int) []byte {
	r, i := real(c), imag(c)
	b = strconv.AppendFloat(b, r, 'g', -1, bitSize)
	if i >= 0 || math.IsNaN(i) {
		b = append(b, '+')
	}
	b = strconv.AppendFloat(b, i, 'g', -1, bitSize)
	return append(b, 'i')
}

func appendComplex(b []byte, c complex128, bitSize int) []byte {
	b = append(b, '"')
	b = AppendComplex(b, c, bitSize)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// AppendString appends s as a quoted JSON string. Like zap's JSON encoder it
// escapes quotes, backslashes and control characters (not HTML), and writes
// each invalid UTF-8 byte as \ufffd.
func AppendString(b []byte, s string) []byte {
	return appendStringLike(b, s, utf8.DecodeRuneInString)
}

// AppendBytes is AppendString for a byte slice, without converting it.
func AppendBytes(b []byte, s []byte) []byte {
	return appendStringLike(b, s, utf8.DecodeRune)
}

func appendStringLike[S string | []byte](b []byte, s S, decodeRune func(S) (rune, int)) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
