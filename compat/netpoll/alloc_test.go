//go:build !race && !poll_opt

// The race detector allocates on its own; `make test` runs this file in its pass without it.

package netpoll_test

import (
	"testing"

	"github.com/uringnet/uringnet/compat/netpoll"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// An echo's steady state on the ring — a message arrives, the callback reads it and writes it
// back — allocates nothing, level- or edge-triggered. AllocsPerRun counts every allocation in
// the process, the polling goroutine's included.
func TestEchoSteadyStateAllocatesNothing(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	for _, edge := range []bool{false, true} {
		p, err := netpoll.OpenPollerWith(f)
		if err != nil {
			t.Fatal(err)
		}
		if p.Serving() == "epoll" {
			t.Fatal("fell back to epoll")
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		server, client := fds[0], fds[1]
		unix.SetNonblock(server, true)
		buf := make([]byte, 256)
		cb := func(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
			for {
				n, err := unix.Read(fd, buf)
				if n <= 0 || err != nil {
					return nil
				}
				unix.Write(fd, buf[:n])
			}
		}
		if err := p.AddRead(&netpoll.PollAttachment{FD: server, Callback: cb}, edge); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Polling(cb) }()
		msg, echo := make([]byte, 64), make([]byte, 64)
		roundTrip := func() {
			unix.Write(client, msg)
			for got := 0; got < len(echo); {
				n, err := unix.Read(client, echo[got:])
				if err != nil || n <= 0 {
					t.Fatalf("read the echo: %d, %v", n, err)
				}
				got += n
			}
		}
		for i := 0; i < 100; i++ {
			roundTrip() // warm up
		}
		if n := testing.AllocsPerRun(2000, roundTrip); n > 0 {
			t.Errorf("edge-triggered %v: %v allocations per echoed message, want 0", edge, n)
		}
		p.Close()
		<-done
		unix.Close(server)
		unix.Close(client)
	}
}
