package listener

import (
	"sync/atomic"
	"testing"
	"time"
)

// A deadline passes once, wakes its direction once, and is revived by the next set; a timer
// armed by a set that was replaced never marks the new deadline passed; and the paths net/http
// takes around every request (a past deadline, then none; future deadlines) allocate nothing.
func TestDeadlineSetsAndFires(t *testing.T) {
	var wakes atomic.Int32
	woke := make(chan struct{}, 1)
	var d deadline
	d.init(func() {
		wakes.Add(1)
		select {
		case woke <- struct{}{}:
		default:
		}
	})

	d.set(time.Now().Add(-time.Second))
	if !d.expired() || wakes.Load() != 1 {
		t.Fatalf("past deadline: expired %v, wakes %d", d.expired(), wakes.Load())
	}
	d.set(time.Now().Add(-time.Second))
	if wakes.Load() != 1 {
		t.Fatalf("a second past deadline woke again (%d)", wakes.Load())
	}
	d.set(time.Time{})
	if d.expired() {
		t.Fatal("clearing the deadline did not revive the direction")
	}

	select {
	case <-woke: // the past deadline's wake
	default:
	}
	d.set(time.Now().Add(20 * time.Millisecond))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("the timed deadline did not wake its direction within 5s")
	}
	if !d.expired() || wakes.Load() != 2 {
		t.Fatalf("timed deadline: expired %v, wakes %d", d.expired(), wakes.Load())
	}

	// A firing that lost the race to a later set (the timer armed by the first) finds the
	// deadline now set still ahead.
	d.set(time.Now().Add(time.Hour))
	d.set(time.Now().Add(2 * time.Hour))
	d.onTimer()
	if d.expired() || wakes.Load() != 2 {
		t.Fatalf("a stale timer fired: expired %v, wakes %d", d.expired(), wakes.Load())
	}
	d.set(time.Time{})

	if n := testing.AllocsPerRun(1000, func() {
		d.set(time.Unix(1, 0))
		d.set(time.Time{})
	}); n != 0 {
		t.Fatalf("a past deadline and clearing it allocate %v times", n)
	}
	d.set(time.Now().Add(time.Hour)) // the timer exists already: the timed deadline made it
	if n := testing.AllocsPerRun(1000, func() {
		d.set(time.Now().Add(time.Hour))
	}); n != 0 {
		t.Fatalf("a future deadline set again allocates %v times", n)
	}
	d.set(time.Time{})
}
