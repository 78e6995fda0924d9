package ringset

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/leakcheck"
)

// whileParked runs f on a goroutine that loop 0, on the only P, has just made runnable, so that
// the loop parks for it (or, without parking, waits in the kernel having handed the P over), and
// waits for f to return. It reports how many times the loop parked meanwhile.
func whileParked(t *testing.T, s *Set, f func()) int64 {
	t.Helper()
	before := s.Parks(0)
	ran := make(chan struct{})
	if err := s.Post(0, func() {
		go func() {
			defer close(ran)
			f()
		}()
	}); err != nil {
		t.Fatal(err)
	}
	<-ran
	return s.Parks(0) - before
}

// A loop that parked for the goroutines it woke is woken by what it waits for: a completion, a
// Post, a Nudge, and, with none of them, the end of its wait.
func TestParkedLoopWakes(t *testing.T) {
	if _, known := (&pace{}).runnableGoroutines(); !known {
		t.Skipf("this runtime (%s) has no %s: a loop never knows that goroutines wait, and never parks", runtime.Version(), runnableMetric)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := startSet(t, Config{Loops: 1, NeverPoll: true}, &echo{})
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echoRoundTrip(c, 64, 1); err != nil { // the connection is open on the loop
		t.Fatal(err)
	}
	timeouts := s.ParkTimeouts(0)

	t.Run("completion", func(t *testing.T) {
		var err error
		parked := whileParked(t, s, func() {
			_, err = c.Write([]byte("ping"))
		})
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4)
		if _, err := c.Read(b); err != nil || string(b) != "ping" {
			t.Fatalf("echo: %q, %v", b, err)
		}
		if parked == 0 {
			t.Error("the loop did not park for the goroutine it woke")
		}
	})
	t.Run("Post", func(t *testing.T) {
		done := make(chan struct{})
		parked := whileParked(t, s, func() {
			if err := s.Post(0, func() { close(done) }); err != nil {
				t.Error(err)
			}
		})
		<-done
		if parked == 0 {
			t.Error("the loop did not park for the goroutine it woke")
		}
	})
	t.Run("Nudge", func(t *testing.T) {
		done := make(chan struct{})
		parked := whileParked(t, s, func() {
			s.queueUnwoken(0, func() { close(done) })
			s.Nudge(0)
		})
		<-done
		if parked == 0 {
			t.Error("the loop did not park for the goroutine it woke")
		}
	})
	if got := s.ParkTimeouts(0) - timeouts; got != 0 {
		t.Fatalf("%d parks lasted their whole wait: something the loop waited for did not wake it", got)
	}
	t.Run("wait's end", func(t *testing.T) {
		done := make(chan struct{})
		whileParked(t, s, func() { s.queueUnwoken(0, func() { close(done) }) })
		<-done // within maxWait
		if s.ParkTimeouts(0) == timeouts {
			t.Error("a task queued without a wake-up ran, yet no park lasted its wait")
		}
	})
}

// Sets whose loops park start and stop leaving no goroutine (the watchers) and no descriptor
// (the eventfds) behind.
func TestParkingLeaksNothing(t *testing.T) {
	time.Sleep(50 * time.Millisecond) // let earlier tests' goroutines finish
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	for i := range 5 {
		s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 2, NeverPoll: true}, &echo{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := echoRoundTrip(c, 4096, uint64(i)); err != nil {
			t.Fatal(fmt.Errorf("round %d: %w", i, err))
		}
		c.Close()
		s.Stop()
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	leakcheck.Settle(t, goroutines, fds)
}
