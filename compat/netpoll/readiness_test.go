//go:build !poll_opt

package netpoll_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/compat/netpoll"
	"golang.org/x/sys/unix"
)

// watcher counts the reports of the descriptors it registers, from one Polling.
type watcher struct {
	fds sync.Map // fd → *watched
	r   *polling
}

// watched is one descriptor's counter and what its callback does besides counting.
type watched struct {
	counter
	consume atomic.Bool // read what the descriptor has when it is reported readable
	remove  atomic.Bool // Delete the descriptor from its own callback
}

// watch registers fd with add and counts its reports; Polling starts with the first call.
func (w *watcher) watch(t *testing.T, p api, fd int, add func(*netpoll.PollAttachment, bool) error, edge bool) *watched {
	t.Helper()
	c := &watched{}
	w.fds.Store(fd, c)
	cb := func(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
		v, ok := w.fds.Load(fd)
		if !ok {
			return nil
		}
		c := v.(*watched)
		c.report(ev)
		if c.consume.Load() && netpoll.IsReadEvent(ev) {
			drain(fd)
		}
		if c.remove.Load() {
			if err := p.Delete(fd); err != nil {
				t.Errorf("Delete in the callback: %v", err)
			}
		}
		return nil
	}
	if err := add(&netpoll.PollAttachment{FD: fd, Callback: cb}, edge); err != nil {
		t.Fatalf("add: %v", err)
	}
	if w.r == nil {
		w.r = startPolling(t, p, cb)
	}
	return c
}

// Level-triggered: a readable descriptor whose data the callback leaves is reported again in
// every iteration; once the callback reads it, it is reported no more until new data arrives.
func TestLevelTriggeredRead(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		var w watcher
		c := w.watch(t, p, a, p.AddRead, false)
		if n := c.settled(t, p); n != 0 {
			t.Fatalf("%d reports of a socket with nothing to read", n)
		}
		write(t, b, "x")
		c.waitCount(t, 5) // left unread: reported again and again
		if !netpoll.IsReadEvent(c.last.Load()) || netpoll.IsWriteEvent(c.seen.Load()) {
			t.Fatalf("events %#x, want read events only", c.seen.Load())
		}
		c.consume.Store(true)
		n := c.settled(t, p)
		write(t, b, "y")
		c.waitCount(t, n+1)
		c.settled(t, p)
		w.r.stop(t)
	})
}

// Edge-triggered: a descriptor is reported once per arrival of data, not again while the data
// stays unread; new data reports it again.
func TestEdgeTriggeredRead(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		var w watcher
		c := w.watch(t, p, a, p.AddRead, true)
		write(t, b, "x")
		c.waitCount(t, 1)
		if n := c.settled(t, p); n != 1 {
			t.Fatalf("%d reports of one write left unread, want 1", n)
		}
		write(t, b, "y")
		c.waitCount(t, 2)
		if n := c.settled(t, p); n != 2 {
			t.Fatalf("%d reports of two writes, want 2", n)
		}
		// The peer's close: a read event with EPOLLRDHUP (asked for by edge-triggered
		// registrations, as gnet asks).
		unix.Shutdown(b, unix.SHUT_WR)
		c.waitCount(t, 3)
		if ev := c.last.Load(); ev&unix.EPOLLRDHUP == 0 || !netpoll.IsReadEvent(ev) {
			t.Fatalf("after the peer's shutdown: events %#x, want a read event with EPOLLRDHUP", ev)
		}
		w.r.stop(t)
	})
}

// Write events: a writable socket is reported in every iteration when level-triggered, once
// when edge-triggered.
func TestWrite(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, _ := socketpair(t)
		e, _ := socketpair(t)
		var w watcher
		level, edge := w.watch(t, p, a, p.AddWrite, false), w.watch(t, p, e, p.AddWrite, true)
		level.waitCount(t, 5)
		if ev := level.seen.Load(); !netpoll.IsWriteEvent(ev) || netpoll.IsReadEvent(ev) {
			t.Fatalf("events %#x, want write events only", ev)
		}
		edge.waitCount(t, 1)
		if n := edge.settled(t, p); n != 1 {
			t.Fatalf("%d edge-triggered reports of a socket that stays writable, want 1", n)
		}
		w.r.stop(t)
	})
}

// Read and write together, level-triggered: both kinds in one report, once per iteration.
func TestReadWrite(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		write(t, b, "x")
		var w watcher
		c := w.watch(t, p, a, p.AddReadWrite, false)
		c.waitCount(t, 3)
		if ev := c.last.Load(); !netpoll.IsReadEvent(ev) || !netpoll.IsWriteEvent(ev) || netpoll.IsErrorEvent(ev, 0) {
			t.Fatalf("events %#x, want read and write in one report", ev)
		}
		w.r.stop(t)
	})
}

// Mod changes what is reported, and checks readiness again as epoll's EPOLL_CTL_MOD does,
// also when it switches between level- and edge-triggered.
func TestMod(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		var w watcher
		c := w.watch(t, p, a, p.AddRead, false)
		pa := &netpoll.PollAttachment{FD: a}
		if n := c.settled(t, p); n != 0 {
			t.Fatalf("%d reports of an idle socket", n)
		}
		// To read and write: writable at once, reported again and again.
		if err := p.ModReadWrite(pa, false); err != nil {
			t.Fatal(err)
		}
		c.waitCount(t, 3)
		if !netpoll.IsWriteEvent(c.last.Load()) {
			t.Fatalf("after ModReadWrite: events %#x, want write", c.last.Load())
		}
		// Back to read: no more write events.
		if err := p.ModRead(pa, false); err != nil {
			t.Fatal(err)
		}
		c.settled(t, p)
		// Edge-triggered read of unread data: reported once, for the Mod.
		write(t, b, "x")
		c.waitCount(t, c.n.Load()+2) // level-triggered until the Mod below
		if err := p.ModRead(pa, true); err != nil {
			t.Fatal(err)
		}
		n := c.settled(t, p)
		if err := p.ModRead(pa, true); err != nil {
			t.Fatal(err)
		}
		c.waitCount(t, n+1)
		if m := c.settled(t, p); m != n+1 {
			t.Fatalf("an edge-triggered Mod of a readable socket: %d reports, want 1", m-n)
		}
		// And level-triggered again: reported again and again.
		if err := p.ModReadWrite(pa, false); err != nil {
			t.Fatal(err)
		}
		c.waitCount(t, n+5)
		w.r.stop(t)
	})
}

// Delete: a descriptor is reported no more, whether deleted from another goroutine or from
// its own callback (the report in hand is then the last).
func TestDelete(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		d, e := socketpair(t)
		write(t, b, "x")
		var w watcher
		c := w.watch(t, p, a, p.AddRead, false)
		c.waitCount(t, 2)
		if err := p.Delete(a); err != nil { // from this goroutine, while Polling runs
			t.Fatal(err)
		}
		c.settled(t, p)

		self := w.watch(t, p, d, p.AddRead, false)
		self.remove.Store(true)
		write(t, e, "x")
		self.waitCount(t, 1)
		if n := self.settled(t, p); n != 1 {
			t.Fatalf("%d reports, want 1: Delete in the callback did not stop them", n)
		}
		w.r.stop(t)
	})
}

// A registration made from another goroutine while Polling waits takes effect at once, not
// at the end of a bounded wait.
func TestAddWhileWaiting(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		got := make(chan time.Time, 1)
		r := startPolling(t, p, func(fd int, _ netpoll.IOEvent, _ netpoll.IOFlags) error {
			if fd == a {
				drain(a)
				select {
				case got <- time.Now():
				default:
				}
			}
			return nil
		})
		barrier(t, p)
		time.Sleep(20 * time.Millisecond) // Polling is waiting
		if err := p.AddRead(&netpoll.PollAttachment{FD: a}, false); err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		write(t, b, "x")
		select {
		case at := <-got:
			if d := at.Sub(sent); d > 300*time.Millisecond {
				t.Fatalf("reported %v after the write", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("never reported")
		}
		r.stop(t)
	})
}

// Ours only: each iteration of Polling passes its changes and re-arms to the kernel with its
// wait in one io_uring_enter. An echo whose callback changes its registration on every
// message (so that every iteration has a re-arm and an update to submit) makes no more
// submitting calls than iterations, but for those a signal interrupted and that were retried.
func TestOneSubmissionPerIteration(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		ours := onRing(t, p)
		a, b := socketpair(t)
		both := false
		pa := &netpoll.PollAttachment{FD: a}
		r := startPolling(t, p, func(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
			if fd == a && netpoll.IsReadEvent(ev) {
				unix.Write(a, []byte(drain(a)))
				if both = !both; both {
					p.ModReadWrite(pa, false)
				} else {
					p.ModRead(pa, false)
				}
			}
			return nil
		})
		if err := p.AddRead(pa, false); err != nil {
			t.Fatal(err)
		}
		const rounds = 200
		buf := make([]byte, 1)
		for i := 0; i < rounds; i++ {
			write(t, b, "x")
			for {
				if n, _ := unix.Read(b, buf); n == 1 {
					break
				}
				time.Sleep(10 * time.Microsecond)
			}
		}
		r.stop(t)
		iters, submits, interrupts := ours.Entered()
		if iters < rounds || submits > iters+interrupts {
			t.Fatalf("%d iterations, %d submitting io_uring_enter calls (%d interrupted): want at least %d iterations and a call each",
				iters, submits, interrupts, rounds)
		}
		t.Logf("%d iterations, %d submitting io_uring_enter calls, %d interrupted", iters, submits, interrupts)
	})
}

// Ours only: after an iteration that reported descriptors, Polling looks again without waiting
// before it waits, as gnet's epoll loop does. Two connections whose callbacks each make the
// other's descriptor readable keep an event coming for every iteration: a chain of them is
// served with hardly a call that asks to wait (each iteration asked, before).
func TestPollingLooksAgainBeforeWaiting(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		ours := onRing(t, p)
		a, peerA := socketpair(t)
		c, peerC := socketpair(t)
		const rounds = 1000
		events := 0
		done := make(chan struct{})
		r := startPolling(t, p, func(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
			if !netpoll.IsReadEvent(ev) || drain(fd) == "" {
				return nil
			}
			if events++; events == rounds {
				close(done)
				return nil
			}
			if fd == a {
				unix.Write(peerC, []byte("x"))
			} else {
				unix.Write(peerA, []byte("x"))
			}
			return nil
		})
		for _, fd := range []int{a, c} {
			if err := p.AddRead(&netpoll.PollAttachment{FD: fd}, false); err != nil {
				t.Fatal(err)
			}
		}
		barrier(t, p)
		write(t, peerA, "x")
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the chain of events stopped")
		}
		r.stop(t)
		iters, waits := ours.Waited()
		if waits > rounds/10 {
			t.Fatalf("%d calls asked to wait in %d iterations for a chain of %d events: want at most %d",
				waits, iters, rounds, rounds/10)
		}
		t.Logf("%d iterations, %d calls that asked to wait, for %d events", iters, waits, rounds)
	})
}

// onRing returns p as our Poller on io_uring, and skips the test for the backends that are
// not one (gnet's poller, ours forced to the fallback).
func onRing(t *testing.T, p api) *netpoll.Poller {
	t.Helper()
	ours, ok := p.(closeTracker).api.(*netpoll.Poller)
	if !ok || ours.Serving() == "epoll" {
		t.Skip("not a ring")
	}
	return ours
}
