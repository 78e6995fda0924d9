package ringset

// Regression tests for faults in one connection, one system call or one handler that used to
// cost another connection, a byte, a loop's CPU or the process.

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
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
		c.CloseAsync(func(_ *conn.Conn, err error) { closeRan <- err })
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

