package ringset

// A loop whose fixed-file table is full: extra connections are refused or go to another loop,
// and the accept is held back until a slot frees.

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/leakcheck"
)

// With a full fixed-file table the extra connections are refused (closed), the loop keeps
// serving those it has, and accepts again once a slot frees.
func TestFullFixedFileTable(t *testing.T) {
	s := startSet(t, Config{MaxConnsPerLoop: 4}, &echo{})
	var kept []net.Conn
	for i := 0; i < 4; i++ {
		c := dial(t, s)
		if err := echoRoundTrip(c, 100, uint64(i)); err != nil {
			t.Fatalf("connection %d of 4: %v", i, err)
		}
		kept = append(kept, c)
	}
	extra := dial(t, s)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	extra.Write([]byte("hello?"))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a fifth connection was served by a loop with four slots")
	}
	if err := echoRoundTrip(kept[0], 100, 9); err != nil {
		t.Fatalf("an existing connection after the refusal: %v", err)
	}
	kept[1].Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 3 })
	if err := echoRoundTrip(dial(t, s), 100, 10); err != nil {
		t.Fatalf("a new connection once a slot freed: %v", err)
	}
}

// A connection whose loop (the balancer's pick) has a full table goes to another loop with
// room, rather than being refused.
func TestFullTablePassesToAnotherLoop(t *testing.T) {
	s := startSet(t, Config{Loops: 2, MaxConnsPerLoop: 2}, &echo{})
	served := func(c net.Conn, seed uint64) {
		t.Helper()
		if err := echoRoundTrip(c, 100, seed); err != nil {
			t.Fatalf("connection %d: %v", seed, err)
		}
	}
	c1, c2 := dial(t, s), dial(t, s) // round-robin: loop 0, loop 1
	served(c1, 1)
	served(c2, 2)
	c2.Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 1 })
	c3, c4 := dial(t, s), dial(t, s) // loop 0 (now full), loop 1
	served(c3, 3)
	served(c4, 4)
	served(dial(t, s), 5) // the pick is loop 0, full: loop 1 takes it
	if n := s.CountConnections(); n != 4 {
		t.Fatalf("%d connections served, want 4 in two tables of two", n)
	}
}

// A loop accepting on its own listener (ReusePort) whose table is full refuses the connection
// (the kernel accepts it, finds no slot, and closes it) and holds its accept back rather than
// re-arming it against the same failure as fast as the ring turns; once a slot frees, a new
// connection is served.
func TestFullTableHoldsTheAcceptBack(t *testing.T) {
	s := startSet(t, Config{ReusePort: true, MaxConnsPerLoop: 2}, &echo{})
	c1, c2 := dial(t, s), dial(t, s)
	for i, c := range []net.Conn{c1, c2} {
		if err := echoRoundTrip(c, 100, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	cpu0 := loopsCPU(t, s)
	for range 5 {
		refused := dial(t, s)
		refused.Write([]byte("x"))
		refused.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := refused.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatal("a connection was served beyond a full table")
		}
	}
	time.Sleep(300 * time.Millisecond)
	if used := loopsCPU(t, s) - cpu0; used > 100*time.Millisecond {
		t.Fatalf("the loop used %v of CPU refusing 5 connections and waiting 300ms", used)
	}
	c1.Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 1 })
	if err := echoRoundTrip(dial(t, s), 100, 3); err != nil {
		t.Fatalf("a new connection once a slot freed: %v", err)
	}
}

// Adopting into a loop whose table is full fails through Opened with the error of the system
// call that carried the refusal (ENFILE, from io_uring_enter), and the adopted duplicate is
// closed rather than left behind.
func TestAdoptIntoFullTable(t *testing.T) {
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	s := startClientSet(t, Config{Loops: 1, MaxConnsPerLoop: 1}, &echo{})
	adopt := func() (*conn.Conn, error) {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		o, conns, errs := openWaiter()
		if err := s.AdoptConn(0, nc, o); err != nil {
			t.Fatalf("AdoptConn: %v", err)
		}
		select {
		case c := <-conns:
			return c, nil
		case err := <-errs:
			return nil, err
		case <-time.After(10 * time.Second):
			t.Fatal("adoption never reported")
		}
		return nil, nil
	}
	if _, err := adopt(); err != nil {
		t.Fatalf("the first adoption: %v", err)
	}
	// The server's side of the first connection is one of the descriptors that stay.
	waitUntil(t, 10*time.Second, func() bool { return ln.accepted.Load() == 1 })
	fds := leakcheck.OpenFds(t)
	_, err := adopt()
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "io_uring_enter" || !errors.Is(err, unix.ENFILE) {
		t.Fatalf("adopting into a full table: %v, want an *os.SyscallError io_uring_enter: ENFILE", err)
	}
	leakcheck.Settle(t, runtime.NumGoroutine(), fds)
}

// A burst of connections larger than the acceptor's table is served whole: the acceptor arms
// no more accepts than it has free slots, since an accept that finds the table full has
// already taken its connection from the backlog, and the kernel closes it (the peer read EOF
// under 10,000-connection bursts, when the loops were slow to take the passes). Here the
// pressure is 400 dials at once against 7 slots.
func TestBurstLargerThanTheAcceptorsTableIsServed(t *testing.T) {
	const table, conns = 8, 400
	s := startSet(t, Config{Loops: 2, acceptorTable: table}, &echo{})
	release := make(chan struct{})
	reached := make(chan struct{}, conns) // a round trip made, or failed
	done := make(chan struct{})
	var failed int64
	var first error
	go func() {
		failed, first = eachClient(s, conns, conns, func(i int, c net.Conn) error {
			defer c.Close()
			err := echoRoundTrip(c, 64, uint64(i))
			reached <- struct{}{}
			<-release // held open meanwhile: the connections keep their loops' slots
			return err
		})
		close(done)
	}()
	deadline := time.After(time.Minute)
	for n := 0; n < conns; n++ {
		select {
		case <-reached:
		case <-done: // every client ended, some without a round trip (a dial failed)
			n = conns
		case <-deadline:
			t.Fatalf("%d of %d round trips made in a minute", n, conns)
		}
	}
	close(release)
	<-done
	if failed > 0 {
		t.Fatalf("%d of %d connections failed through an acceptor table of %d slots; the first: %v", failed, conns, table, first)
	}
}

// Connections refused because every loop is full free the acceptor's slots as their closes
// complete: more refusals than its table has slots leave it accepting, and a connection that
// comes once a loop has room is served.
func TestRefusalsFreeTheAcceptorsSlots(t *testing.T) {
	const table = 4 // three slots for connections
	s := startSet(t, Config{Loops: 1, MaxConnsPerLoop: 2, acceptorTable: table}, &echo{})
	kept := []net.Conn{dial(t, s), dial(t, s)}
	for i, c := range kept {
		if err := echoRoundTrip(c, 100, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 * table {
		refused := dial(t, s)
		refused.Write([]byte("x"))
		refused.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := refused.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d beyond a full loop was neither served nor refused in 5 s: the acceptor stopped accepting", i)
		}
		if err == nil {
			t.Fatalf("connection %d was served beyond a full loop", i)
		}
	}
	kept[0].Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 1 })
	c := dial(t, s)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("a connection once the loop had room: %q, %v", got, err)
	}
}
