//go:build unix

package ring

import (
	"sync/atomic"
	"syscall"
)

// mappedBytes is the memory mapped by every ring in the process, for tests.
var mappedBytes atomic.Int64

// mapSegment maps size bytes of private anonymous memory, outside the Go
// heap and zero-filled; nil if the system refuses.
func mapSegment(size int) *segment {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	mappedBytes.Add(int64(size))
	return &segment{mem: mem, mapped: true}
}

// unmapSegment gives a mapped segment's memory back to the system at once.
func unmapSegment(s *segment) {
	// Munmap fails only for a region that is not a live mapping, which
	// would be this package's bug: fail loudly rather than leak.
	if err := syscall.Munmap(s.mem); err != nil {
		panic("ring: munmap: " + err.Error())
	}
	mappedBytes.Add(-int64(len(s.mem)))
}
