package ringset

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
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

// parkingLoop starts a set of one NeverPoll loop serving h, with the program on one P until the
// test ends, and returns it with a connection that has made one round trip (so it is open on
// the loop). It skips where the runtime cannot count the goroutines waiting for a P: a loop
// never parks there.
func parkingLoop(t *testing.T, h Handler) (*Set, net.Conn) {
	t.Helper()
	if _, known := (&pace{}).runnableGoroutines(); !known {
		t.Skipf("this runtime (%s) has no %s: a loop never knows that goroutines wait, and never parks", runtime.Version(), runnableMetric)
	}
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	s := startSet(t, Config{Loops: 1, NeverPoll: true}, h)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := echoRoundTrip(c, 64, 1); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// longParks makes parks end only by a wake-up or at the wait's end, not at parkLook, until the
// test's sets have stopped (call it before starting them).
func longParks(t *testing.T) {
	look := parkLook
	t.Cleanup(func() { parkLook = look })
	parkLook = maxWait
}

// withoutOwnSignal keeps loops from signalling their eventfds themselves as they park with
// every P busy, until the test ends: their parks then end only by what the test makes happen.
func withoutOwnSignal(t *testing.T) {
	noOwnSignal.Store(true)
	t.Cleanup(func() { noOwnSignal.Store(false) })
}

// A loop that parked for the goroutines it woke is woken by what it waits for: a completion, a
// Post, a Nudge, and, with none of them, the end of its wait.
func TestParkedLoopWakes(t *testing.T) {
	longParks(t)
	withoutOwnSignal(t)
	s, c := parkingLoop(t, &echo{})
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

// A nudged loop sends what was written and leaves the completions waiting until the goroutines
// it woke have run: taking them in would wake more goroutines behind those still waiting for
// the P. Here a message arrives while the loop is parked, the loop is nudged, and a goroutine
// queued behind it finds the message not yet handled; once every goroutine has run, the loop
// takes it in and echoes it.
func TestNudgedLoopOnlySends(t *testing.T) {
	longParks(t)
	var handled atomic.Int64
	s, c := parkingLoop(t, &hooks{traffic: func(c *conn.Conn) Action {
		handled.Add(1)
		b, _ := c.Next(-1)
		c.Write(b)
		return None
	}})
	ring := s.loops[0].ring
	var before, seen int64
	nudgeRan := make(chan struct{})
	whileParked(t, s, func() {
		before = handled.Load()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Error(err)
			return
		}
		for deadline := time.Now().Add(5 * time.Second); !ring.TaskrunPending(); {
			if time.Now().After(deadline) {
				t.Error("the message's completion work never waited for the loop")
				return
			}
		}
		queued := make(chan struct{})
		go func() { // runnable behind the loop once it is nudged
			defer close(queued)
			seen = handled.Load()
		}()
		s.queueUnwoken(0, func() { close(nudgeRan) })
		s.Nudge(0)
		<-queued
	})
	<-nudgeRan
	if seen != before {
		t.Fatal("the nudged loop took in a message while goroutines it woke still waited for the P")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("the message was not echoed once the goroutines had run: %q, %v", b, err)
	}
}

// On the only P, a parked loop signals its eventfd itself, and runs as soon as the goroutines it
// woke have run, whether or not the kernel's signal comes: here it never does, parks look only
// at their wait's end, and the message written while the loop was parked is echoed at once.
func TestParkedLoopRunsWhenTheGoroutinesHaveRun(t *testing.T) {
	longParks(t)
	mutedSignals.Store(true)
	defer mutedSignals.Store(false)
	s, c := parkingLoop(t, &echo{})
	timeouts := s.ParkTimeouts(0)
	for i := range 3 {
		var err error
		if whileParked(t, s, func() { _, err = c.Write([]byte("ping")) }) == 0 {
			t.Fatal("the loop did not park for the goroutine it woke")
		}
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
			t.Fatalf("round %d: echo: %q, %v", i, b, err)
		}
	}
	if got := s.ParkTimeouts(0) - timeouts; got != 0 {
		t.Fatalf("%d parks lasted their whole wait: the loop waited for the kernel's signal with the P idle", got)
	}
}

// The loop signals itself only while every P is busy: on one P, the caller's goroutine is what
// keeps it busy; with far more Ps than goroutines can run here, some are idle.
func TestAllPsBusy(t *testing.T) {
	sample := []metrics.Sample{{Name: runningMetric}}
	if metrics.Read(sample); sample[0].Value.Kind() != metrics.KindUint64 {
		t.Skipf("this runtime (%s) has no %s: a loop never signals itself", runtime.Version(), runningMetric)
	}
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	var p pace
	if !p.allPsBusy() {
		t.Error("on one P, running this test, allPsBusy says a P is idle")
	}
	runtime.GOMAXPROCS(64)
	if p.allPsBusy() {
		t.Error("with 64 Ps and this test's few goroutines, allPsBusy says every P is busy")
	}
}

// A parked loop whose eventfd signal does not come (the kernel's can come milliseconds late)
// finds the news at its next look; when nothing else wanted the P meanwhile, its next park
// looks again soon (parkLookLate), and parks that end with no news waiting lengthen the look
// again.
func TestParkLooksSoonAfterALateSignal(t *testing.T) {
	withoutOwnSignal(t)
	mutedSignals.Store(true)
	defer mutedSignals.Store(false)
	s, c := parkingLoop(t, &echo{})
	roundTripWhileParked := func(msg string) {
		t.Helper()
		var err error
		if whileParked(t, s, func() { _, err = c.Write([]byte(msg)) }) == 0 {
			t.Fatal("the loop did not park for the goroutine it woke")
		}
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, len(msg))
		if _, err := io.ReadFull(c, b); err != nil || string(b) != msg {
			t.Fatalf("echo: %q, %v", b, err)
		}
	}
	late, short := s.LateLooks(0), s.ShortLooks(0)
	for range 3 {
		roundTripWhileParked("unsignalled")
	}
	if s.LateLooks(0) == late {
		t.Fatal("messages arrived unsignalled, yet no look found them waiting")
	}
	// The shortened look is the next park's: when the last round trip's park was the one that
	// found news waiting, no park has used it yet.
	for i := 0; s.ShortLooks(0) == short && i < 10; i++ {
		whileParked(t, s, func() {})
	}
	if s.ShortLooks(0) == short {
		t.Fatalf("after %d looks found news waiting unsignalled, no park looked again sooner than %v", s.LateLooks(0)-late, parkLook)
	}

	mutedSignals.Store(false)
	for range 20 { // parks that end with no news waiting lengthen the look back to parkLook
		if s.ParkLook(0) == parkLook {
			return
		}
		whileParked(t, s, func() {})
	}
	t.Fatalf("parks that ended with no news waiting left the look at %v", s.ParkLook(0))
}
