package zapsls

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// configErrors returns the *ConfigErrors among what OnError received.
func configErrors(l *errorLog) []*ConfigError {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*ConfigError
	for _, e := range l.errs {
		var ce *ConfigError
		if errors.As(e, &ce) {
			out = append(out, ce)
		}
	}
	return out
}

// WithMaxValueBytes beyond SLS's limit cannot put a value SLS refuses on
// the wire (issue: with WithMaxValueBytes(5_000_000) a 3 MB value went out
// through NewCore and SLS refused the whole batch): it is lowered to the
// limit and reported once, however many cores With derives.
func TestWithMaxValueBytesBeyondSLSLimit(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	big := strings.Repeat("v", 3_000_000)
	for _, tc := range []struct {
		name     string
		option   int
		reported bool
		want     int // length of the value that arrives
	}{
		{"the issue's 5,000,000", 5_000_000, true, DefaultMaxValueBytes},
		{"one byte beyond", DefaultMaxValueBytes + 1, true, DefaultMaxValueBytes},
		{"at the limit", DefaultMaxValueBytes, false, DefaultMaxValueBytes},
		{"below it", 500_000, false, 500_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Reset()
			w, errs := newTestWriter(t, srv, nil)
			enc := NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{}), WithMaxValueBytes(tc.option))
			logger := zap.New(NewCore(enc, w, zapcore.DebugLevel), zap.ErrorOutput(zapcore.AddSync(io.Discard)))
			child := logger.With(zap.String("req", "1")) // a second NewCore
			child.Info("big", zap.String("v", big), zap.String("small", "ok"))
			logger.Info("other")
			require.NoError(t, w.Sync())

			logs := srv.Logs()
			require.Len(t, logs, 2, "the batch was accepted")
			var got map[string]string
			for _, l := range logs {
				if l.Contents["req"] == "1" {
					got = l.Contents
				}
			}
			require.NotNil(t, got)
			assert.Len(t, got["v"], tc.want)
			assert.True(t, strings.HasSuffix(got["v"], TruncatedMarker))
			assert.Equal(t, "ok", got["small"])
			assert.Empty(t, srv.Rejections())

			ces := configErrors(errs)
			if !tc.reported {
				assert.Empty(t, ces)
				return
			}
			require.Len(t, ces, 1, "reported once: %s", errs.text())
			assert.Equal(t, "WithMaxValueBytes", ces[0].Field)
			assert.Contains(t, ces[0].Error(), "SLS accepts values of at most 1000000 bytes")
		})
	}
}

// The other paths to the Writer keep values within the limit too: zap's
// own core with the zapsls encoder, and JSON lines, whose values beyond the
// limit are cut as the encoder cuts them.
func TestValueLimitOnEveryPath(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, _ := newTestWriter(t, srv, nil)
	big := strings.Repeat("v", 3_000_000)

	enc := NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{}), WithMaxValueBytes(5_000_000))
	zapcore.NewCore(enc, w, zapcore.DebugLevel).Write(zapcore.Entry{Message: "foreign core"}, []zapcore.Field{zap.String("v", big)})
	require.NoError(t, w.Sync())

	logs := srv.Logs()
	require.Len(t, logs, 1)
	assert.Len(t, logs[0].Contents["v"], DefaultMaxValueBytes)
	assert.Empty(t, srv.Rejections())
}
