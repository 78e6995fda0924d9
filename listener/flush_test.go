package listener

import (
	"sync"
	"sync/atomic"
	"testing"
)

// tasksPosted is a loop's task queue for flushList tests: it keeps what is posted, and runs it
// when asked; posted, if made, is signalled at each post.
type tasksPosted struct {
	mu     sync.Mutex
	tasks  []func()
	posted chan struct{}
}

func (q *tasksPosted) post(task func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append(q.tasks, task)
	select {
	case q.posted <- struct{}{}:
	default:
	}
	return true
}

func (q *tasksPosted) take() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tasks
	q.tasks = nil
	return t
}

// listed makes n ring sides whose writers have listed them (wPosted), with nothing to send.
func listed(n int) []*ringConn {
	rs := make([]*ringConn, n)
	for i := range rs {
		rs[i] = &ringConn{}
		rs[i].wPosted.Store(true)
	}
	return rs
}

// Connections listed from many goroutines at once are each flushed once, by tasks posted only
// when the list was empty: one task for everything listed before it runs. The loop is nudged
// once for every nudgeEvery connections listed in a batch.
func TestFlushListPostsOnceAndFlushesEveryConnection(t *testing.T) {
	var q tasksPosted
	var nudges atomic.Int64
	l := newFlushList(q.post, func() { nudges.Add(1) })
	rs := listed(4000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(rs); i += 8 {
				if !l.add(rs[i]) {
					t.Error("add reported a stopped loop")
				}
			}
		}()
	}
	wg.Wait()
	if got, want := nudges.Load(), int64(len(rs)/nudgeEvery); got != want {
		t.Errorf("%d connections listed in one batch nudged the loop %d times, want %d", len(rs), got, want)
	}
	if tasks := q.take(); len(tasks) != 1 {
		t.Fatalf("%d tasks posted for connections listed before any ran, want 1", len(tasks))
	} else {
		tasks[0]()
	}
	for i, r := range rs {
		if r.wPosted.Load() || r.flushNext != nil {
			t.Fatalf("connection %d was not flushed (wPosted %v)", i, r.wPosted.Load())
		}
	}
	if l.head.Load() != nil {
		t.Fatal("the list is not empty after its task ran")
	}
	r := listed(1)[0]
	l.add(r)
	if tasks := q.take(); len(tasks) != 1 {
		t.Fatalf("%d tasks posted for a connection listed after the list emptied, want 1", len(tasks))
	}
	// The count starts again with the batch: the first listed after a flush does not nudge,
	// the nudgeEvery-th does.
	before := nudges.Load()
	for _, r := range listed(nudgeEvery - 1) {
		if nudges.Load() != before {
			t.Fatal("the loop was nudged before nudgeEvery connections were listed in the batch")
		}
		l.add(r)
	}
	if nudges.Load() != before+1 {
		t.Fatalf("%d connections listed in a new batch nudged the loop %d times, want 1", nudgeEvery, nudges.Load()-before)
	}
}

// A flush that panics (a connection the loop no longer holds) leaves the connections listed
// after it on the list, with a task posted for them; the loop's guard recovers the panic.
func TestFlushListKeepsTheRestWhenAFlushPanics(t *testing.T) {
	var q tasksPosted
	l := newFlushList(q.post, func() {})
	rs := listed(3)
	rs[1].wbox.Store(getChunk(1)) // bytes to move, and no loop connection to move them into
	for _, r := range rs {
		l.add(r)
	}
	run := q.take()[0]
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the flush of a connection with no loop side did not panic")
			}
		}()
		run()
	}()
	if rs[0].wPosted.Load() {
		t.Error("the connection listed before the panic was not flushed")
	}
	if !rs[2].wPosted.Load() {
		t.Fatal("the connection listed after the panic was flushed anyway")
	}
	if rs[1].flushNext != nil || l.head.Load() != rs[2] || rs[2].flushNext != nil {
		t.Fatal("the list after the panic is not the connection listed after it, alone")
	}
	tasks := q.take()
	if len(tasks) != 1 {
		t.Fatalf("%d tasks posted for the rest of the list, want 1", len(tasks))
	}
	tasks[0]()
	if rs[2].wPosted.Load() {
		t.Error("the connection listed after the panic was never flushed")
	}
}

// Writers list their connections, once per batch as queue does, while the loop runs the tasks
// they post: when the writers are done and the loop has run everything, no connection is left
// listed and unflushed.
func TestFlushListWhileTheLoopFlushes(t *testing.T) {
	q := tasksPosted{posted: make(chan struct{}, 1)}
	l := newFlushList(q.post, func() {})
	rs := listed(64)
	for _, r := range rs {
		r.wPosted.Store(false)
	}
	written, loopDone := make(chan struct{}), make(chan struct{})
	go func() { // the loop
		defer close(loopDone)
		for {
			select {
			case <-q.posted:
				for _, task := range q.take() {
					task()
				}
			case <-written: // no more posts: run what is left
				for tasks := q.take(); len(tasks) > 0; tasks = q.take() {
					for _, task := range tasks {
						task()
					}
				}
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20_000 {
				if r := rs[(g*7+i)%len(rs)]; !r.wPosted.Swap(true) {
					l.add(r)
				}
			}
		}()
	}
	wg.Wait()
	close(written)
	<-loopDone
	for i, r := range rs {
		if r.wPosted.Load() {
			t.Fatalf("connection %d was listed and never flushed", i)
		}
	}
}
