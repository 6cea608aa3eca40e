package testenv

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the CPU time this process has used. Benchmarks report it per
// operation next to wall time: on a shared machine wall time counts the
// moments other processes held the core, and the targets are per core.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports CPU ns per op since start (a CPUTime), which includes
// the garbage collector's work on other threads: a real cost of the
// operation.
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(CPUTime()-start)/float64(b.N), "cpu-ns/op")
}
