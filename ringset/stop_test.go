package ringset

import (
	"testing"

	"github.com/uringnet/uringnet/poller"
)

// Stop wakes the acceptor after telling it to stop, and the acceptor may have ended (and
// closed its ring) in between: the listeners' shutdown ends its accept, and it sees the stop as
// soon as it is stored. The wake-up must still find a ring, not the ring's own descriptor,
// closed or reused by anything opened since, and Wait report no error. Here the acceptor ends
// first on purpose.
func TestStopAfterTheAcceptorEnded(t *testing.T) {
	eachWaker(t, func(t *testing.T, _ string, features poller.Features) {
		s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Features: &features}, &echo{})
		if err != nil {
			t.Fatal(err)
		}
		s.acc.stop.Store(true)
		s.acc.wake()
		<-s.acc.exit // its ring is closed
		if err := s.acc.wake(); err != nil {
			t.Errorf("a wake-up of the acceptor after it ended: %v", err)
		}
		s.Stop()
		if err := s.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	})
}

// A goroutine that queued a task just before its loop exited sends its wake-up after that, and
// may send it after the whole set has stopped and closed its rings' descriptors, whose numbers
// anything may have taken since. Such a wake-up sends nothing and fails nothing.
func TestWakeUpAfterTheSetStopped(t *testing.T) {
	eachWaker(t, func(t *testing.T, _ string, features poller.Features) {
		s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Features: &features}, &echo{})
		if err != nil {
			t.Fatal(err)
		}
		s.Stop()
		if err := s.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		for _, fd := range []int{s.loops[0].fd, s.acc.fd} {
			if err := s.waker.wake(fd); err != nil {
				t.Errorf("a wake-up after the set stopped: %v", err)
			}
		}
	})
}
