package listener

import "sync/atomic"

// flushList is one loop's list of the connections whose writers queued bytes for it (wbox)
// since it last moved them into the connections' outbound buffers. A connection is listed once
// per batch (its wPosted), and only the writer that finds the list empty posts the loop's task:
// the loop moves every listed connection's bytes in that one task. A task for each connection
// would be a closure and a queue node of its own, fetched from memory by the loop each time,
// which with many busy connections is a cache miss for every message.
type flushList struct {
	head atomic.Pointer[ringConn] // the latest listed; each points to the one listed before it
	post func(task func()) bool   // queues task on the list's loop; false once it has stopped
	run  func()                   // flushAll, made once
}

func newFlushList(post func(task func()) bool) *flushList {
	l := &flushList{post: post}
	l.run = l.flushAll
	return l
}

// add lists r, and posts the loop's task if the list was empty; it reports false when the
// loop has stopped (the connection is closed then). A task posted earlier and not yet run
// moves r's bytes too, and it runs before anything posted after add returns.
func (l *flushList) add(r *ringConn) bool {
	for {
		old := l.head.Load()
		r.flushNext = old
		if l.head.CompareAndSwap(old, r) {
			return old != nil || l.post(l.run)
		}
	}
}

// flushAll moves the bytes of every listed connection, in the order listed; on the loop. A
// flush that panics (the loop's guard recovers it) leaves the connections after it listed, and
// a task posted for them.
func (l *flushList) flushAll() {
	var rest *ringConn
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
