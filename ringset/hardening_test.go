package ringset

// Regression tests for faults in one connection, one system call or one handler that used to
// cost another connection, a byte, a loop's CPU or the process.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"github.com/uringnet/uringnet/internal/loopback"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Work queued behind a move, in the same run of the connection's queue, runs where the
// connection arrives: a close posted right after the move closes it there, once, and the set
// stops cleanly. (It used to run on the loop the connection had left, where the close found a
// connection that was no longer its own, and the connection was never closed or reported.)
func TestWorkQueuedBehindAMoveRunsWhereItArrives(t *testing.T) {
	o := &opened{ch: make(chan *conn.Conn, 1)}
	var closedOn atomic.Int64
	closedOn.Store(-1)
	closes := make(chan error, 2)
	h := &hooks{
		open:    o.add,
		traffic: func(*conn.Conn) Action { return None }, // never consumes: the receive pauses
		close: func(c *conn.Conn, err error) {
			closedOn.Store(int64(c.Loop().Index()))
			closes <- err
		},
	}
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 2, Movable: true, InboundLimit: 4096}, h)
	if err != nil {
		t.Fatal(err)
	}
	peer := dial(t, s)
	c := <-o.ch
	from := c.Loop().Index()
	peer.Write(make([]byte, 64<<10))
	time.Sleep(100 * time.Millisecond) // the receive pauses at the limit: nothing in flight
	moved := make(chan error, 1)
	closeRan := make(chan error, 1)
	// One task queues the move and the close: the loop runs both in the same run of the queue.
	c.Exec(func() {
		if err := s.Move(c, 1-from, func(err error) { moved <- err }); err != nil {
			moved <- err
		}
		closeAsync(c, func(_ *conn.Conn, err error) { closeRan <- err })
	})
	if err := <-moved; err != nil {
		t.Fatalf("move: %v", err)
	}
	if err := <-closeRan; err != nil {
		t.Fatalf("the close behind the move: %v", err)
	}
	select {
	case <-closes:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was never closed")
	}
	if on := closedOn.Load(); on != int64(1-from) {
		t.Fatalf("closed on loop %d, want the one it moved to (%d)", on, 1-from)
	}
	s.Stop()
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the set did not stop: a connection was left open")
	}
	if len(closes) != 0 {
		t.Fatal("the close was reported twice")
	}
}

// bufferSize is the socket buffer size the flush test fixes on both ends (which turns the
// kernel's autotuning off, so that a socket's capacity is the same from one connection to the
// next).
const bufferSize = 32 << 10

// loopbackCapacity is how many bytes a loopback TCP connection with bufferSize buffers takes
// from its writer while its reader reads nothing: the sender's buffer and the receiver's.
func loopbackCapacity(t *testing.T) int {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, _ := ln.SyscallConn()
	rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, bufferSize) })
	peer := dialWithReceiveBuffer(t, ln.Addr().String())
	defer peer.Close()
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, _ := c.SyscallConn()
	taken := 0
	chunk := make([]byte, 4096)
	raw.Write(func(fd uintptr) bool {
		for {
			n, err := unix.Write(int(fd), chunk)
			if err != nil {
				return true
			}
			taken += n
		}
	})
	return taken
}

// dialWithReceiveBuffer dials addr with a bufferSize receive buffer, set before connecting.
func dialWithReceiveBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, bufferSize) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The close's final flush sends everything the socket will take, not only what a send cut short
// by the close left: bytes written behind it go too. (They used to be dropped even when the
// socket had room for them.) A send is in flight, waiting for room, when the handler writes a
// last "TAIL" and closes; it holds the loop while the peer drains the socket, so that the
// send, cancelled by the close, was cut short with room to spare.
func TestCloseFlushesWhatWaitsBehindACutShortSend(t *testing.T) {
	capacity := loopbackCapacity(t)
	body := make([]byte, capacity+capacity/2) // stuck after capacity; the rest fits once drained
	for i := range body {
		body[i] = byte(i)
	}
	h := &hooks{traffic: func(c *conn.Conn) Action {
		b, _ := c.Next(-1)
		switch string(b) {
		case "a":
			c.Write(body)
		case "b":
			time.Sleep(300 * time.Millisecond) // the peer drains the socket meanwhile
			c.Write([]byte("TAIL"))
			return Close
		}
		return None
	}}
	s := startSet(t, Config{SocketOptions: []SocketOption{{unix.SOL_SOCKET, unix.SO_SNDBUF, bufferSize}}}, h)
	peer := dialWithReceiveBuffer(t, s.Addr().String())
	defer peer.Close()
	peer.Write([]byte("a"))
	time.Sleep(200 * time.Millisecond) // the send fills the socket and waits for room
	peer.Write([]byte("b"))
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), body...), "TAIL"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the peer got %d bytes (ending %q), want the %d written and TAIL", len(got), got[max(0, len(got)-4):], len(body))
	}
}

// A datagram received on a UDP set's socket has nothing of its own to close: a Close asked of it
// (from a Wake whose OnTraffic says Close, or a panic in work posted for it) leaves the socket
// serving. (It used to close the loop's socket, whose receive then failed again and again.)
func TestClosingADatagramLeavesTheSocketServing(t *testing.T) {
	h := &hooks{traffic: func(c *conn.Conn) Action {
		b, _ := c.Next(-1)
		switch string(b) {
		case "wake":
			wakeAsync(c, nil) // OnTraffic again, with nothing new: it answers Close
		case "panic":
			c.AsyncWrite([]byte("p"), func(*conn.Conn, error) { panic("callback bug") })
		case "":
			return Close
		default:
			c.Write(b)
		}
		return None
	}}
	s := startSet(t, Config{Network: "udp", Address: "127.0.0.1:0"}, h)
	pc, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	echo := func(msg string) {
		t.Helper()
		pc.SetDeadline(time.Now().Add(5 * time.Second))
		pc.Write([]byte(msg))
		b := make([]byte, 64)
		n, err := pc.Read(b)
		if err != nil || string(b[:n]) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, b[:n], err)
		}
	}
	echo("first")
	pc.Write([]byte("wake"))
	time.Sleep(50 * time.Millisecond)
	echo("after a Close from Wake")
	pc.Write([]byte("panic"))
	b := make([]byte, 8)
	pc.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := pc.Read(b); err != nil || string(b[:n]) != "p" {
		t.Fatalf("the write before the panicking callback: %q, %v", b[:n], err)
	}
	echo("after a panic in a callback")
}

// A UDP set whose read buffers cannot hold a datagram's header is refused at Start, with a
// clear error, rather than receiving into them and failing on every datagram.
func TestDatagramBufferTooSmall(t *testing.T) {
	s, err := Start(Config{Network: "udp", Address: "127.0.0.1:0", ReadBufferSize: 32}, &echo{})
	if err == nil {
		s.Stop()
		s.Wait()
		t.Fatal("a UDP set with 32-byte read buffers started")
	}
}

// A handler that waits for a message whose length the peer sent (a Peek that comes up short)
// raises the connection's limit only as far as MessageLimit: a peer that claims a 1 GiB message
// does not get the loop to buffer a gigabyte. (The limit used to follow the claim.)
func TestClaimedLengthIsBounded(t *testing.T) {
	const inbound, message = 4 << 10, 64 << 10
	held := make(chan int, 1024)
	h := &hooks{traffic: func(c *conn.Conn) Action {
		c.Peek(1 << 30) // "the message is 1 GiB long": never all there
		select {
		case held <- c.InboundBuffered():
		default:
		}
		return None
	}}
	s := startSet(t, Config{InboundLimit: inbound, MessageLimit: message, ReadBufferSize: 4 << 10}, h)
	peer := dial(t, s)
	go peer.Write(make([]byte, 1<<20))
	most := 0
	for deadline := time.After(time.Second); ; {
		select {
		case n := <-held:
			most = max(most, n)
			continue
		case <-deadline:
		}
		break
	}
	if most < message || most > message+8<<10 {
		t.Fatalf("the connection held up to %d bytes; want it to stop at the %d-byte message limit (plus a buffer)", most, message)
	}
}

// panicAtBoot panics in OnBoot.
type panicAtBoot struct{ echo }

func (*panicAtBoot) OnBoot(*Set) Action { panic("boot bug") }

// A panic in OnBoot reaches Start's caller, as a panic in a call of its own would, and the set
// is taken down on the way: its address is free and its goroutines are gone. (The loops and the
// acceptor used to wait forever for OnBoot, holding the address.)
func TestPanicInOnBootTakesTheSetDown(t *testing.T) {
	g0, fd0 := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	func() {
		defer func() {
			if r := recover(); r != "boot bug" {
				t.Fatalf("Start: recovered %v, want OnBoot's panic", r)
			}
		}()
		Start(Config{Network: "tcp", Address: addr, Loops: 2}, &panicAtBoot{})
		t.Fatal("Start returned")
	}()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the address after OnBoot panicked: %v", err)
	}
	ln.Close()
	leakcheck.Settle(t, g0, fd0)
}

// dialResult dials through f and waits for the outcome: the peer's address, or the error.
func dialResult(t *testing.T, f func(o Opening) error) (net.Addr, error) {
	t.Helper()
	type result struct {
		peer net.Addr
		err  error
	}
	res := make(chan result, 1)
	opened := func(c *conn.Conn, err error) {
		if err != nil {
			res <- result{nil, err}
			return
		}
		res <- result{c.RemoteAddr(), nil} // looked up on the loop, which alone can
	}
	if err := f(Opening{Opened: opened}); err != nil {
		return nil, err
	}
	select {
	case r := <-res:
		return r.peer, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("the dial never ended")
		return nil, nil
	}
}

// A dial tries every address the name resolved to, in turn, as net.Dialer does. (Only the
// first used to be tried.)
func TestDialTriesEveryAddress(t *testing.T) {
	s := startSet(t, Config{Network: "tcp", Address: "127.0.0.1:0"}, &echo{})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := closed.Addr().(*net.TCPAddr).AddrPort()
	closed.Close()
	ap := s.Addr().(*net.TCPAddr).AddrPort()
	serving := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	peer, err := dialResult(t, func(o Opening) error {
		return s.dialAddrs(context.Background(), 0, "tcp", "", []netip.AddrPort{refusing, serving}, o)
	})
	if err != nil {
		t.Fatalf("dial of a refusing address, then a serving one: %v", err)
	}
	if peer.String() != serving.String() {
		t.Fatalf("connected to %v, want %v", peer, serving)
	}
	if _, err := dialResult(t, func(o Opening) error {
		return s.dialAddrs(context.Background(), 0, "tcp", "", []netip.AddrPort{refusing, refusing}, o)
	}); !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("dial of two refusing addresses: %v, want the first one's ECONNREFUSED", err)
	}
}

// blackHole returns the address of a listener whose backlog is full and which accepts nothing:
// a connect to it waits, its SYNs dropped, until it gives up.
func blackHole(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for i := 0; i < 4; i++ { // fill the backlog; the connects that do not fit wait in the background
		go func() {
			if c, err := net.DialTimeout("tcp", addr, 3*time.Second); err == nil {
				t.Cleanup(func() { c.Close() })
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	return addr
}

// A dial whose context ends while its connect waits ends then, with the context's error, and
// leaves nothing in flight. (The connect used to stay in flight, holding a slot, until the
// kernel gave up, minutes later.)
func TestDialContextEndsTheConnect(t *testing.T) {
	s := startSet(t, Config{Network: "tcp", Address: "127.0.0.1:0"}, &echo{})
	addr := blackHole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := dialResult(t, func(o Opening) error { return s.Dial(ctx, 0, "tcp", addr, o) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial of a black hole with a 300ms context: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the dial ended %v after its context", d)
	}
	inFlight := make(chan bool, 1)
	s.Post(0, func() { inFlight <- s.loops[0].hasPending() })
	if <-inFlight {
		t.Fatal("the dial is still in flight after it ended")
	}
}

// onLoop runs f on loop i of s and waits for it.
func onLoop(t *testing.T, s *Set, i int, f func(l *loop)) {
	t.Helper()
	done := make(chan struct{})
	if err := s.Post(i, func() { f(s.loops[i]); close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

// io_uring_enter failing for want of memory or room (EAGAIN, ENOMEM, EBUSY) is retried: the
// loop goes on serving. (Any error but a timeout used to stop the whole set.)
func TestTransientEnterErrorsAreRetried(t *testing.T) {
	s := startSet(t, Config{}, &echo{})
	c := dial(t, s)
	if err := echoRoundTrip(c, 1000, 1); err != nil {
		t.Fatal(err)
	}
	onLoop(t, s, 0, func(l *loop) {
		l.faults = &faults{}
		for _, errno := range []unix.Errno{unix.EAGAIN, unix.ENOMEM, unix.EBUSY, unix.EAGAIN} {
			l.faults.errs = append(l.faults.errs, fmt.Errorf("poller: io_uring_enter (submit 1, wait 1): %w", errno))
		}
	})
	for i := range 5 {
		if err := echoRoundTrip(c, 64<<10, uint64(i)); err != nil {
			t.Fatalf("after transient io_uring_enter errors: %v", err)
		}
	}
	if err := echoRoundTrip(dial(t, s), 1000, 9); err != nil {
		t.Fatalf("a new connection after transient errors: %v", err)
	}
}

// When the kernel drops completions, the loop closes its connections (one of them lost a
// receive, with its bytes, and which cannot be told) with an error saying why, says so once,
// and goes on serving new connections without spinning. (The drop used to be taken for an
// interrupted wait: the connection whose receive was lost waited for it forever.)
func TestDroppedCompletionsCloseTheLoopsConnections(t *testing.T) {
	o := &opened{ch: make(chan *conn.Conn, 2)}
	closes := make(chan error, 4)
	h := &hooks{open: o.add, close: func(_ *conn.Conn, err error) { closes <- err }}
	s := startSet(t, Config{}, h)
	// b is dialed only once a is open: two connections dialed one after the other may open in
	// either order (b's descriptor pass can be installed first, taking the lower slot), and the
	// completion lost must be of a's. Taking the first OnOpen for a's aimed the fault at b's
	// receive, which nothing completes: nothing was dropped, nothing closed, and the test timed
	// out (about one run in seven under the race detector).
	a := dial(t, s)
	ca := <-o.ch
	b := dial(t, s)
	<-o.ch
	var slot uint32
	dropped := make(chan struct{})
	onLoop(t, s, 0, func(l *loop) {
		slot = ca.Slot
		l.faults = &faults{}
		lost := false
		l.faults.lose = func(c *poller.CQE) bool {
			kind, _, s := splitUserData(c.UserData)
			if lost || kind != opRecv || s != slot {
				return false
			}
			lost = true
			close(dropped)
			l.faults.errs = append(l.faults.errs, poller.ErrCompletionsDropped) // as the next wait reports it
			return true
		}
	})
	a.Write([]byte("these bytes are lost"))
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("the receive completion of a's bytes never came, to be dropped")
	}
	for range 2 {
		select {
		case err := <-closes:
			if !errors.Is(err, errCompletionsLost) {
				t.Fatalf("OnClose: %v, want the dropped completions", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a connection of the loop was not closed after the drop")
		}
	}
	for _, c := range []net.Conn{a, b} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 64)); err == nil {
			t.Fatal("a peer was answered after its connection was closed")
		}
	}
	cpu0 := loopsCPU(t, s)
	if err := echoRoundTrip(dial(t, s), 64<<10, 3); err != nil {
		t.Fatalf("a new connection after the drop: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if used := loopsCPU(t, s) - cpu0; used > 150*time.Millisecond {
		t.Fatalf("the loop used %v of CPU in 300ms after the drop", used)
	}
}

// closeWatch is a set of one loop with one connection, whose closes it reports.
type closeWatch struct {
	s      *Set
	peer   net.Conn
	c      *conn.Conn
	closes chan error
}

func watchCloses(t *testing.T) closeWatch {
	o := &opened{ch: make(chan *conn.Conn, 1)}
	closes := make(chan error, 2)
	h := &hooks{open: o.add, close: func(_ *conn.Conn, err error) { closes <- err }}
	s := startSet(t, Config{}, h)
	peer := dial(t, s)
	return closeWatch{s: s, peer: peer, c: <-o.ch, closes: closes}
}

// loseOnce has loop 0 lose the first completion lost picks, as the kernel drops one, and
// report the drop; the channel closes once it has.
func (w closeWatch) loseOnce(t *testing.T, lost func(c *poller.CQE) bool) chan struct{} {
	done := make(chan struct{})
	onLoop(t, w.s, 0, func(l *loop) {
		l.faults = &faults{}
		l.faults.lose = func(c *poller.CQE) bool {
			if !lost(c) {
				return false
			}
			l.faults.lose = nil
			l.faults.errs = append(l.faults.errs, poller.ErrCompletionsDropped)
			close(done)
			return true
		}
	})
	return done
}

// closed waits for the connection's OnClose and returns its error.
func (w closeWatch) closed(t *testing.T) error {
	select {
	case err := <-w.closes:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the close never finished")
		return nil
	}
}

// A completion that ends an operation can be the one the kernel drops: here the receive's
// last (the peer's EOF, which a multishot receive ends with). The loop still counts the receive
// armed, and the close's cancel (of the receive by its user data, or of every operation on the
// descriptor) finds none. The close must take the receive as ended and finish, not cancel
// again and again (it did, spinning the loop for good).
func TestDroppedFinalCompletionDoesNotHoldTheClose(t *testing.T) {
	w := watchCloses(t)
	w.loseOnce(t, func(c *poller.CQE) bool {
		kind, _, slot := splitUserData(c.UserData)
		return kind == opRecv && slot == w.c.Slot && !c.More() && c.Res == 0
	})
	w.peer.(*net.TCPConn).CloseWrite() // the receive ends with the EOF, and that completion is lost
	if err := w.closed(t); !errors.Is(err, errCompletionsLost) {
		t.Fatalf("OnClose: %v, want the dropped completions", err)
	}
	cpu0 := loopsCPU(t, w.s)
	time.Sleep(300 * time.Millisecond)
	if used := loopsCPU(t, w.s) - cpu0; used > 150*time.Millisecond {
		t.Fatalf("the loop used %v of CPU in 300ms after the close", used)
	}
}

// A close whose cancel found the receive, and the receive's last completion lost with the
// kernel's dropped completions: the close does not wait for it. (The cancel that found it is
// not made again, so the audit makes one afresh; finding nothing, it ends the receive.)
func TestDroppedCancelledReceiveDoesNotHoldTheClose(t *testing.T) {
	w := watchCloses(t)
	w.loseOnce(t, func(c *poller.CQE) bool {
		kind, _, slot := splitUserData(c.UserData)
		return kind == opRecv && slot == w.c.Slot && !c.More() && c.Res == -int32(unix.ECANCELED)
	})
	if err := w.c.Call(func() { w.c.Close() }); err != nil {
		t.Fatal(err)
	}
	if err := w.closed(t); err != nil {
		t.Fatalf("OnClose of a connection the loop closed: %v", err)
	}
}

// A close whose final-flush send lost its completion with the kernel's dropped completions: the
// audit learns it was lost, and the close does not wait for it.
func TestDroppedFlushCompletionDoesNotHoldTheClose(t *testing.T) {
	w := watchCloses(t)
	lost := w.loseOnce(t, func(c *poller.CQE) bool {
		kind, _, slot := splitUserData(c.UserData)
		return kind == opSend && slot == w.c.Slot && w.c.Ops.Flushing
	})
	if err := w.c.Call(func() { w.c.Write([]byte("last words")); w.c.Close() }); err != nil {
		t.Fatal(err)
	}
	if err := w.closed(t); err != nil {
		t.Fatalf("OnClose of a connection the loop closed: %v", err)
	}
	select {
	case <-lost:
	default:
		t.Fatal("no final-flush send completion was lost: the test did not test")
	}
	w.peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(w.peer); err != nil || string(got) != "last words" {
		t.Fatalf("the peer got %q, %v", got, err)
	}
}

// A move asked while the connection moves runs where it arrives, and may send it on at once:
// the loop it passes through then leaves it alone, its send queue included. (The arrival used
// to go on, after the work it ran, to queue the connection's send on a loop that no longer had
// it, whose later send could go out on another loop's slot number; the race detector sees the
// two loops write the connection.)
func TestMoveOnArrivalLeavesThePassedLoopAlone(t *testing.T) {
	o := &opened{ch: make(chan *conn.Conn, 1)}
	h := &hooks{open: o.add, traffic: func(*conn.Conn) Action { return None }} // never consumes
	s := startSet(t, Config{Loops: 3, Movable: true, InboundLimit: 4096}, h)
	peer := dial(t, s)
	c := <-o.ch
	from := c.Loop().Index()
	via, to := (from+1)%3, (from+2)%3
	peer.Write(make([]byte, 64<<10))
	time.Sleep(100 * time.Millisecond) // the receive pauses at the limit: nothing in flight
	for round := range 20 {
		arrived := make(chan error, 1)
		c.Exec(func() {
			s.Move(c, via, nil)
			c.AsyncWrite([]byte("reply"), nil) // held while it moves: pending output on arrival
			s.Move(c, to, func(err error) { arrived <- err })
		})
		if err := <-arrived; err != nil {
			t.Fatalf("round %d, the second move: %v", round, err)
		}
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, 5)
		if _, err := io.ReadFull(peer, got); err != nil || string(got) != "reply" {
			t.Fatalf("round %d, the reply written while it moved: %q, %v", round, got, err)
		}
		from, via, to = to, from, via
	}
}

// A connection that fails (the peer resets it) with input its handler left unread still holds
// that input in OnClose, where the handler may take it: the set frees a connection's buffers
// after OnClose, as gnet releases a connection after its OnClose (the listener hands such
// bytes to its readers).
func TestOnCloseMayStillTakeWhatWasReceived(t *testing.T) {
	const size = 40 << 10
	left, held := make(chan int, 1), make(chan struct{})
	h := &hooks{
		traffic: func(c *conn.Conn) Action { // leaves everything unread
			if c.InboundBuffered() == size {
				close(held)
			}
			return None
		},
		close: func(c *conn.Conn, err error) {
			b, _ := c.Next(-1)
			left <- len(b)
		},
	}
	s := startSet(t, Config{}, h)
	peer, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held: // all of it, under the inbound limit: the loop did not pause
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not receive what was sent within 10s")
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	select {
	case n := <-left:
		if n != size {
			t.Fatalf("OnClose took %d bytes, want the %d received", n, size)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose within 10s of the peer's reset")
	}
}

// Input a receive takes from the kernel while a local close is under way is dropped, and the
// close is abortive, as the kernel's is for a socket closed with input unread: the peer reads
// ECONNRESET, not the end of the stream. The receive's completion is held back until the close
// protocol's cancel completes, so that it arrives with the connection closing.
func TestInputTakenAsALocalCloseBeginsResets(t *testing.T) {
	h := &receiveRecorder{got: make(chan []byte, 64), stopped: make(chan struct{}, 4)}
	s := startClientSet(t, Config{Loops: 1}, h)
	peer, ours := loopback.TCPPair(t)
	o, conns, errs := openWaiter()
	if err := s.AdoptConn(0, ours, o); err != nil {
		t.Fatal(err)
	}
	c := waitOpened(t, conns, errs)
	held := make(chan struct{})
	onLoop(t, s, 0, func(l *loop) {
		f := &faults{}
		f.hold = func(cq *poller.CQE) bool {
			switch kind, _, _ := splitUserData(cq.UserData); {
			case kind == opRecv && cq.Res > 0:
				close(held)
				return true
			case kind == opCancel, kind == opCancelIdle, kind == opRecv:
				f.hold = nil // what it held comes now, just before the close's cancel
			}
			return false
		}
		l.faults = f
	})
	if _, err := peer.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, held, "the receive's completion")
	onConnLoop(t, c, func() { c.Close() })
	ours.Close() // the set's descriptor is a copy: the socket closes with the last of the two
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the peer read %q and %v, want ECONNRESET", got, err)
	}
	expectNothing(t, h.got, "input that arrived as the connection closed")
}
