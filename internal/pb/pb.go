// Package pb holds the few append-style protobuf helpers zapsls needs to write
// SLS LogGroup bytes by hand. Field numbers and wire types follow the SDK's
// log.proto (proto2):
//
//	Log      { uint32 Time = 1; repeated Content Contents = 2; fixed32 TimeNs = 4; }
//	Content  { string Key = 1; string Value = 2; }   // LogTag has the same shape
//	LogGroup { repeated Log Logs = 1; string Topic = 3; string Source = 4; repeated LogTag LogTags = 6; }
//
// Repeated fields concatenate on the wire, so a LogGroup body is the framed
// Logs followed by Topic, Source and the tags.
package pb

import "encoding/binary"

// Field tags (field number << 3 | wire type) used by zapsls.
const (
	TagLogTime     = 1 << 3   // Log.Time, varint (wire type 0)
	TagLogContent  = 2<<3 | 2 // Log.Contents, length-delimited
	TagLogTimeNs   = 4<<3 | 5 // Log.TimeNs, fixed32
	TagKey         = 1<<3 | 2 // Content.Key / LogTag.Key
	TagValue       = 2<<3 | 2 // Content.Value / LogTag.Value
	TagGroupLog    = 1<<3 | 2 // LogGroup.Logs
	TagGroupTopic  = 3<<3 | 2 // LogGroup.Topic
	TagGroupSource = 4<<3 | 2 // LogGroup.Source
	TagGroupTag    = 6<<3 | 2 // LogGroup.LogTags

	// TagRepairs is not part of log.proto: the zapsls Encoder appends it
	// (field 15, varint) after a framed Log to tell the Writer how many keys
	// or values it had to repair. Protobuf decoders skip unknown fields, and
	// the Writer strips it before anything is sent.
	TagRepairs = 15 << 3
)

// MaxVarintLen32 is the longest varint that encodes a 32-bit length.
const MaxVarintLen32 = 5

// AppendVarint appends v as a protobuf varint.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// SizeVarint is the number of bytes AppendVarint writes for v.
func SizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendFixed32 appends v as a little-endian fixed32.
func AppendFixed32(b []byte, v uint32) []byte {
	return binary.LittleEndian.AppendUint32(b, v)
}

// AppendString appends a length-delimited field.
func AppendString(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = AppendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendPair appends a length-delimited message with a Key and a Value field:
// a Log's Content or a LogGroup's LogTag, depending on tag.
func AppendPair(b []byte, tag byte, key, value string) []byte {
	inner := 2 + SizeVarint(uint64(len(key))) + len(key) + SizeVarint(uint64(len(value))) + len(value)
	b = append(b, tag)
	b = AppendVarint(b, uint64(inner))
	b = AppendString(b, TagKey, key)
	return AppendString(b, TagValue, value)
}

// ConsumeVarint reads a varint from the front of b. n is 0 when b does not
// start with a complete varint of at most 10 bytes.
func ConsumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
