package poller

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NOP submit-and-reap: the fixed cost of one operation through the ring, per operation, in
// batches of 1 and 32 per io_uring_enter.
func BenchmarkNopSubmitReap(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(map[int]string{1: "batch=1", 32: "batch=32"}[batch], func(b *testing.B) {
			r := loopRing(b, 64)
			cqes := make([]CQE, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(batch, b.N-done)
				for i := 0; i < k; i++ {
					sqe, _ := r.GetSQE()
					sqe.PrepNop()
				}
				for got := 0; got < k; {
					if _, err := r.SubmitAndWait(uint32(k - got)); err != nil {
						b.Fatal(err)
					}
					got += r.ReapCompletions(cqes)
				}
				done += k
			}
		})
	}
}

// wakeMethod is how one loop thread wakes another in the ping-pong benchmark. ping is called on
// the sender's thread with the sender's ring; arm prepares the receiver's ring for the next wake.
type wakeMethod struct {
	name string
	caps []Capability
	// setup runs once per ring on its owner thread; it returns the token ping needs to reach it.
	setup func(r *Ring) (target int, err error)
	// arm runs on the receiver before it waits (re-arming an eventfd read).
	arm func(r *Ring, target int, buf []byte)
	// ping wakes the ring identified by target, from a thread owning ring self.
	ping func(self *Ring, target int) error
}

var wakeMethods = []wakeMethod{
	{
		name: "msg-ring", caps: []Capability{CapMsgRing},
		setup: func(r *Ring) (int, error) { return r.Fd(), nil },
		arm:   func(*Ring, int, []byte) {},
		ping: func(self *Ring, target int) error {
			sqe, err := self.GetSQE()
			if err != nil {
				return err
			}
			sqe.PrepMsgRingData(target, 1, 0, 0)
			sqe.SetFlags(FlagCQESkipSuccess) // only the target sees a completion
			return nil                       // submitted by the sender's next wait
		},
	},
	{
		name: "sync-msg", caps: []Capability{CapSyncMsgRing},
		setup: func(r *Ring) (int, error) { return r.Fd(), nil },
		arm:   func(*Ring, int, []byte) {},
		ping:  func(_ *Ring, target int) error { return SendMsgRingSync(target, 1, 0, 0) },
	},
	{
		name: "eventfd", caps: nil,
		setup: func(*Ring) (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) },
		arm: func(r *Ring, efd int, buf []byte) {
			sqe, _ := r.GetSQE()
			sqe.PrepRead(int32(efd), buf, ^uint64(0))
			sqe.SetUserData(1)
		},
		ping: func(_ *Ring, efd int) error {
			one := [8]byte{1}
			_, err := unix.Write(efd, one[:])
			return err
		},
	},
}

// BenchmarkWakePingPong measures one round trip between two loop threads, each blocked in its
// ring's wait until the other wakes it: MSG_RING from the sender's ring, the ring-less
// synchronous message, and an eventfd read pending on the ring (what an epoll engine does).
func BenchmarkWakePingPong(b *testing.B) {
	for _, m := range wakeMethods {
		b.Run(m.name, func(b *testing.B) {
			requireFeatures(b, m.caps...)
			toA, toB := make(chan int, 1), make(chan int, 1)
			start := make(chan struct{})
			errs := make(chan error, 2)
			player := func(first bool, n int, mineOut chan<- int, otherIn <-chan int) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				r, err := NewLoopRing(8, 0)
				if err != nil {
					errs <- err
					return
				}
				defer r.Close()
				mine, err := m.setup(r)
				if err != nil {
					errs <- err
					return
				}
				if m.name == "eventfd" {
					defer unix.Close(mine)
				}
				mineOut <- mine
				other := <-otherIn
				<-start
				buf := make([]byte, 8)
				cqes := make([]CQE, 4)
				m.arm(r, mine, buf)
				if first {
					if err := m.ping(r, other); err != nil {
						errs <- err
						return
					}
				}
				for i := 0; i < n; i++ {
					// A wake-up that never comes fails the benchmark instead of hanging it.
					if _, err := r.SubmitAndWaitTimeout(1, 10*time.Second); err != nil {
						errs <- fmt.Errorf("round trip %d of %d (first %v): %w; %d ready, %d pending",
							i, n, first, err, r.CQReady(), r.SQPending())
						return
					}
					if k := r.ReapCompletions(cqes); k != 1 || cqes[0].UserData != 1 || cqes[0].Res < 0 {
						errs <- fmt.Errorf("round trip %d: woken by %+v", i, cqes[:k])
						return
					}
					m.arm(r, mine, buf)
					if first && i == n-1 {
						break
					}
					if err := m.ping(r, other); err != nil {
						errs <- err
						return
					}
				}
				r.Submit()
				errs <- nil
			}
			b.ReportAllocs()
			go player(true, b.N, toB, toA)
			go player(false, b.N, toA, toB)
			b.ResetTimer()
			close(start)
			for i := 0; i < 2; i++ {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
