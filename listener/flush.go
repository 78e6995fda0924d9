package listener

import "sync/atomic"

// flushList is one loop's list of the connections whose writers queued bytes for it (wbox)
// since it last moved them into the connections' outbound buffers. A connection is listed once
// per batch (its wPosted), and only the writer that finds the list empty posts the loop's task:
// the loop moves every listed connection's bytes in that one task. A task for each connection
// would be a closure and a queue node of its own, fetched from memory by the loop each time,
// which with many busy connections is a cache miss for every message.
//
// A writer that lists its connection behind another's relies on the task that one posts; if
// that writer's goroutine is descheduled between listing and posting, the bytes of the
// connections listed behind it wait until it runs again. Nothing that must follow the bytes
// depends on the task: Close and CloseWrite move what the writers queued themselves (loopClose,
// closeWrite).
//
// A loop that parked for the goroutines it woke runs the task once they have all run (ringset's
// park.go): with many busy connections, a batch of replies that the peers wait for as a whole,
// and then the loop waits for the peers' whole batch, each side idle meanwhile (docs/engine.md
// has the figures). So the writer that lists the nudgeEvery-th connection of a batch nudges the
// loop to send what is listed so far.
type flushList struct {
	head    atomic.Pointer[ringConn] // the latest listed; each points to the one listed before it
	post    func(task func()) bool   // queues task on the list's loop; false once it has stopped
	nudge   func()                   // wakes the list's loop now if it is parked
	listed  atomic.Int32             // connections listed since the loop last took the list
	stopped atomic.Bool              // a post failed: the loop has stopped, and nothing is flushed
	run     func()                   // flushAll, made once
}

// nudgeEvery is how many connections listed in one batch make a writer nudge the loop.
const nudgeEvery = 128

func newFlushList(post func(task func()) bool, nudge func()) *flushList {
	l := &flushList{post: post, nudge: nudge}
	l.run = l.flushAll
	return l
}

// add lists r, and posts the loop's task if the list was empty; it reports false when the
// loop has stopped (the connection is closed then). Otherwise the task posted for the
// connections listed before r moves r's bytes too.
func (l *flushList) add(r *ringConn) bool {
	for {
		old := l.head.Load()
		r.flushNext = old
		if !l.head.CompareAndSwap(old, r) {
			continue
		}
		if old == nil && !l.post(l.run) {
			l.stopped.Store(true)
		}
		if l.listed.Add(1)%nudgeEvery == 0 {
			l.nudge()
		}
		return !l.stopped.Load()
	}
}

// flushAll moves the bytes of every listed connection, in the order listed; on the loop. A
// flush that panics (the loop's guard recovers it) leaves the connections after it listed, and
// a task posted for them.
func (l *flushList) flushAll() {
	var rest *ringConn
	l.listed.Store(0)
	for r := l.head.Swap(nil); r != nil; {
		next := r.flushNext
		r.flushNext, rest = rest, r
		r = next
	}
	defer func() {
		for rest != nil {
			r := rest
			rest = r.flushNext
			l.add(r)
		}
	}()
	for rest != nil {
		r := rest
		rest, r.flushNext = r.flushNext, nil
		r.loopFlush()
	}
}
