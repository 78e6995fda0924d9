package listener

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/loopback"
)

// The policy tries the ring (a trial, which has Read and Write count) while goroutines queue for
// a processor, and gives it up once they run as soon as they are woken. The queue is made for
// real: on one processor, goroutines that each work a little and yield; then a single
// ping-pong, where each goroutine woken runs at once. (No call is served, so the trial measures
// nothing and waits, on the poller, until the queueing stops.)
func TestPathFollowsTheScheduler(t *testing.T) {
	p := newPathPolicy()
	forcePath(t, pathsAuto)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	trying := func() bool { p.onRing(); return p.metering.Load() }
	lookFor := func(want bool, load func(stop *atomic.Bool)) {
		t.Helper()
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); load(&stop) }()
		defer func() { stop.Store(true); wg.Wait() }()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(lookInterval / 2) {
			if trying() == want {
				return
			}
		}
		t.Fatalf("the ring's trial running stayed %v", !want)
	}
	queueing := func(stop *atomic.Bool) {
		var wg sync.WaitGroup
		for range 200 { // short turns, many of them: enough sampled waits however slow the machine
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					for spin := time.Now(); time.Since(spin) < 5*time.Microsecond; {
					}
					runtime.Gosched()
				}
			}()
		}
		wg.Wait()
	}
	pingPong := func(stop *atomic.Bool) {
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for range ping {
				pong <- struct{}{}
			}
		}()
		for !stop.Load() {
			ping <- struct{}{}
			<-pong
		}
		close(ping)
	}
	lookFor(true, queueing)
	lookFor(false, pingPong)
	if p.onRing() {
		t.Fatal("the ring serves after the queueing stopped")
	}
}

// A connection the ring cannot take (here: its loops stopped with their listener) stays with
// the poller, and serves as net's would.
func TestUnadoptableConnectionStaysWithThePoller(t *testing.T) {
	forcePath(t, pathsRing)
	lc := ListenConfig{Loops: 1}
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peer, accepted := loopback.DialAccept(t, ln)
	c := accepted.(*Conn)
	ln.Close() // its loops stop: nothing of theirs holds them
	if err := c.link.Load().eng.set.Wait(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(c, c)
	if _, err := peer.Write([]byte("still served")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("still served"))
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "still served" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if c.ringSide() != nil {
		t.Fatal("a stopped loop took the connection")
	}
}

// A peer's reset reaches a blocked Read as net reports it, on every path: a *net.OpError
// around an *os.SyscallError with ECONNRESET.
func TestPeerResetOnEveryPath(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		errc := make(chan error, 1)
		go func() {
			buf := make([]byte, 16)
			for {
				if _, err := c.Read(buf); err != nil {
					errc <- err
					return
				}
			}
		}()
		peer.Write([]byte("hello"))
		time.Sleep(20 * time.Millisecond)
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		select {
		case err := <-errc:
			var se *os.SyscallError
			if !errors.Is(err, syscall.ECONNRESET) || !isOpError(err) || !errors.As(err, &se) {
				t.Fatalf("Read after the peer's reset: %v (%#v), want net's *OpError around an *os.SyscallError with ECONNRESET", err, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the reset never reached Read")
		}
	})
}

// The engines leave GOMAXPROCS as the program set it: a value the program chose, not the
// default, stays while rings start and take connections, the shared engine's and a listener's own.
func TestGOMAXPROCSStaysTheProgramsOwn(t *testing.T) {
	set := runtime.NumCPU() + 1
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(set))
	forcePath(t, pathsRing)
	for _, lc := range []ListenConfig{{}, {Loops: 2}} {
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, c := loopback.DialAccept(t, ln)
		c.Write([]byte("x")) // on a ring
		if c.(*Conn).ringSide() == nil {
			t.Fatal("the ring did not take the connection")
		}
		if got := runtime.GOMAXPROCS(0); got != set {
			t.Fatalf("GOMAXPROCS %d with rings running (%d loops), want the program's %d", got, lc.Loops, set)
		}
		c.Close()
		ln.Close()
	}
}

// The policy looks at the first Read or Write a lookInterval after its last look, and not
// before; in between the calls read no clock, and once a look is due the timer that marked it
// is not armed again until a call looks, so an idle program is woken for the policy once, not
// every interval.
func TestPolicyLooksOnceAnInterval(t *testing.T) {
	forcePath(t, pathsAuto)
	p := newPathPolicy()
	lastLook := func() time.Duration {
		p.looking.Lock()
		defer p.looking.Unlock()
		return time.Duration(p.meter.last.dt)
	}
	p.onRing()
	first := lastLook()
	if first == 0 {
		t.Fatal("the first call did not look")
	}
	for range 1000 {
		p.onRing()
	}
	if got := lastLook(); got != first && got-first < lookInterval {
		t.Fatalf("calls within lookInterval of a look looked again, %v after it", got-first)
	}
	for deadline := time.Now().Add(10 * time.Second); !p.lookDue.Load(); time.Sleep(lookInterval / 10) {
		if time.Now().After(deadline) {
			t.Fatal("no look fell due")
		}
	}
	if p.lookDone.Stop() {
		t.Fatal("with a look due and no call to make it, the timer was armed again")
	}
	p.onRing()
	if gap := lastLook() - first; gap < lookInterval {
		t.Fatalf("looked again %v after the last look; want lookInterval (%v) or more", gap, lookInterval)
	}
}

// What a Read or Write on the poller path pays to ask the policy which path serves it.
func BenchmarkPathAnswer(b *testing.B) {
	forcePath(b, pathsAuto)
	p := newPathPolicy()
	for b.Loop() {
		p.onRing()
	}
}
