package zapsls

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zapsls/zapsls/slstest"
)

// TestDropAccountingEveryReason: every kind of drop, through Writer.Write
// (the path zap's Core does not take), is counted once in Stats.Dropped,
// reported once to OnError and by the Write that dropped it, and once by
// the next Sync; Enqueued + Dropped is what was written. The fault suite
// checks the same under faults, but not under -short; TestWriterDropPolicy
// Accounting checks it through zap.
func TestDropAccountingEveryReason(t *testing.T) {
	line := `{"msg":"fill","pad":"` + strings.Repeat("p", 200) + `"}` + "\n"
	for _, tc := range []struct {
		name   string
		config func(*Config)
		// write writes through w and returns how many entries it wrote.
		write  func(t *testing.T, w *Writer) (written int, returned []error)
		reason string
	}{
		{
			name: "buffer full",
			config: func(c *Config) {
				c.BufferBytes = 128 << 10
				c.MaxBatchBytes = 64 << 10
				c.OnFull = OnFullDrop
				c.MaxInflight = 1
			},
			write: func(t *testing.T, w *Writer) (int, []error) {
				var errs []error
				for i := 0; i < 5000; i++ {
					if _, err := w.Write([]byte(line)); err != nil {
						errs = append(errs, err)
					}
				}
				return 5000, errs
			},
			reason: "buffer full",
		},
		{
			name:   "too large and invalid",
			config: func(c *Config) { c.MaxBatchBytes = 64 << 10 },
			write: func(t *testing.T, w *Writer) (int, []error) {
				var errs []error
				for _, p := range []string{
					line + `{"big":"` + strings.Repeat("y", 100<<10) + `"}` + "\n" + line,
					line + "not json\n" + `[1,2]` + "\n",
				} {
					if _, err := w.Write([]byte(p)); err != nil {
						errs = append(errs, err)
					}
				}
				return 6, errs
			},
			reason: "",
		},
		{
			name: "closed",
			write: func(t *testing.T, w *Writer) (int, []error) {
				_, err := w.Write([]byte(line))
				require.NoError(t, err)
				require.NoError(t, w.Close())
				var errs []error
				for i := 0; i < 3; i++ {
					_, err := w.Write([]byte(line))
					require.ErrorIs(t, err, ErrClosed)
					errs = append(errs, &DropError{Entries: 1, Reason: "writer closed"})
				}
				return 4, errs
			},
			reason: "writer closed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			srv.SetDelay(20 * time.Millisecond)
			reports := &relReports{}
			w, _ := newTestWriter(t, srv, func(c *Config) {
				if tc.config != nil {
					tc.config(c)
				}
				c.OnError = reports.add
			})
			written, returned := tc.write(t, w)
			returnedDrops := 0
			for _, err := range returned {
				for _, e := range unwrapAll(err) {
					var de *DropError
					if errors.As(e, &de) {
						returnedDrops += de.Entries
						assert.Contains(t, de.Reason, tc.reason)
					}
				}
			}
			syncErr := w.Sync()
			s := w.Stats()
			require.NotZero(t, s.Dropped)
			assert.Equal(t, int(s.Dropped), returnedDrops, "each drop is returned by its Write")
			dropped, failed, spooled, _ := reports.snapshot()
			// Drops after Close are returned by their Write, and counted,
			// but not reported to OnError: its goroutine is gone.
			assert.Equal(t, int(s.Dropped-s.ReportsSuppressed), dropped, "each drop is reported to OnError")
			if tc.name == "closed" {
				assert.Equal(t, uint64(3), s.ReportsSuppressed)
			} else {
				assert.Zero(t, s.ReportsSuppressed)
			}
			assert.Zero(t, failed+spooled)
			if tc.name != "closed" { // Close already reported them
				var nd *NotDeliveredError
				require.ErrorAs(t, syncErr, &nd)
				assert.Equal(t, int(s.Dropped), nd.Entries, "Sync reports each drop: %v", syncErr)
			}
			assert.Equal(t, uint64(written), s.Enqueued+s.Dropped, "every entry is enqueued or dropped")
			assert.Equal(t, uint64(written), s.Delivered+s.Dropped, "and what was enqueued is delivered")
			assert.Equal(t, int(s.Delivered), srv.LogCount())
		})
	}
}

// unwrapAll flattens err's joined errors (multierr, errors.Join).
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}
