package loadgen

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// A fixed offered load falls due every few tens of microseconds on one connection, and every
// few milliseconds on each of many: a schedule never ends a wait before a batch is due, and at
// its median ends it well inside the millisecond that Go's timers alone add to a wait while
// the program idles (and so to every latency charged from it), on one processor for all the
// connections' goroutines, so that their waits do not hold one another up either.
func TestScheduleKeepsTime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, load := range []struct {
		conns, waits int
		interval     time.Duration
	}{{1, 200, 100 * time.Microsecond}, {64, 20, 2500 * time.Microsecond}} {
		var mu sync.Mutex
		var late []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		for id := range load.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				clock, err := newSchedule()
				if err != nil {
					t.Error(err)
					return
				}
				defer clock.close()
				due := start.Add(load.interval * time.Duration(id) / time.Duration(load.conns))
				mine := make([]time.Duration, 0, load.waits)
				for range load.waits {
					due = due.Add(load.interval)
					if err := clock.waitUntil(due); err != nil {
						t.Error(err)
						return
					}
					l := time.Since(due)
					if l < 0 {
						t.Errorf("a wait ended %v before its batch was due", -l)
					}
					mine = append(mine, l)
					if l > load.interval {
						due = time.Now() // a wait the machine delayed does not make the next late
					}
				}
				mu.Lock()
				late = append(late, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		slices.Sort(late)
		if median := late[len(late)/2]; median > 500*time.Microsecond {
			t.Errorf("%d connections waiting %v each: median lateness %v (p90 %v); Go's timers alone are a millisecond late",
				load.conns, load.interval, median, late[len(late)*9/10])
		}
	}
}
