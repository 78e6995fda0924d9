package ringset

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/loopback"
	"github.com/uringnet/uringnet/poller"
)

// receiveRecorder keeps what its connections receive and says when their receiving stopped.
type receiveRecorder struct {
	echo
	got     chan []byte
	stopped chan struct{}
}

func (h *receiveRecorder) OnTraffic(c *conn.Conn) Action {
	b := make([]byte, c.InboundBuffered())
	c.Read(b)
	h.got <- b
	return None
}

func (h *receiveRecorder) OnReceiveStopped(*conn.Conn) { h.stopped <- struct{}{} }

// A connection opened with its receiving off leaves the socket's bytes alone until receiving is
// turned on; turned off again, the armed receive ends, the handler hears of it, and what the
// peer sends from then on waits in the socket for whoever reads it, the loop taking none of it.
func TestSetReceiving(t *testing.T) {
	h := &receiveRecorder{got: make(chan []byte, 64), stopped: make(chan struct{}, 4)}
	s := startClientSet(t, Config{Loops: 1}, h)
	peer, ours := loopback.TCPPair(t)
	o, conns, errs := openWaiter()
	o.ReceiveLater = true
	if err := s.AdoptConn(0, ours, o); err != nil {
		t.Fatal(err)
	}
	c := waitOpened(t, conns, errs)

	peer.Write([]byte("early"))
	expectNothing(t, h.got, "receiving off")

	onConnLoop(t, c, func() { s.SetReceiving(c, true) })
	if got := <-h.got; string(got) != "early" {
		t.Fatalf("after turning receiving on: %q", got)
	}

	onConnLoop(t, c, func() { s.SetReceiving(c, false) })
	select {
	case <-h.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the armed receive never ended")
	}
	expectLeftInSocket(t, peer, ours, h.got, "late", "receiving off again")

	// Turned off while none is armed, the handler hears at once; on again, receiving goes on.
	onConnLoop(t, c, func() { s.SetReceiving(c, true); s.SetReceiving(c, false) })
	<-h.stopped
	onConnLoop(t, c, func() { s.SetReceiving(c, true) })
	want := bytes.Repeat([]byte("x"), 100_000)
	go peer.Write(want)
	var got []byte
	for len(got) < len(want) {
		select {
		case b := <-h.got:
			got = append(got, b...)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d bytes", len(got), len(want))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
}

// onConnLoop runs f on c's loop and waits for it.
func onConnLoop(t *testing.T, c *conn.Conn, f func()) {
	t.Helper()
	if err := c.Call(f); err != nil {
		t.Fatal(err)
	}
}

func expectNothing(t *testing.T, got chan []byte, when string) {
	t.Helper()
	select {
	case b := <-got:
		t.Fatalf("%s: the loop received %q", when, b)
	case <-time.After(50 * time.Millisecond):
	}
}

// expectLeftInSocket has the peer send msg while the loop's receiving is off: the loop takes
// none of it, and a direct read of the adopted descriptor (ours) finds it in the socket.
func expectLeftInSocket(t *testing.T, peer, ours net.Conn, got chan []byte, msg, when string) {
	t.Helper()
	peer.Write([]byte(msg))
	expectNothing(t, got, when)
	buf := make([]byte, len(msg)+16)
	ours.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := ours.Read(buf); err != nil || string(buf[:n]) != msg {
		t.Fatalf("%s: a direct read found %q, %v; want %q", when, buf[:n], err, msg)
	}
}

// streamRecorder keeps, by connection (its context is its index), what the loop delivered, and
// says when a connection first received, when its receiving stopped and when it closed.
type streamRecorder struct {
	echo
	mu  sync.Mutex
	got [][]byte
	// wasStopped: the connection's OnReceiveStopped came; late counts what was delivered after.
	wasStopped             []bool
	late                   int
	first, stopped, closed chan int
}

func (h *streamRecorder) OnTraffic(c *conn.Conn) Action {
	i := c.Context().(int)
	b := make([]byte, c.InboundBuffered())
	c.Read(b)
	h.mu.Lock()
	first := len(h.got[i]) == 0
	h.got[i] = append(h.got[i], b...)
	if h.wasStopped[i] {
		h.late += len(b)
	}
	h.mu.Unlock()
	if first {
		h.first <- i
	}
	return None
}

func (h *streamRecorder) OnReceiveStopped(c *conn.Conn) {
	i := c.Context().(int)
	h.mu.Lock()
	again := h.wasStopped[i]
	h.wasStopped[i] = true
	h.mu.Unlock()
	if again {
		i = -1 // a second report: the test fails on it
	}
	h.stopped <- i
}

func (h *streamRecorder) OnClose(c *conn.Conn, _ error) Action {
	h.closed <- c.Context().(int)
	return None
}

// streamByte is byte k of connection i's stream: the streams differ, and a byte out of place
// shows.
func streamByte(i, k int) byte { return byte(k*7 + k/251 + i) }

// Most of a loop's connections stop receiving at once, while their peers flood them or while
// they are idle: each hears that its receiving stopped; the two left receiving lose nothing; and
// every stopped connection's stream is whole and in order, part delivered before the stop and
// the rest waiting in its socket. Idle, each receive is found by the first cancel and cancelled
// once: the kernel finds it by walking every receive armed on the ring, and a second cancel
// walked them all again.
func TestManyReceivesStopAtOnce(t *testing.T) {
	for _, flood := range []bool{true, false} {
		t.Run(map[bool]string{true: "flooded", false: "idle"}[flood], func(t *testing.T) {
			const conns, stopping = 50, 48
			cancels := stopManyReceives(t, conns, stopping, flood)
			t.Logf("%d cancels for %d stops", cancels, stopping)
			if !flood && cancels != stopping {
				t.Fatalf("%d cancels for %d idle receives stopped, want one each", cancels, stopping)
			}
		})
	}
}

// stopManyReceives runs TestManyReceivesStopAtOnce's connections and reports how many cancels
// the stops took.
func stopManyReceives(t *testing.T, conns, stopping int, flood bool) int64 {
	h := &streamRecorder{got: make([][]byte, conns), wasStopped: make([]bool, conns),
		first: make(chan int, conns), stopped: make(chan int, conns), closed: make(chan int, conns)}
	s := startClientSet(t, Config{Loops: 1}, h)
	cs := make([]*conn.Conn, conns)
	ours := make([]*net.TCPConn, conns)
	peers := make([]*net.TCPConn, conns)
	for i := range conns {
		peers[i], ours[i] = loopback.TCPPair(t)
		o, opened, errs := openWaiter()
		o.Prepare = func(c *conn.Conn) { c.SetContext(i) }
		if err := s.AdoptConn(0, ours[i], o); err != nil {
			t.Fatal(err)
		}
		cs[i] = waitOpened(t, opened, errs)
	}
	sent := make([]int, conns)
	stopped, halt := make(chan struct{}), make(chan struct{})
	var writers sync.WaitGroup
	for i, peer := range peers {
		writers.Add(1)
		go func() { // flooding: sends until halted; idle: one chunk before the stop, one after
			defer writers.Done()
			defer peer.CloseWrite()
			b := make([]byte, 1<<10)
			for k := 0; ; k += len(b) {
				if flood {
					select {
					case <-halt:
						sent[i] = k
						return
					default:
					}
				} else if k == len(b) {
					<-stopped
				} else if k == 2*len(b) {
					sent[i] = k
					return
				}
				for j := range b {
					b[j] = streamByte(i, k+j)
				}
				if _, err := peer.Write(b); err != nil {
					t.Errorf("peer %d: %v", i, err)
					return
				}
			}
		}()
	}
	for range conns {
		waitFor(t, h.first, "every connection's first bytes")
	}
	onConnLoop(t, cs[0], func() {
		for _, c := range cs[:stopping] {
			s.SetReceiving(c, false)
		}
	})
	for n := range stopping {
		if i := waitFor(t, h.stopped, fmt.Sprintf("OnReceiveStopped of every stopped connection (%d of %d came)", n, stopping)); i < 0 || i >= stopping {
			t.Fatalf("OnReceiveStopped of connection %d (-1: a second one)", i)
		}
	}
	cancels := s.RecvCancels(0)
	close(stopped)
	var readers sync.WaitGroup
	rest := make([][]byte, stopping)
	for i := range stopping {
		readers.Add(1)
		go func() { // what the peer sends from now on waits in the socket
			defer readers.Done()
			ours[i].SetReadDeadline(time.Now().Add(10 * time.Second))
			var err error
			if rest[i], err = io.ReadAll(ours[i]); err != nil {
				t.Errorf("connection %d: reading its socket after the stop: %v", i, err)
			}
		}()
	}
	close(halt)
	writers.Wait()
	readers.Wait()
	for range conns - stopping {
		if i := waitFor(t, h.closed, "the receiving connections' EOF"); i < stopping {
			t.Fatalf("connection %d, stopped, closed on the loop", i)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.late > 0 {
		t.Fatalf("%d bytes delivered after OnReceiveStopped", h.late)
	}
	for i, got := range h.got {
		if i < stopping {
			got = append(got, rest[i]...)
		}
		if len(got) != sent[i] {
			t.Fatalf("connection %d: %d bytes of the %d sent", i, len(got), sent[i])
		}
		for k, b := range got {
			if b != streamByte(i, k) {
				t.Fatalf("connection %d: byte %d is %d, want %d", i, k, b, streamByte(i, k))
			}
		}
	}
	return cancels
}

// waitFor receives from ch, failing the test after ten seconds.
func waitFor[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("waited ten seconds for %s", what)
		var zero T
		return zero
	}
}

// Receiving turned off holds across a move: a stop still waiting for its receive when the move
// begins is reported once the connection has arrived, the loop it arrives on arms no receive,
// and what the peer sends from then on waits in the socket.
func TestReceivingOffHoldsAcrossAMove(t *testing.T) {
	h := &receiveRecorder{got: make(chan []byte, 64), stopped: make(chan struct{}, 4)}
	s := startClientSet(t, Config{Loops: 2, Movable: true}, h)
	peer, ours := loopback.TCPPair(t)
	o, conns, errs := openWaiter()
	if err := s.AdoptConn(0, ours, o); err != nil {
		t.Fatal(err)
	}
	c := waitOpened(t, conns, errs)
	peer.Write([]byte("early"))
	if got := waitFor(t, h.got, "the bytes sent before the stop"); string(got) != "early" {
		t.Fatalf("before the stop: %q", got)
	}
	moved := make(chan error, 1)
	onConnLoop(t, c, func() {
		s.SetReceiving(c, false)
		if err := s.Move(c, 1, func(err error) { moved <- err }); err != nil {
			t.Error(err)
		}
	})
	if err := waitFor(t, moved, "the move's end"); err != nil {
		t.Fatalf("the move: %v", err)
	}
	waitFor(t, h.stopped, "OnReceiveStopped")
	if i := c.Loop().Index(); i != 1 {
		t.Fatalf("the connection is on loop %d after its move to loop 1", i)
	}
	expectLeftInSocket(t, peer, ours, h.got, "late", "receiving off after the move")
}

// A stop of the receiving whose cancel's completion comes after the receive's last one (the
// kernel posts them in that order when the receive ended on its own) while the connection is
// moving, the move failing (the target's table is full): the connection stays on its loop with
// its receiving stopped, and its receiving can be turned on and off again there. (The move once
// passed the descriptor without waiting for that completion, which, coming after the pass, was
// dropped as stale: the stop stayed marked in flight, and the next stop cancelled nothing and
// never ended.)
func TestReceivingStopSurvivesAFailedMove(t *testing.T) {
	h := &receiveRecorder{got: make(chan []byte, 64), stopped: make(chan struct{}, 4)}
	s := startClientSet(t, Config{Loops: 2, Movable: true, MaxConnsPerLoop: 1}, h)
	peer, ours := loopback.TCPPair(t)
	o, conns, errs := openWaiter()
	if err := s.AdoptConn(0, ours, o); err != nil {
		t.Fatal(err)
	}
	c := waitOpened(t, conns, errs)
	_, filler := loopback.TCPPair(t) // fills loop 1's one slot
	o, conns, errs = openWaiter()
	if err := s.AdoptConn(1, filler, o); err != nil {
		t.Fatal(err)
	}
	waitOpened(t, conns, errs)

	peer.Write([]byte("early"))
	if got := waitFor(t, h.got, "the bytes sent before the stop"); string(got) != "early" {
		t.Fatalf("before the stop: %q", got)
	}
	// The stop's cancel's completion is held back until the receive's last completion has been
	// dispatched and another completion comes: the failed pass's, or a wake-up.
	onLoop(t, s, 0, func(l *loop) {
		f := &faults{}
		recvEnded := false
		f.hold = func(cq *poller.CQE) bool {
			kind, _, _ := splitUserData(cq.UserData)
			switch {
			case kind == opRecvCancel && cq.Res == 0 && !recvEnded:
				return true // found: the receive ends by itself, with no cancel made again
			case kind == opRecv && !cq.More():
				recvEnded = true
			case recvEnded:
				f.hold = nil
			}
			return false
		}
		l.faults = f
	})
	moved := make(chan error, 1)
	onConnLoop(t, c, func() {
		s.SetReceiving(c, false)
		if err := s.Move(c, 1, func(err error) { moved <- err }); err != nil {
			t.Error(err)
		}
	})
	var err error
	deadline := time.After(10 * time.Second)
	for waiting := true; waiting; {
		select {
		case err = <-moved:
			waiting = false
		case <-deadline:
			t.Fatal("waited ten seconds for the move's end")
		case <-time.After(20 * time.Millisecond):
			onLoop(t, s, 0, func(*loop) {}) // a wake-up, for the hold to end on
		}
	}
	if err == nil {
		t.Fatal("a move into a full table succeeded")
	}
	waitFor(t, h.stopped, "OnReceiveStopped")
	if i := c.Loop().Index(); i != 0 {
		t.Fatalf("the connection is on loop %d after its failed move, want 0", i)
	}
	peer.Write([]byte("late"))
	expectNothing(t, h.got, "receiving off after the failed move")

	onConnLoop(t, c, func() { s.SetReceiving(c, true) })
	if got := waitFor(t, h.got, "the bytes sent while receiving was off"); string(got) != "late" {
		t.Fatalf("receiving on again: %q", got)
	}
	onConnLoop(t, c, func() { s.SetReceiving(c, false) })
	waitFor(t, h.stopped, "OnReceiveStopped of the second stop")
	expectLeftInSocket(t, peer, ours, h.got, "last", "receiving off the second time")
}
