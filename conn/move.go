package conn

import (
	"fmt"
	"sync/atomic"

	"github.com/uringnet/uringnet/internal/taskq"
)

// posted is the work other goroutines hand a connection (Exec): a queue of its own rather than
// the loop's, so that the work follows the connection when it moves to another loop and runs
// there in the order it was posted, never on two loops and never overtaken by later work.
type posted struct {
	tasks taskq.Queue
	// scheduled: a run of the queue is pending on the host loop.
	scheduled atomic.Bool
	// moving: the connection has left its loop and not yet arrived on another (or come back);
	// nobody runs its queue meanwhile, and the arrival runs it.
	moving atomic.Bool
	drain  func() // runPosted, made once
}

// Exec runs f on the connection's loop (whichever it is by then), after the work posted for it
// before; any goroutine may call it. It fails, and f never runs, once the loop has stopped.
func (c *Conn) Exec(f func()) error {
	c.posted.tasks.Push(f)
	if c.posted.scheduled.Swap(true) {
		return nil // a run is pending and will take f
	}
	if err := c.Loop().Post(c.posted.drain); err != nil {
		c.posted.scheduled.Store(false)
		return err
	}
	return nil
}

// OnOwnerThread reports whether the caller runs on the loop that holds the connection now (not
// while it moves); any goroutine may call it.
func (c *Conn) OnOwnerThread() bool {
	return !c.posted.moving.Load() && c.Loop().OnLoopThread()
}

// runPosted runs the connection's queue on its host loop. A run that reaches a loop the
// connection has left is passed on to its new host; while it moves, the arrival runs the queue.
func (c *Conn) runPosted() {
	if c.posted.moving.Load() {
		return
	}
	if host := c.Loop(); !host.OnLoopThread() {
		host.Post(c.posted.drain) // a loop that stopped runs nothing of the connection's anyway
		return
	}
	c.RunPosted()
}

// RunPosted runs what was posted for the connection; only its owner calls it. A panic in one
// piece of work closes this connection, with the panic as the close's error, and the rest runs.
func (c *Conn) RunPosted() {
	c.posted.scheduled.Store(false)
	c.posted.tasks.RunAll(c.runGuarded)
}

func (c *Conn) runGuarded(f func()) {
	defer func() {
		if r := recover(); r != nil {
			c.loop.CloseConn(c, fmt.Errorf("conn: callback panic: %v", r))
		}
	}()
	f()
}

// Depart marks the connection as leaving its loop: from here until Arrive or Stay nobody runs
// its queued work. The owner calls it just before passing the descriptor, and must not touch the
// connection after the pass is submitted.
func (c *Conn) Depart() { c.posted.moving.Store(true) }

// Arrive makes loop the connection's owner and host, in slot with generation gen, with no
// operation in flight. The new owner calls it when the descriptor has arrived, then RunPosted.
func (c *Conn) Arrive(loop Loop, slot, gen uint32) {
	c.Slot, c.Gen = slot, gen
	c.Ops = Ops{ReadEOF: c.Ops.ReadEOF, SendFailed: c.Ops.SendFailed}
	c.settle(loop)
	c.posted.moving.Store(false)
}

// Stay ends a departure that failed: the connection is its loop's again, as it was. The owner
// calls RunPosted after.
func (c *Conn) Stay() {
	c.Ops.Moving = false
	c.posted.moving.Store(false)
}
