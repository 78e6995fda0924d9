package listener

import (
	"runtime"
	"sync"
)

// ringProcs gives every running ring of the listener's engines a P of its own: while an engine
// runs, GOMAXPROCS is the program's own count plus the engines' rings.
//
// Why: a ring's loop is a goroutine on a locked thread that sleeps in io_uring_enter, and the
// goroutines it wakes land in the run queue of the P it held. With only the program's Ps, the
// loop and the goroutines it serves take Ps from each other: sysmon hands the sleeping loop's
// P to the goroutines, and the loop, woken by the kernel, finds none free and waits in the
// global run queue behind them, with every completion it has not yet reaped. net's poller needs
// no P of its own, so net pays none of this. With one P more per ring, net/http's hello world
// (`bench run -plan accept -only nethttp -engines listener,net`) went from 0.89× net's
// requests/s to 1.02× and 1.07×, its p99 from 3.45× net's to 1.7–2.3×, while net itself gained
// nothing from the same extra P (docs/listener.md, "A P for each ring").
//
// GOMAXPROCS is set through runtime.GOMAXPROCS, which since Go 1.25 also stops the runtime from
// updating its default when the container's CPU limit changes. A program that sets GOMAXPROCS
// itself while rings run keeps its value: the rings' Ps are then not taken back.
var ringProcs struct {
	mu    sync.Mutex
	added int // Ps added for the rings now running
	set   int // GOMAXPROCS as set here last; 0 before the first ring
}

// addRingProcs adds n Ps, one per ring of an engine that starts.
func addRingProcs(n int) {
	ringProcs.mu.Lock()
	defer ringProcs.mu.Unlock()
	ringProcs.added += n
	ringProcs.set = runtime.GOMAXPROCS(0) + n
	runtime.GOMAXPROCS(ringProcs.set)
}

// removeRingProcs takes back the n Ps of an engine that stopped, unless the program has set
// GOMAXPROCS itself since.
func removeRingProcs(n int) {
	ringProcs.mu.Lock()
	defer ringProcs.mu.Unlock()
	ringProcs.added -= n
	if runtime.GOMAXPROCS(0) == ringProcs.set {
		ringProcs.set -= n
		runtime.GOMAXPROCS(ringProcs.set)
	}
}

// programProcs is GOMAXPROCS without the Ps added for rings.
func programProcs() int {
	ringProcs.mu.Lock()
	defer ringProcs.mu.Unlock()
	return runtime.GOMAXPROCS(0) - ringProcs.added
}
