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
}

// placement is one stay of the connection on a loop, as other goroutines see it: the loop, and
// the run of the posted work bound to it. Every arrival makes a new one, so a run that finds
// another placement than its own knows the connection has moved on, without asking which
// thread it runs on.
type placement struct {
	loop Loop
	// drain is c.drainAt(this placement), made the first time work is posted for the connection
	// during this stay (drainFor): most connections never have any, and keep no closure.
	drain atomic.Pointer[func()]
}

// drainFor returns the run of c's posted work bound to p, making it on first use. Whoever
// posts it holds c.posted.scheduled, but a run bound to an earlier placement may still pass
// the work on to p meanwhile, so two may make it at once: the first one stored is used.
func (p *placement) drainFor(c *Conn) func() {
	if f := p.drain.Load(); f != nil {
		return *f
	}
	f := func() { c.drainAt(p) }
	if p.drain.CompareAndSwap(nil, &f) {
		return f
	}
	return *p.drain.Load()
}

// Exec runs f on the connection's loop (whichever it is by then), after the work posted for it
// before; any goroutine may call it. It fails, and f never runs, once the loop has stopped.
func (c *Conn) Exec(f func()) error {
	if !c.posted.tasks.Push(f) {
		return ErrClosed // its loop stopped while it moved there (see drainAt)
	}
	if c.posted.scheduled.Swap(true) {
		return nil // a run is pending and will take f
	}
	h := c.host.Load()
	if err := h.loop.Post(h.drainFor(c)); err != nil {
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

// OnLoop reports whether l holds the connection now (not while it moves); any goroutine may
// call it.
func (c *Conn) OnLoop(l Loop) bool { return !c.posted.moving.Load() && c.Loop() == l }

// IsMoving reports whether the connection is between two loops; any goroutine may call it.
func (c *Conn) IsMoving() bool { return c.posted.moving.Load() }

// Call runs f on the loop that holds the connection and waits for it; any goroutine may call
// it, a loop included, even from inside a callback, and even while the connection's loop does
// the same with one of its connections (see Loop.Call). f is the engine's work, never the
// handler's. It fails, f never running, once the connection's loop has stopped.
func (c *Conn) Call(f func()) error { return c.Loop().Call(c, f) }

// drainAt runs the connection's queue on p.loop, where Exec posted it while p was the
// connection's placement. While the connection moves, the arrival runs the queue instead. A run
// that finds another placement than p was posted before the connection moved on, and is
// passed on to its new host.
//
// Finding p still in place, and the connection not moving, means p.loop owns the connection
// now: only p.loop's goroutine (this one) can make it depart, and a departure ends either in
// Stay, which keeps p, or in an arrival, which replaces p before it clears moving.
func (c *Conn) drainAt(p *placement) {
	if c.posted.moving.Load() {
		return
	}
	if h := c.host.Load(); h != p {
		if h.loop.Post(h.drainFor(c)) != nil {
			// The loop the connection moved to has stopped, and closed it: what waits runs
			// here, finding it closed, and the queue takes nothing more (Exec fails).
			c.posted.tasks.Close(c.runGuarded)
		}
		return
	}
	c.RunPosted()
}

// RunPosted runs what was posted for the connection; only its owner calls it. A panic in one
// piece of work closes this connection, with the panic as the close's error, and the rest runs.
// A piece of work that makes the connection depart (a move) is the last to run here: the rest
// runs where it arrives.
func (c *Conn) RunPosted() {
	c.posted.scheduled.Store(false)
	c.posted.tasks.RunUntil(c.runGuarded, &c.posted.moving)
}

func (c *Conn) runGuarded(f func()) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("conn: callback panic: %v", r)
			if c.posted.moving.Load() {
				// The work sent the connection on before it panicked: it closes where it
				// arrives, not here.
				c.Exec(func() { c.owner().CloseConn(c, err) })
				return
			}
			c.owner().CloseConn(c, err)
		}
	}()
	f()
}

// Depart marks the connection as leaving its loop: from here until Arrive or Stay nobody runs
// its queued work. The owner calls it just before passing the descriptor, and must not touch the
// connection after the pass is submitted.
func (c *Conn) Depart() { c.posted.moving.Store(true) }

// Arrive makes loop the connection's owner and host, in slot with generation gen, with no
// operation in flight; what it was told to stop doing (receiving, or reading past the EOF) it
// does not do there either. The new owner calls it when the descriptor has arrived, then RunPosted.
func (c *Conn) Arrive(loop Loop, slot, gen uint32) {
	c.Slot, c.Gen = slot, gen
	c.Ops = Ops{ReadEOF: c.Ops.ReadEOF, SendFailed: c.Ops.SendFailed, RecvOff: c.Ops.RecvOff, RecvStopping: c.Ops.RecvStopping}
	c.Traffic = Traffic{}
	c.placeOn(loop, new(placement))
	c.posted.moving.Store(false)
}

// Stay ends a departure that failed: the connection is its loop's again, as it was. The owner
// calls RunPosted after.
func (c *Conn) Stay() {
	c.Ops.Moving = false
	c.posted.moving.Store(false)
}
