//go:build !poll_opt

package netpoll_test

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/uringnet/uringnet/compat/netpoll"
	"golang.org/x/sys/unix"
)

// checkErr fails unless err is an *os.SyscallError that reads want and wraps errno: what
// gnet's Poller returns, so that programs that inspect it behave the same.
func checkErr(t *testing.T, what string, err error, want string, errno unix.Errno) {
	t.Helper()
	var se *os.SyscallError
	if !errors.As(err, &se) || err.Error() != want || !errors.Is(err, errno) {
		t.Errorf("%s: %#v (%v), want *os.SyscallError %q", what, err, err, want)
	}
}

// Registering what epoll refuses fails as epoll_ctl fails, on every backend alike.
func TestRegistrationErrors(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, _ := socketpair(t)
		pa := &netpoll.PollAttachment{FD: a}
		checkErr(t, "Mod of a descriptor never added", p.ModRead(pa, false), "epoll_ctl mod: no such file or directory", unix.ENOENT)
		checkErr(t, "Delete of a descriptor never added", p.Delete(a), "epoll_ctl del: no such file or directory", unix.ENOENT)
		if err := p.AddRead(pa, false); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "Add twice", p.AddWrite(pa, true), "epoll_ctl add: file exists", unix.EEXIST)
		if err := p.ModReadWrite(pa, true); err != nil {
			t.Fatal(err)
		}
		if err := p.Delete(a); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "Delete twice", p.Delete(a), "epoll_ctl del: no such file or directory", unix.ENOENT)
		checkErr(t, "Mod after Delete", p.ModReadWrite(pa, false), "epoll_ctl mod: no such file or directory", unix.ENOENT)
		if err := p.AddReadWrite(pa, false); err != nil {
			t.Fatalf("Add after Delete: %v", err)
		}

		f, err := os.CreateTemp(t.TempDir(), "regular")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		checkErr(t, "Add of a regular file", p.AddRead(&netpoll.PollAttachment{FD: int(f.Fd())}, false),
			"epoll_ctl add: operation not permitted", unix.EPERM)

		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(fds[0])
		unix.Close(fds[1])
		closed := &netpoll.PollAttachment{FD: fds[0]}
		checkErr(t, "Add of a closed descriptor", p.AddRead(closed, false), "epoll_ctl add: bad file descriptor", unix.EBADF)
		checkErr(t, "Mod of a closed descriptor", p.ModRead(closed, false), "epoll_ctl mod: bad file descriptor", unix.EBADF)
		checkErr(t, "Delete of a closed descriptor", p.Delete(fds[0]), "epoll_ctl del: bad file descriptor", unix.EBADF)
	})
}

// A closed poller: its queued tasks never run, and every method answers as gnet's closed
// descriptors make it answer. Trigger fails only when it would have written its wake-up
// (none was pending since the tasks last ran), as gnet's eventfd write does.
func TestClosedPoller(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, _ := socketpair(t)
		pa := &netpoll.PollAttachment{FD: a}
		if err := p.AddRead(pa, false); err != nil {
			t.Fatal(err)
		}
		ran := 0
		for i := 0; i < 10; i++ {
			if err := p.Trigger(queue.LowPriority, func(any) error { ran++; return nil }, nil); err != nil {
				t.Fatalf("Trigger before Close: %v", err)
			}
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close with tasks pending: %v", err)
		}
		checkErr(t, "Close twice", p.Close(), "close: bad file descriptor", unix.EBADF)
		checkErr(t, "AddWrite", p.AddWrite(&netpoll.PollAttachment{FD: a}, false), "epoll_ctl add: bad file descriptor", unix.EBADF)
		checkErr(t, "ModRead", p.ModRead(pa, false), "epoll_ctl mod: bad file descriptor", unix.EBADF)
		checkErr(t, "Delete", p.Delete(a), "epoll_ctl del: bad file descriptor", unix.EBADF)
		if err := p.Trigger(queue.HighPriority, func(any) error { ran++; return nil }, nil); err != nil {
			t.Fatalf("Trigger with a wake-up pending: %v, want nil (gnet writes nothing)", err)
		}
		if err := p.Polling(func(int, netpoll.IOEvent, netpoll.IOFlags) error { return nil }); err != unix.EBADF {
			t.Fatalf("Polling on a closed poller: %#v, want unix.EBADF", err)
		}
		if ran != 0 {
			t.Fatalf("%d tasks ran on a closed poller", ran)
		}
	})
	forEach(t, func(t *testing.T, p api) {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "Trigger after Close", p.Trigger(queue.HighPriority, func(any) error { return nil }, nil),
			"write: bad file descriptor", unix.EBADF)
	})
}

// Polling with a nil callback panics at the first event, as gnet's does (a call of a nil
// function), and the poller can still be closed.
func TestNilCallback(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		if err := p.AddRead(&netpoll.PollAttachment{FD: a}, false); err != nil {
			t.Fatal(err)
		}
		write(t, b, "x")
		panicked := make(chan any, 1)
		go func() {
			defer func() { panicked <- recover() }()
			p.Polling(nil)
		}()
		select {
		case v := <-panicked:
			re, ok := v.(runtime.Error)
			if !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
				t.Fatalf("Polling(nil) ended with %v, want a nil pointer dereference", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Polling(nil) did not panic at the first event")
		}
	})
}

// Ours only: Close stops a Polling that is waiting (gnet's waits on until an event arrives,
// and then fails with EBADF as this one does), and a second Polling at once is refused.
func TestCloseWhilePolling(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		if ours, ok := p.(closeTracker).api.(*netpoll.Poller); !ok || ours.Serving() == "epoll" {
			t.Skip("gnet's Polling goes on waiting after Close")
		}
		r := startPolling(t, p, func(int, netpoll.IOEvent, netpoll.IOFlags) error { return nil })
		barrier(t, p)
		if err := p.Polling(func(int, netpoll.IOEvent, netpoll.IOFlags) error { return nil }); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("a second Polling: %v, want a refusal", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.wait(t); err != unix.EBADF {
			t.Fatalf("Polling returned %#v after Close, want unix.EBADF", err)
		}
	})
}

// Tasks triggered before Polling starts run in its first iteration; a Polling that returned
// can be called again, and finds its registrations armed.
func TestPollingAgain(t *testing.T) {
	forEach(t, func(t *testing.T, p api) {
		a, b := socketpair(t)
		reports := make(chan int, 64)
		cb := func(fd int, _ netpoll.IOEvent, _ netpoll.IOFlags) error {
			if fd == a {
				drain(a)
				reports <- fd
			}
			return nil
		}
		ran := make(chan struct{})
		p.Trigger(queue.HighPriority, func(any) error { close(ran); return nil }, nil)
		if err := p.AddRead(&netpoll.PollAttachment{FD: a, Callback: cb}, true); err != nil {
			t.Fatal(err)
		}
		r := startPolling(t, p, cb)
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("a task triggered before Polling did not run")
		}
		write(t, b, "x")
		<-reports
		if ours, ok := p.(closeTracker).api.(*netpoll.Poller); !ok || ours.Serving() == "epoll" {
			// gnet's wake-up stays claimed by the task that ended Polling: its later tasks
			// would never run, so this part is ours only.
			r.stop(t)
			return
		}
		r.stop(t)
		r = startPolling(t, p, cb)
		write(t, b, "y")
		select {
		case <-reports:
		case <-time.After(5 * time.Second):
			t.Fatal("a registration was not armed in the second Polling")
		}
		r.stop(t)
	})
}
