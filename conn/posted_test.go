package conn

import (
	"errors"
	"slices"
	"testing"
)

// queueLoop is a loop whose posted work waits until the test runs it, so that the test decides
// the interleaving of the loops' turns.
type queueLoop struct {
	fakeLoop
	name  string
	queue []func()
}

// turning is the loop whose turn it is.
var turning string

func (l *queueLoop) Post(f func()) error { l.queue = append(l.queue, f); return nil }

// turn runs what was posted to l so far.
func (l *queueLoop) turn() {
	q := l.queue
	l.queue = nil
	turning = l.name
	defer func() { turning = "" }()
	for _, f := range q {
		f()
	}
}

// A run of posted work that was queued on the source before a move, and only gets its turn
// after the connection has arrived on the target (and work posted there since), runs nothing
// on the source: it passes itself on to the target, which runs the work once, in order.
func TestStaleRunAfterMovePassesOn(t *testing.T) {
	src, dst := &queueLoop{name: "src"}, &queueLoop{name: "dst"}
	c := New(src, 1, 1)
	var ran []string
	where := func(name string) func() {
		return func() { ran = append(ran, name+"@"+turning) }
	}
	c.Exec(where("a")) // its run waits in the source's queue
	c.Depart()
	c.Arrive(dst, 5, 1)
	turning = "dst"
	c.RunPosted() // the arrival, on the target, runs a
	turning = ""
	c.Exec(where("b"))
	src.turn() // the stale run from before the move
	if !slices.Equal(ran, []string{"a@dst"}) || len(dst.queue) != 2 {
		t.Fatalf("after the source's turn: ran %v, %d runs queued on the target; want a on the target and the stale run passed on", ran, len(dst.queue))
	}
	dst.turn()
	if !slices.Equal(ran, []string{"a@dst", "b@dst"}) {
		t.Fatalf("ran %v, want a then b, each once, on the target", ran)
	}
	if c.Loop() != dst {
		t.Fatalf("Loop() = %v after the move, want the target", c.Loop())
	}
}

// A datagram's loop is known, and work posted for it runs there.
func TestDatagramLoopAndExec(t *testing.T) {
	l := &queueLoop{}
	c := NewDatagram(l, -1, nil, nil, []byte("x"))
	if c.Loop() != l {
		t.Fatalf("Loop() = %v, want the datagram's loop", c.Loop())
	}
	ran := false
	if err := c.Exec(func() { ran = true }); err != nil {
		t.Fatal(err)
	}
	l.turn()
	if !ran {
		t.Fatal("work posted for a datagram did not run on its loop")
	}
}

// stoppedLoop is a loop that has stopped: it takes no more work.
type stoppedLoop struct{ queueLoop }

func (l *stoppedLoop) Post(func()) error { return errors.New("stopped") }

// When the run of posted work that follows a connection to the loop it moved to cannot be
// posted there (that loop has stopped, closing the connection), what waits runs at once,
// finding the connection closed, and later work is refused. (The queue used to stay "scheduled"
// forever: later work was accepted and never ran, and a caller waiting on it hung.)
func TestPostedWorkForAStoppedLoopIsNotLost(t *testing.T) {
	src, dst := &queueLoop{name: "src"}, &stoppedLoop{queueLoop{name: "dst"}}
	c := New(src, 1, 1)
	c.Depart()
	c.Arrive(dst, 5, 1)
	c.BeginClose(nil) // the stopped loop closed it
	c.MarkClosed()
	// A run posted before the move still waits on the source; work posted meanwhile joins it.
	c.posted.scheduled.Store(true)
	c.posted.tasks.Push(func() {})
	src.queue = append(src.queue, c.home.drainFor(c))
	ran := false
	if err := c.Exec(func() { ran = c.State() == Closed }); err != nil {
		t.Fatalf("Exec before the stale run: %v", err)
	}
	src.turn() // finds the connection moved, cannot post to the stopped loop
	if !ran {
		t.Fatal("work accepted for the connection never ran")
	}
	if err := c.Exec(func() { t.Error("work ran for a connection whose loop has stopped") }); err == nil {
		t.Fatal("Exec after the connection's loop stopped: no error")
	}
}
