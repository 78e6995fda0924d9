package ringset

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// A panic in an AsyncWrite callback closes that connection, with the panic as its error; the
// set and its other connections go on (startSet's cleanup checks that Wait reports nothing).
func TestCallbackPanicClosesOnlyItsConnection(t *testing.T) {
	conns := make(chan *conn.Conn, 2)
	closeErrs := make(chan error, 2)
	h := &hooks{
		open:  func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None },
		close: func(_ *conn.Conn, err error) { closeErrs <- err },
	}
	s := startSet(t, Config{}, h)
	bad := dial(t, s)
	c := <-conns
	c.AsyncWrite([]byte("x"), func(*conn.Conn, error) { panic("callback bug") })
	if err := <-closeErrs; err == nil || !strings.Contains(err.Error(), "callback bug") {
		t.Fatalf("OnClose after a callback panic: %v", err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(bad)
	if err := echoRoundTrip(dial(t, s), 1000, 1); err != nil {
		t.Fatalf("after the callback panic: %v", err)
	}
}

// After a set stops, Post refuses and the task never runs.
func TestPostAfterStopNeverRuns(t *testing.T) {
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0"}, &echo{})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	if err := s.Post(0, func() { ran.Store(true) }); !errors.Is(err, ErrStopped) {
		t.Fatalf("Post after stop: %v, want ErrStopped", err)
	}
	time.Sleep(20 * time.Millisecond)
	if ran.Load() {
		t.Fatal("a refused task ran")
	}
}

// Input consumed outside OnTraffic (here in AsyncWrite callbacks) resumes a receive paused by
// back-pressure: every byte arrives.
func TestConsumingOutsideOnTrafficResumes(t *testing.T) {
	conns := make(chan *conn.Conn, 1)
	h := &hooks{
		open:    func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None },
		traffic: func(*conn.Conn) Action { return None }, // never consumes here
	}
	s := startSet(t, Config{InboundLimit: 32 << 10, ReadBufferSize: 4 << 10}, h)
	client := dial(t, s)
	c := <-conns
	const total = 1 << 20
	go client.Write(make([]byte, total))
	var got atomic.Int64
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() < total {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d bytes consumed; the paused receive never resumed", got.Load(), total)
		}
		done := make(chan struct{})
		c.AsyncWrite(nil, func(c *conn.Conn, _ error) { got.Add(int64(c.Discard(-1))); close(done) })
		<-done
		time.Sleep(time.Millisecond)
	}
}

// A framed message larger than the inbound limit still arrives: a handler waiting for it with
// Peek(n) raises its connection's budget to n.
func TestFrameLargerThanInboundLimit(t *testing.T) {
	h := &hooks{traffic: func(c *conn.Conn) Action {
		for {
			hdr, err := c.Peek(4)
			if err != nil {
				return None
			}
			n := 4 + int(binary.BigEndian.Uint32(hdr))
			frame, err := c.Next(n)
			if err != nil {
				return None // wait for the rest
			}
			c.Write(frame)
		}
	}}
	s := startSet(t, Config{InboundLimit: 16 << 10, ReadBufferSize: 4 << 10}, h)
	client := dial(t, s)
	frame := make([]byte, 4+100<<10)
	binary.BigEndian.PutUint32(frame, 100<<10)
	for i := 4; i < len(frame); i++ {
		frame[i] = byte(i)
	}
	go client.Write(frame)
	got := make([]byte, len(frame))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("a 100 KiB frame through a 16 KiB limit: %v", err)
	}
	if string(got) != string(frame) {
		t.Fatal("the frame came back changed")
	}
}

// A loop blocked in its wait is woken at once by another goroutine's task: well under the
// loops' one-second bounded wait, which would otherwise hide a broken waker. Both wakers.
func TestWakeUpLatency(t *testing.T) {
	eachWaker(t, func(t *testing.T, name string, features poller.Features) {
		conns := make(chan *conn.Conn, 1)
		h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None }}
		s := startSet(t, Config{Features: &features}, h)
		if s.Waker() != name {
			t.Fatalf("waker %q, want %q", s.Waker(), name)
		}
		client := dial(t, s)
		c := <-conns
		buf := make([]byte, 1)
		var worst time.Duration
		for i := 0; i < 10; i++ {
			time.Sleep(20 * time.Millisecond) // let the loop block in its wait
			start := time.Now()
			c.AsyncWrite([]byte{byte(i)}, nil)
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(client, buf); err != nil || buf[0] != byte(i) {
				t.Fatalf("write %d: %v %v", i, buf, err)
			}
			worst = max(worst, time.Since(start))
		}
		if worst > 300*time.Millisecond {
			t.Fatalf("slowest wake-up %v: the loop waited out its bounded wait instead of being woken", worst)
		}
	})
}

// Least-connections sends each new connection to the loop serving the fewest.
func TestLeastConnectionsPlacement(t *testing.T) {
	loops := make(chan int, 16)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { loops <- c.Loop().Index(); return nil, None }}
	s := startSet(t, Config{Loops: 4, Balancer: LeastConnections}, h)
	perLoop := map[int]int{}
	clients := map[int][]interface{ Close() error }{}
	for i := 0; i < 8; i++ {
		c := dial(t, s)
		l := <-loops
		perLoop[l]++
		clients[l] = append(clients[l], c)
	}
	for l := 0; l < 4; l++ {
		if perLoop[l] != 2 {
			t.Fatalf("8 connections over 4 loops: %v, want 2 each", perLoop)
		}
	}
	// Empty loop 2; the next two connections go there.
	for _, c := range clients[2] {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.CountConnections() > 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 2; i++ {
		dial(t, s)
		if l := <-loops; l != 2 {
			t.Fatalf("a connection went to loop %d while loop 2 served fewest", l)
		}
	}
}

// A task one loop posts to another wakes it with a MSG_RING from the poster's own ring (not the
// ring-less message other goroutines use), and a loop posting to itself needs no wake at all.
func TestLoopToLoopWakeUsesSendersRing(t *testing.T) {
	type opened struct {
		c    *conn.Conn
		loop int
	}
	conns := make(chan opened, 2)
	var peer atomic.Pointer[conn.Conn]
	h := &hooks{
		open: func(c *conn.Conn) ([]byte, Action) { conns <- opened{c, c.Loop().Index()}; return nil, None },
		traffic: func(c *conn.Conn) Action {
			b, _ := c.Next(-1)
			if p := peer.Load(); p != nil && p != c {
				p.AsyncWrite(append([]byte(nil), b...), nil) // to the other loop
			}
			return None
		},
	}
	s := startSet(t, Config{Loops: 2}, h)
	a := dial(t, s)
	first := <-conns
	b := dial(t, s)
	second := <-conns
	if first.loop == second.loop {
		t.Fatalf("both connections on loop %d", first.loop)
	}
	peer.Store(second.c)
	for i := 0; i < 20; i++ {
		msg := []byte{byte(i)}
		a.Write(msg)
		got := make([]byte, 1)
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(b, got); err != nil || got[0] != msg[0] {
			t.Fatalf("relay %d: %v %v", i, got, err)
		}
	}
	if n := s.loops[first.loop].ringMsgs.Load(); n == 0 {
		t.Fatalf("loop %d relayed 20 writes to loop %d without a MSG_RING from its own ring", first.loop, second.loop)
	}
}
