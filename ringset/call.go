package ringset

import (
	"sync"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/goroutine"
)

// Calls run a short piece of the engine's own work for one connection on its owner and wait for
// it: a socket option, its descriptor. Any goroutine may make one, loops included, and two loops
// may make them of each other's connections at the same moment, each from inside a callback: a
// loop that waits for a call answers, meanwhile, the calls made of it. They carry no handler
// code, which is why a loop may run them in the middle of one of its own callbacks.

// running maps each running loop's goroutine (goroutine.ID) to its loop, in every set.
var running sync.Map

// loopOf returns the loop that runs on goroutine id, if any.
func loopOf(id uintptr) *loop {
	if v, ok := running.Load(id); ok {
		return v.(*loop)
	}
	return nil
}

// connCall is one call: f, for c, on whichever loop owns c when it runs.
type connCall struct {
	c    *conn.Conn
	f    func()
	err  error
	done chan struct{}
}

// Call runs f for c on the loop that owns c and returns once it has run (see the comment
// above); at once when the caller is that loop. It fails with ErrStopped, f never running, when
// c's loop has stopped.
func (l *loop) Call(c *conn.Conn, f func()) error {
	if c.OnOwnerThread() {
		f()
		return nil
	}
	call := &connCall{c: c, f: f, done: make(chan struct{})}
	if err := l.pushCall(call); err != nil {
		return err
	}
	if me := loopOf(goroutine.ID()); me != nil {
		me.awaitCall(call)
	} else {
		<-call.done
	}
	return call.err
}

// pushCall queues call for l and wakes it, as Post does, and also when it waits for a call of
// its own.
func (l *loop) pushCall(call *connCall) error {
	if !l.calls.Push(func() { l.runCall(call) }) {
		return ErrStopped
	}
	select {
	case l.callSignal <- struct{}{}:
	default:
	}
	if !l.woken.Swap(true) {
		l.wake()
	}
	return nil
}

// runCall runs call if l owns its connection; otherwise it hands it on: to the loop the
// connection moved to, or, while it is moving, to its arrival (which runs the work posted for
// it).
func (l *loop) runCall(call *connCall) {
	c := call.c
	switch host, _ := c.Loop().(*loop); {
	case c.OnLoop(l):
		call.f()
		close(call.done)
	case c.IsMoving():
		if err := c.Exec(func() { call.f(); close(call.done) }); err != nil {
			call.err = err
			close(call.done)
		}
	case host == nil:
		call.err = ErrStopped
		close(call.done)
	default:
		if err := host.pushCall(call); err != nil {
			call.err = err
			close(call.done)
		}
	}
}

// runCalls runs the calls made of l.
func (l *loop) runCalls() { l.calls.RunAll(l.runTask) }

// awaitCall waits, on loop l's goroutine, for a call l made of another loop, answering the
// calls made of l meanwhile. What l prepared so far is submitted first: a wake-up it queued for
// the other loop must not wait for l's next iteration.
func (l *loop) awaitCall(call *connCall) {
	l.ring.Submit()
	for {
		select {
		case <-call.done:
			return
		case <-l.callSignal:
			l.runCalls()
		}
	}
}
