package taskq

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Each producer's tasks run in the order it pushed them, every pushed task runs exactly once,
// and after Close pushes are refused while what was queued before still runs.
func TestQueueOrderAndClose(t *testing.T) {
	var q Queue
	const producers, each = 8, 10000
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	ran := 0
	run := func(f func()) { f(); ran++ }
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if !q.Push(func() {
					if last[p] != i-1 {
						t.Errorf("producer %d: task %d ran after task %d", p, i, last[p])
					}
					last[p] = i
				}) {
					t.Error("push refused before Close")
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		q.RunAll(run)
	}
	q.RunAll(run)
	if ran != producers*each {
		t.Fatalf("%d tasks ran, want %d", ran, producers*each)
	}
	ranBeforeClose := false
	q.Push(func() { ranBeforeClose = true })
	q.Close(run)
	if !ranBeforeClose {
		t.Fatal("a task queued before Close did not run")
	}
	if q.Push(func() { t.Error("a task pushed after Close ran") }) {
		t.Fatal("Push after Close was accepted")
	}
	q.RunAll(run)
}

// RunUntil stops after the task that sets stop; the rest run next time, before anything pushed
// after them, and Close runs what RunUntil left too.
func TestRunUntilKeepsTheRestInOrder(t *testing.T) {
	var q Queue
	var stop atomic.Bool
	var order []int
	for i := range 5 {
		q.Push(func() {
			order = append(order, i)
			if i == 1 {
				stop.Store(true)
			}
		})
	}
	if n := q.RunUntil(func(f func()) { f() }, &stop); n != 2 {
		t.Fatalf("ran %d before stopping, want 2", n)
	}
	stop.Store(false)
	q.Push(func() { order = append(order, 5) })
	q.RunUntil(func(f func()) { f() }, &stop)
	if !slices.Equal(order, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("order %v", order)
	}
	stop.Store(false)
	for i := 6; i < 9; i++ {
		q.Push(func() {
			order = append(order, i)
			stop.Store(true)
		})
	}
	q.RunUntil(func(f func()) { f() }, &stop)
	q.Close(func(f func()) { f() })
	if !slices.Equal(order, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}) || q.Push(func() {}) {
		t.Fatalf("after Close: order %v, or a push was taken", order)
	}
}
