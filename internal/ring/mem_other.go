//go:build !unix

package ring

import "sync/atomic"

// mappedBytes stays 0: nothing is mapped.
var mappedBytes atomic.Int64

// mapSegment returns nil: segments are Go heap memory on this system.
func mapSegment(int) *segment { return nil }

func unmapSegment(*segment) {}
