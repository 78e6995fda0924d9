package poller

import (
	"syscall"
	_ "unsafe" // go:linkname
)

// HandOffWhileWaiting chooses how the ring's waits treat the calling thread's P (Go's right to
// run goroutines). Off, a wait is an ordinary system call: the thread keeps its P until the
// runtime's monitor takes it, at a tick of its own, which grows long when it has been idle.
// That is cheapest when every loop has a P of its own. On, the P goes to the runtime as the wait
// begins, as for a call known to block: what a thread that shares its P with others' work must
// do, or they wait for the monitor.
func (r *Ring) HandOffWhileWaiting(on bool) { r.handOff = on }

// The runtime's entry for system calls known to block; it keeps it reachable for users outside
// the standard library (go.dev/issue/67401; gvisor is one).

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// blockingSyscall6 is syscall.Syscall6 for a call that blocks: the P goes to the runtime before
// the call rather than at the monitor's next look. Like Syscall6 it must not grow the stack
// between entering and leaving the system call.
//
//go:nosplit
func blockingSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, errno syscall.Errno) {
	entersyscallblock()
	r1, r2, errno = syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	exitsyscall()
	return r1, r2, errno
}
