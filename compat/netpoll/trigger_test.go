//go:build !poll_opt

package netpoll_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/queue"
)

// task identifies one triggered task: its producer, its place in the producer's order, and its
// priority.
type task struct {
	producer, seq int
	prio          queue.EventPriority
}

// Sixteen goroutines trigger tasks at once, first before Polling starts (so that the urgent
// queue passes MaxPollEventsCap and low-priority tasks are shunted to their own queue) and
// then while it runs (so that their wake-ups race): every task runs exactly once, on the
// polling goroutine, high-priority tasks before every shunted low-priority one, and each
// producer's tasks of one priority in the order it triggered them.
func TestTriggerFromSixteenGoroutines(t *testing.T) {
	const producers, perProducer = 16, 200 // half high, half low: 1,600 high-priority tasks
	forEach(t, func(t *testing.T, p api) {
		const total = 2 * producers * perProducer
		var ran []task // appended on the polling goroutine only
		all := make(chan struct{})
		record := func(param any) error {
			if ran = append(ran, param.(task)); len(ran) == total {
				close(all)
			}
			return nil
		}
		trigger := func(round int) {
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := 0; g < producers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for i := 0; i < perProducer; i++ {
						prio := queue.HighPriority
						if i%2 == 1 {
							prio = queue.LowPriority
						}
						if err := p.Trigger(prio, record, task{g, round*perProducer + i, prio}); err != nil {
							t.Errorf("Trigger: %v", err)
						}
					}
				}()
			}
			close(start)
			wg.Wait()
		}

		trigger(0)
		r := startPolling(t, p, func(int, uint32, uint16) error { return nil })
		trigger(1)
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Fatalf("not every task ran") // read after Polling returns, below
		}
		r.stop(t)
		seen := map[task]bool{}
		for _, tk := range ran {
			if seen[tk] {
				t.Fatalf("task %+v ran twice", tk)
			}
			seen[tk] = true
		}
		// The first round's tasks, in the order they ran (the second round's may run among
		// them: the urgent queue is drained to the end, whatever joins it meanwhile): every
		// high-priority one before the shunted low-priority ones.
		var first []task
		for _, tk := range ran {
			if tk.seq < perProducer {
				first = append(first, tk)
			}
		}
		lastHigh := -1
		for i, tk := range first {
			if tk.prio == queue.HighPriority {
				lastHigh = i
			}
		}
		// The urgent queue held fewer than MaxPollEventsCap tasks when the lows that followed
		// were shunted, so at least that many lows trail the last high.
		shunted := len(first) - 1 - lastHigh
		if minShunted := producers*perProducer/2 - (1024 - 1); shunted < minShunted {
			t.Fatalf("%d low-priority tasks ran after the last high-priority one, want at least %d", shunted, minShunted)
		}
		// Each producer's high-priority tasks in its order, and its low-priority ones of the
		// first round: gnet's urgent queue is FIFO, and before Polling it only grows, so a
		// producer's lows, once shunted, stay shunted. (While Polling drains it, it can fall
		// below the threshold again, and a later low then overtakes a shunted one, as in gnet.)
		last := map[[2]int]int{}
		for _, tk := range ran {
			if tk.prio == queue.LowPriority && tk.seq >= perProducer {
				continue
			}
			k := [2]int{tk.producer, int(tk.prio)}
			if prev, ok := last[k]; ok && tk.seq < prev {
				t.Fatalf("producer %d's priority-%d task %d ran after its task %d", tk.producer, tk.prio, tk.seq, prev)
			}
			last[k] = tk.seq
		}
	})
}

// A task that returns ErrEngineShutdown ends Polling with it; other errors are ignored; tasks
// triggered by a task run in the same batch.
func TestTaskErrors(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		r := startPolling(t, p, func(int, uint32, uint16) error { return nil })
		ran := make(chan string, 3)
		p.Trigger(queue.HighPriority, func(any) error { ran <- "first"; return errors.New("ignored") }, nil)
		p.Trigger(queue.LowPriority, func(any) error {
			p.Trigger(queue.HighPriority, func(any) error { ran <- "nested"; return nil }, nil)
			ran <- "second"
			return nil
		}, nil)
		for _, want := range []string{"first", "second", "nested"} {
			if got := <-ran; got != want {
				t.Fatalf("ran %q, want %q", got, want)
			}
		}
		p.Trigger(queue.HighPriority, func(any) error { return gerrors.ErrEngineShutdown }, nil)
		if err := r.wait(t); !errors.Is(err, gerrors.ErrEngineShutdown) {
			t.Fatalf("Polling returned %v, want ErrEngineShutdown", err)
		}
	})
}
