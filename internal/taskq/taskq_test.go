package taskq

import (
	"sync"
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
