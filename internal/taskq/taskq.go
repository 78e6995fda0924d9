// Package taskq is the queue of functions that other goroutines feed a loop or a connection: many
// producers, one consumer that runs everything in push order, and no mutex.
package taskq

import (
	"sync"
	"sync/atomic"
)

// Queue is a multi-producer, single-consumer queue of functions: producers push
// with one compare-and-swap, the loop takes everything with one swap and runs it in push order.
// No mutex: the consumer never contends with producers for a lock. Once closed, pushes fail,
// so a task is either run by the loop or refused, never both and never neither.
type Queue struct {
	head atomic.Pointer[taskNode]
}

type taskNode struct {
	f    func()
	next *taskNode
}

// closedQueue marks a closed queue's head.
var closedQueue = &taskNode{}

var taskNodes = sync.Pool{New: func() any { return new(taskNode) }}

// Push queues f; it reports false (and queues nothing) once the queue is closed.
func (q *Queue) Push(f func()) bool {
	n := taskNodes.Get().(*taskNode)
	n.f = f
	for {
		old := q.head.Load()
		if old == closedQueue {
			n.f = nil
			taskNodes.Put(n)
			return false
		}
		n.next = old
		if q.head.CompareAndSwap(old, n) {
			return true
		}
	}
}

// RunAll runs every queued task in the order pushed, through run, including tasks pushed by
// the tasks it runs, and reports how many ran.
func (q *Queue) RunAll(run func(func())) int {
	ran := 0
	for {
		n := q.head.Load()
		if n == nil || n == closedQueue { // a closed queue stays closed
			return ran
		}
		if q.head.CompareAndSwap(n, nil) {
			ran += runList(n, run)
		}
	}
}

// Close refuses every later push and runs what was queued before, through run.
func (q *Queue) Close(run func(func())) {
	for {
		n := q.head.Swap(closedQueue)
		if n == nil || n == closedQueue {
			return
		}
		runList(n, run)
	}
}

// runList runs a stack of tasks (newest first) oldest first.
func runList(n *taskNode, run func(func())) int {
	var fifo *taskNode
	for n != nil {
		next := n.next
		n.next = fifo
		fifo, n = n, next
	}
	ran := 0
	for fifo != nil {
		f, next := fifo.f, fifo.next
		fifo.f, fifo.next = nil, nil
		taskNodes.Put(fifo)
		run(f)
		ran++
		fifo = next
	}
	return ran
}
