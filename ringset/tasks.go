package ringset

import (
	"sync"
	"sync/atomic"
)

// taskQueue is a multi-producer, single-consumer queue of functions for a loop: producers push
// with one compare-and-swap, the loop takes everything with one swap and runs it in push order.
// No mutex: the consumer never contends with producers for a lock.
type taskQueue struct {
	head atomic.Pointer[taskNode]
}

type taskNode struct {
	f    func()
	next *taskNode
}

var taskNodes = sync.Pool{New: func() any { return new(taskNode) }}

func (q *taskQueue) push(f func()) {
	n := taskNodes.Get().(*taskNode)
	n.f = f
	for {
		old := q.head.Load()
		n.next = old
		if q.head.CompareAndSwap(old, n) {
			return
		}
	}
}

// runAll runs every queued task in the order pushed, including tasks pushed by the tasks it
// runs, and reports how many ran.
func (q *taskQueue) runAll() int {
	ran := 0
	for {
		n := q.head.Swap(nil)
		if n == nil {
			return ran
		}
		// The stack holds the newest first: reverse it.
		var fifo *taskNode
		for n != nil {
			next := n.next
			n.next = fifo
			fifo, n = n, next
		}
		for fifo != nil {
			f, next := fifo.f, fifo.next
			fifo.f, fifo.next = nil, nil
			taskNodes.Put(fifo)
			f()
			ran++
			fifo = next
		}
	}
}
