package zapsls

import (
	"strings"
	"testing"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// nested is an object nested depth levels deep under key, ending in value.
type nested struct {
	key, value string
	depth      int
}

func (n nested) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if n.depth <= 0 {
		enc.AddString(n.key, n.value)
		return nil
	}
	if n.depth%3 == 0 {
		enc.OpenNamespace(n.key)
	}
	return enc.AddObject(n.key, nested{n.key, n.value, n.depth - 1})
}

// FuzzEncoder throws arbitrary keys, values and nesting at the Encoder and
// requires that the SDK decodes every output and that every content is one
// SLS accepts. The seed corpus is in testdata/fuzz/FuzzEncoder.
func FuzzEncoder(f *testing.F) {
	f.Add("msg", "value", 0, []byte("bytes"))
	f.Add("__time__", "\xff\xfe", 3, []byte{0, 1, 2})
	f.Add("", strings.Repeat("é", 70), 7, []byte(nil))
	f.Add("__tag__:k", "a\x00b", 40, []byte("\xc3\x28"))
	f.Add(strings.Repeat("k", 130), "v", 1, []byte("{}"))
	// Every key SLS reserves (slstest.ContentError lists them).
	for _, k := range []string{"__time__", "__source__", "__topic__", "__partition_time__", "_extract_others_", "__extract_others__", "__tag__:"} {
		f.Add(k, "v", 1, []byte("x"))
	}
	f.Fuzz(func(t *testing.T, key, value string, depth int, raw []byte) {
		depth = depth % 64
		if depth < 0 {
			depth = -depth
		}
		enc := NewEncoder(testEncoderConfig(), WithMaxValueBytes(256))
		zap.String(key, value).AddTo(enc) // context, with its own repairs
		fields := []zapcore.Field{
			zap.String(key, value),
			zap.ByteString(key, raw),
			zap.Binary(key+"b", raw),
			zap.Object(key, nested{key, value, depth}),
			zap.Strings(key, []string{value, key}),
			zap.Any(key+"m", map[string]string{key: value}),
			zap.Namespace(key),
			zap.String(value, key),
		}
		buf, err := enc.EncodeEntry(zapcore.Entry{Message: value, LoggerName: key}, fields)
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Free()
		var g sls.LogGroup
		if err := g.Unmarshal(buf.Bytes()); err != nil {
			t.Fatalf("SDK cannot decode: %v", err)
		}
		if len(g.Logs) != 1 {
			t.Fatalf("%d logs", len(g.Logs))
		}
		for _, c := range g.Logs[0].Contents {
			k, v := c.GetKey(), c.GetValue()
			// slstest's check of what SLS accepts, independent of the
			// Encoder's own list of reserved keys.
			if err := slstest.ContentError(k, v); err != nil {
				t.Fatalf("SLS would refuse %q=%q: %v", k, v, err)
			}
			if len(v) > 256 {
				t.Fatalf("value of %d bytes", len(v))
			}
		}
		// The Writer's own check of foreign input agrees.
		if err := newLineReader(LineOptions{}).forEachEntry(buf.Bytes(), func([]byte, int) {}); err != nil {
			t.Fatalf("Writer refuses the Encoder's output: %v", err)
		}
	})
}
