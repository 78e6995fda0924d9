//go:build !poll_opt

package netpoll_test

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/uringnet/uringnet/compat/netpoll"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// api is what the tests ask of a poller: ours and gnet's have these methods alike, so every
// assertion runs on both.
type api interface {
	AddRead(*netpoll.PollAttachment, bool) error
	AddWrite(*netpoll.PollAttachment, bool) error
	AddReadWrite(*netpoll.PollAttachment, bool) error
	ModRead(*netpoll.PollAttachment, bool) error
	ModReadWrite(*netpoll.PollAttachment, bool) error
	Delete(int) error
	Trigger(queue.EventPriority, queue.Func, any) error
	Polling(netpoll.PollEventHandler) error
	Close() error
}

var (
	_ api = (*netpoll.Poller)(nil)
	_ api = (*gnetpoll.Poller)(nil)
)

// backend is one way of getting a poller.
type backend struct {
	name    string
	serving string // what Serving must say of ours ("" for gnet's own)
	open    func() (api, error)
}

// backends are ours on io_uring (with the synchronous message and with the messenger ring that
// stands in for it below Linux 6.13), ours falling back to gnet's epoll Poller, and gnet's own
// Poller, the reference.
func backends(t *testing.T) []backend {
	t.Helper()
	f, err := poller.Probe()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	ours := func(f poller.Features) func() (api, error) {
		return func() (api, error) { return netpoll.OpenPollerWith(f) }
	}
	bs := []backend{
		{"io_uring", "sync-msg-ring", ours(f)},
		{"io_uring-messenger", "messenger-ring", ours(f.Without(poller.CapSyncMsgRing))},
		{"fallback", "epoll", ours(f.Without(poller.CapDeferTaskrun))},
		{"gnet", "", func() (api, error) { return gnetpoll.OpenPoller() }},
	}
	if !f.Has(poller.CapSyncMsgRing) {
		bs = bs[1:] // the kernel has only the messenger: it is the first row
	}
	return bs
}

// forEach runs test against a fresh poller of every backend, each in a subtest that ends with
// the poller closed and the process's goroutines and descriptors back where they were.
func forEach(t *testing.T, test func(t *testing.T, p api)) {
	// The runtime's own poller (an epoll descriptor and an eventfd) opens with the process's
	// first timer: open it before the descriptors are counted.
	<-time.After(time.Millisecond)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			g, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
			t.Cleanup(func() { leakcheck.Settle(t, g, fds) })
			p, err := b.open()
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if ours, ok := p.(*netpoll.Poller); ok && ours.Serving() != b.serving {
				t.Fatalf("served by %q, want %q", ours.Serving(), b.serving)
			}
			closed := false
			t.Cleanup(func() {
				if !closed {
					p.Close()
				}
			})
			test(t, closeTracker{p, &closed})
		})
	}
}

// closeTracker notes that a test closed its poller itself, so that the cleanup does not.
type closeTracker struct {
	api
	closed *bool
}

func (c closeTracker) Close() error { *c.closed = true; return c.api.Close() }

// polling runs p.Polling(cb) on a goroutine of its own until stop.
type polling struct {
	p    api
	done chan error
}

func startPolling(t *testing.T, p api, cb netpoll.PollEventHandler) *polling {
	t.Helper()
	r := &polling{p: p, done: make(chan error, 1)}
	go func() { r.done <- p.Polling(cb) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("Polling still running at the end of the test")
		}
	})
	return r
}

// stop ends Polling with a task that returns ErrEngineShutdown, and checks that Polling
// returns it.
func (r *polling) stop(t *testing.T) {
	t.Helper()
	if err := r.p.Trigger(queue.HighPriority, func(any) error { return gerrors.ErrEngineShutdown }, nil); err != nil {
		t.Fatalf("Trigger: %v", err)
	}
	if err := r.wait(t); !errors.Is(err, gerrors.ErrEngineShutdown) {
		t.Fatalf("Polling returned %v, want ErrEngineShutdown", err)
	}
}

// wait returns what Polling returned, failing the test after five seconds.
func (r *polling) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Polling did not return")
		return nil
	}
}

// barrier returns once a task triggered now has run on the polling goroutine: every event
// reported before the call has been handled.
func barrier(t *testing.T, p api) {
	t.Helper()
	ran := make(chan struct{})
	if err := p.Trigger(queue.HighPriority, func(any) error { close(ran); return nil }, nil); err != nil {
		t.Fatalf("Trigger: %v", err)
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatalf("a triggered task did not run")
	}
}

// socketpair returns a connected pair of non-blocking stream sockets, closed when the test ends.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// write writes s to fd.
func write(t *testing.T, fd int, s string) {
	t.Helper()
	if _, err := unix.Write(fd, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// drain reads fd until it would block and returns what it read.
func drain(fd int) string {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// counter counts a descriptor's reports and keeps the last one's events.
type counter struct {
	n    atomic.Int64
	last atomic.Uint32
	seen atomic.Uint32 // every event bit reported so far
}

func (c *counter) report(ev netpoll.IOEvent) {
	c.n.Add(1)
	c.last.Store(ev)
	for {
		old := c.seen.Load()
		if c.seen.CompareAndSwap(old, old|ev) {
			return
		}
	}
}

// waitCount waits up to five seconds for at least n reports.
func (c *counter) waitCount(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d reports after 5s, want at least %d", c.n.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// settled waits until the count stops moving (unchanged across a pause and a task run on the
// polling goroutine; a task triggered just after a change can run before what the change
// reports, with gnet too, so a few rounds are allowed) and returns it.
func (c *counter) settled(t *testing.T, p api) int64 {
	t.Helper()
	for round := 0; round < 10; round++ {
		barrier(t, p)
		n := c.n.Load()
		time.Sleep(20 * time.Millisecond)
		barrier(t, p)
		if c.n.Load() == n {
			return n
		}
	}
	t.Fatalf("still reported after ten rounds with nothing new: %d reports (last events %#x)", c.n.Load(), c.last.Load())
	return 0
}
