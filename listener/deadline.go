package listener

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is one direction's deadline. Every operation of that direction checks passed,
// whether it is already blocked (wake rouses it to look) or starts later; a new deadline clears
// it, reviving the direction. Only callers' goroutines use it, never the loop; the
// per-operation check takes no lock.
//
// Setting a deadline that has passed or none allocates nothing: net/http does both around every
// request (its background read is ended by a deadline in the past, then cleared), so that is
// the path to keep cheap. A future deadline arms a timer of its own.
type deadline struct {
	mu     sync.Mutex // serialises set and the timers' firing
	gen    uint64     // counts sets, under mu: a timer armed by an earlier set does nothing
	timer  *time.Timer
	passed atomic.Bool
	wake   func()
}

func (d *deadline) init(wake func()) { d.wake = wake }

// set sets the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop() // one firing already has a stale gen
		d.timer = nil
	}
	var dur time.Duration
	if !t.IsZero() {
		dur = time.Until(t)
	}
	passed := !t.IsZero() && dur <= 0
	wasPassed := d.passed.Swap(passed)
	if dur > 0 {
		gen := d.gen
		d.timer = time.AfterFunc(dur, func() { d.fire(gen) })
	}
	d.mu.Unlock()
	if passed && !wasPassed {
		d.wake()
	}
}

// fire marks the deadline passed, unless a later set replaced the one that armed the timer.
func (d *deadline) fire(gen uint64) {
	d.mu.Lock()
	fired := gen == d.gen && !d.passed.Swap(true)
	d.mu.Unlock()
	if fired {
		d.wake()
	}
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return d.passed.Load() }
