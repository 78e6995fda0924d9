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
	// held are tasks taken from head that RunUntil stopped before, oldest first: they run
	// before anything taken after them. Only the consumer touches them (whoever it is by then,
	// for a queue whose consumer changes, as a moving connection's does: the hand-over orders
	// the two consumers).
	held *taskNode
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
func (q *Queue) RunAll(run func(func())) int { return q.RunUntil(run, nil) }

// RunUntil is RunAll that stops after a task once *stop is true (a nil stop never is); the tasks
// not run stay queued, ahead of any pushed later, for the next run.
func (q *Queue) RunUntil(run func(func()), stop *atomic.Bool) int {
	ran := 0
	for {
		if q.held == nil {
			n := q.head.Load()
			if n == nil || n == closedQueue { // a closed queue stays closed
				return ran
			}
			if !q.head.CompareAndSwap(n, nil) {
				continue
			}
			q.held = reverse(n)
		}
		for q.held != nil {
			run(q.takeHeld())
			ran++
			if stop != nil && stop.Load() {
				return ran
			}
		}
	}
}

// Close refuses every later push and runs what was queued before, through run.
func (q *Queue) Close(run func(func())) {
	for {
		for q.held != nil {
			run(q.takeHeld())
		}
		n := q.head.Swap(closedQueue)
		if n == nil || n == closedQueue {
			return
		}
		q.held = reverse(n)
	}
}

// takeHeld removes the oldest held task and returns it, recycling its node.
func (q *Queue) takeHeld() func() {
	n := q.held
	q.held = n.next
	f := n.f
	n.f, n.next = nil, nil
	taskNodes.Put(n)
	return f
}

// reverse turns a stack of tasks (newest first) into a list oldest first.
func reverse(n *taskNode) *taskNode {
	var fifo *taskNode
	for n != nil {
		next := n.next
		n.next = fifo
		fifo, n = n, next
	}
	return fifo
}
