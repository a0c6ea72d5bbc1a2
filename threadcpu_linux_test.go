package zapsls

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadCPUClock is the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID): time spent descheduled by a loaded machine does
// not count. Call lockThread first, so that the goroutine keeps its thread.
func threadCPUClock() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ts.Nano())
}

func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
