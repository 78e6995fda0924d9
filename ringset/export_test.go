package ringset

import (
	"time"

	"github.com/uringnet/uringnet/conn"
)

// What only the tests look at: counters and choices the engine makes on its own.

// PassedDescriptors is how many connections loop i received from the acceptor by MSG_RING.
func (s *Set) PassedDescriptors(i int) int64 { return s.loops[i].passed.Load() }

// Installs is how many regular descriptors loop i has installed for its connections.
func (s *Set) Installs(i int) int64 { return s.loops[i].installs.Load() }

// HandOffs is how many of loop i's waits gave its P to the runtime as they began, for the
// goroutines it woke.
func (s *Set) HandOffs(i int) int64 { return s.loops[i].handOffs.Load() }

// SharedHandOffs is how many of loop i's waits gave its P to the runtime after handOffAfter.
func (s *Set) SharedHandOffs(i int) int64 { return s.loops[i].sharedHandOffs.Load() }

// AllHandOffs is how many of loop i's waits gave its P up: at once, after handOffAfter, or by
// parking.
func (s *Set) AllHandOffs(i int) int64 { return s.HandOffs(i) + s.SharedHandOffs(i) + s.Parks(i) }

// SchedulerPasses is how many of loop i's waits went through Go's scheduler first.
func (s *Set) SchedulerPasses(i int) int64 { return s.loops[i].schedPasses.Load() }

// IdleHandOffs counts loop i's waits with nothing to serve that gave its P up at once.
func (s *Set) IdleHandOffs(i int) int64 { return s.loops[i].idleHandOffs.Load() }

// LoopsCounted are the process's loops counted as serving, and as serving something.
func LoopsCounted() (servingLoops, busy int32) { return serving.Load(), busyLoops.Load() }

// AcceptorHandOffs is how many of the acceptor's waits gave its P to the runtime.
func (s *Set) AcceptorHandOffs() int64 { return s.acc.handOffs.Load() }

// ListenerKind says how the set's listeners were made: "direct" (born as direct descriptors by
// ring operations) or "regular" (by the standard library, then placed in a ring's table).
func (s *Set) ListenerKind() string {
	if s.direct {
		return "direct"
	}
	return "regular"
}

// RecvCancels is how many cancels loop i made of receives whose receiving was turned off.
func (s *Set) RecvCancels(i int) int64 { return s.loops[i].recvCancels.Load() }

// OpsCancels is how many cancels of every operation of a closing or moving connection loop i
// made.
func (s *Set) OpsCancels(i int) int64 { return s.loops[i].opsCancels.Load() }

// FdCancels is how many of OpsCancels(i) cancelled by descriptor, rather than the receive by
// its user data.
func (s *Set) FdCancels(i int) int64 { return s.loops[i].fdCancels.Load() }

// Waker names how other goroutines wake the loops: "sync-msg-ring" or "messenger-ring".
func (s *Set) Waker() string { return s.waker.kind() }

// Moves is how many moves the rebalancer has started.
func (s *Set) Moves() int64 { return s.moved.Load() }

// wakeAsync makes c's loop call OnTraffic for it, from any goroutine, as gnet's Conn.Wake does
// (compat's bridge does the same through Exec); cb hears net.ErrClosed if c closed first.
func wakeAsync(c *conn.Conn, cb conn.Callback) error {
	return postAsync(c, cb, func() error { c.Loop().Wake(c); return nil })
}

// closeAsync closes c from any goroutine; cb runs once the close has started.
func closeAsync(c *conn.Conn, cb conn.Callback) error {
	return postAsync(c, cb, c.Close)
}

// postAsync runs op on c's loop if c is still open then, and reports to cb.
func postAsync(c *conn.Conn, cb conn.Callback, op func() error) error {
	return c.Exec(func() {
		err := conn.ErrClosed
		if c.State() == conn.Open {
			err = op()
		}
		if cb != nil {
			cb(c, err)
		}
	})
}

// Parks is how many of loop i's waits parked its goroutine for the goroutines it woke.
func (s *Set) Parks(i int) int64 { return s.loops[i].parks.Load() }

// ParkTimeouts is how many of loop i's parks lasted their whole wait, woken by nothing.
func (s *Set) ParkTimeouts(i int) int64 { return s.loops[i].parkTimeouts.Load() }

// ParkLook is how long loop i's next park lasts at most.
func (s *Set) ParkLook(i int) time.Duration { return time.Duration(s.loops[i].parking.look.Load()) }

// LateLooks is how many of loop i's looks found news waiting unsignalled while the P idled,
// and ShortLooks how many of its parks then looked again sooner than parkLook.
func (s *Set) LateLooks(i int) int64  { return s.loops[i].parking.lateLooks.Load() }
func (s *Set) ShortLooks(i int) int64 { return s.loops[i].parking.shortLooks.Load() }

// queueUnwoken queues f on loop i without waking it, as a Post whose wake-up went missing.
func (s *Set) queueUnwoken(i int, f func()) { s.loops[i].tasks.Push(f) }
