package harness

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Split divides the machine's CPUs in two halves, the first for a server and the second for
// its load generator (on two CPUs, one each), so that a pinned run measures a server that does
// not share its CPUs with the load it serves. ok is false on a machine of one CPU.
func Split() (server, load []int, ok bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, nil, false
	}
	var cpus []int
	for i := 0; len(cpus) < set.Count(); i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return nil, nil, false
	}
	return cpus[:len(cpus)/2], cpus[len(cpus)/2:], true
}

// OnCPUs runs start, which starts a child process, with the calling thread bound to cpus: the
// child inherits the affinity of the thread that forks it, and so runs on cpus only (its
// threads too, as they inherit it in turn). The parent's thread is unbound again afterwards.
// No cpus runs start as it is.
func OnCPUs(cpus []int, start func() error) error {
	if len(cpus) == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("harness: CPU affinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("harness: bind to CPUs %v: %w", cpus, err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return start()
}
