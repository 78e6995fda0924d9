package listener

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadline is one direction's deadline, as net.Pipe keeps it: a channel that is closed when the
// deadline passes, which every operation of that direction checks whether it is already blocked
// or starts later; setting a new deadline replaces a closed channel, reviving the direction.
// When the deadline passes, wake rouses the direction's blocked caller, which then checks the
// channel. Only callers' goroutines use it, never the loop; the per-operation check (wait)
// takes no lock.
type deadline struct {
	mu     sync.Mutex // serialises set
	timer  *time.Timer
	cancel atomic.Pointer[chan struct{}] // closed when the deadline passes
	wake   func()
}

func (d *deadline) init(wake func()) {
	c := make(chan struct{})
	d.cancel.Store(&c)
	d.wake = wake
}

// set sets the deadline; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cancel := *d.cancel.Load()
	if d.timer != nil && !d.timer.Stop() {
		<-cancel // the timer fired: wait for it to have closed the channel
	}
	d.timer = nil
	var dur time.Duration
	if !t.IsZero() {
		if dur = time.Until(t); dur <= 0 {
			if !isClosed(cancel) {
				close(cancel)
				d.wake()
			}
			return
		}
	}
	if isClosed(cancel) { // none, or a later one: the direction revives
		cancel = make(chan struct{})
		d.cancel.Store(&cancel)
	}
	if dur > 0 {
		d.timer = time.AfterFunc(dur, func() { close(cancel); d.wake() })
	}
}

// wait returns the channel that is closed when the deadline passes.
func (d *deadline) wait() chan struct{} { return *d.cancel.Load() }

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool { return isClosed(d.wait()) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
