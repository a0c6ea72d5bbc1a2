package main

import "syscall"

// threadUsageWorks says whether threadUsage counts anything here.
const threadUsageWorks = true

// rusageThread is Linux's RUSAGE_THREAD: the calling thread alone.
const rusageThread = 1

// threadUsage returns the minor page faults and involuntary context
// switches of the calling thread so far (getrusage RUSAGE_THREAD). The
// caller must be locked to its thread (runtime.LockOSThread) for two
// readings to be about the same goroutine.
func threadUsage() (faults, switches int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, 0
	}
	return int64(ru.Minflt), int64(ru.Nivcsw)
}
