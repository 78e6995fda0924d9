package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcessCPU is the user+system CPU time process pid has used, in nanoseconds (0 when the
// process is gone).
func ProcessCPU(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return (utime + stime) * int64(time.Second) / ticksPerSecond
}

// RSS is process pid's resident memory, in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("harness: resident memory of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("harness: no VmRSS for process %d", pid)
}

// CPUMeter measures the CPU time a process spends from MeterCPU on.
type CPUMeter struct {
	pid   int
	start int64
}

// MeterCPU starts measuring process pid.
func MeterCPU(pid int) CPUMeter { return CPUMeter{pid: pid, start: ProcessCPU(pid)} }

// Used is the CPU time spent since MeterCPU, in nanoseconds.
func (m CPUMeter) Used() int64 { return ProcessCPU(m.pid) - m.start }

// PerOp divides CPU time in nanoseconds by a count of operations (0 for none).
func PerOp(ns int64, ops float64) float64 {
	if ops <= 0 {
		return 0
	}
	return float64(ns) / ops
}
