package zapsls

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// stderrReporter is the default OnError: one line a second at most, with a
// count of what it held back.
type stderrReporter struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (r *stderrReporter) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.skipped++
		return
	}
	if r.skipped > 0 {
		fmt.Fprintf(os.Stderr, "%s %v (and %d more errors in the last %v)\n", now.Format(time.RFC3339), err, r.skipped, now.Sub(r.last).Round(time.Second))
	} else {
		fmt.Fprintf(os.Stderr, "%s %v\n", now.Format(time.RFC3339), err)
	}
	r.last, r.skipped = now, 0
}
