package listener

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is one direction's deadline. Every operation of that direction checks passed,
// whether it is already blocked (wake makes it look) or starts later; a new deadline clears
// it, reviving the direction. Only callers' goroutines use it, never the loop; the
// per-operation check takes no lock.
//
// Setting a deadline allocates nothing: net/http sets one to three future deadlines per request
// when its timeouts are configured, and a past one then none around every request (its
// background read is ended by a deadline in the past, then cleared). A future deadline resets
// the direction's one timer, made by the first future deadline and reused from then on.
type deadline struct {
	mu     sync.Mutex  // serialises set and the timer's firing
	when   time.Time   // the deadline the timer is armed for, under mu; zero when none is
	timer  *time.Timer // nil until the first future deadline
	passed atomic.Bool
	wake   func()
}

func (d *deadline) init(wake func()) { d.wake = wake }

// set sets the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	wake := d.setLocked(t)
	d.mu.Unlock()
	if wake {
		d.wake()
	}
}

// setKept sets the deadline kept at k, read under the deadline's lock: of calls racing, the
// last to run sets what was kept last.
func (d *deadline) setKept(k *keptDeadline) {
	d.mu.Lock()
	wake := d.setLocked(k.load())
	d.mu.Unlock()
	if wake {
		d.wake()
	}
}

// setLocked sets the deadline, under mu; it reports whether the direction is to be woken (the
// deadline has just passed).
func (d *deadline) setLocked(t time.Time) bool {
	if d.timer != nil {
		d.timer.Stop() // a firing already under way finds when changed, or passed
	}
	var dur time.Duration
	if !t.IsZero() {
		dur = time.Until(t)
	}
	passed := !t.IsZero() && dur <= 0
	wasPassed := d.passed.Swap(passed)
	d.when = time.Time{}
	if dur > 0 {
		d.when = t
		if d.timer == nil {
			d.timer = time.AfterFunc(dur, d.onTimer)
		} else {
			d.timer.Reset(dur)
		}
	}
	return passed && !wasPassed
}

// onTimer marks the deadline passed if the one now set has come. A firing meant for a deadline
// that a later set replaced finds the new one still ahead (or none) and does nothing; the
// timer, reset for the new deadline, fires again when it comes. A deadline still ahead is
// re-armed for what remains, so that a firing a little early by the wall clock (a deadline
// given without a monotonic reading) is not lost.
func (d *deadline) onTimer() {
	d.mu.Lock()
	fired := false
	if !d.when.IsZero() {
		if left := time.Until(d.when); left > 0 {
			d.timer.Reset(left)
		} else {
			fired = !d.passed.Swap(true)
		}
	}
	d.mu.Unlock()
	if fired {
		d.wake()
	}
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return d.passed.Load() }
