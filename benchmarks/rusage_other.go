//go:build !unix

package main

import "time"

// Without getrusage, CPU time, page faults and RSS are reported as 0.

func cpuTime() time.Duration { return 0 }

func minorFaults() int64 { return 0 }

func peakRSS() int64 { return 0 }

func currentRSS() int64 { return 0 }

func currentAnon() int64 { return 0 }
