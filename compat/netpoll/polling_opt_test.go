//go:build poll_opt

package netpoll_test

import (
	"errors"
	"testing"

	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/uringnet/uringnet/compat/netpoll"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Built with gnet's poll_opt tag, Polling takes no callback and calls each ready descriptor's
// own PollAttachment.Callback with the attachment's FD, on ours as on gnet's.
func TestPollingCallsTheAttachments(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	type pollOpt interface {
		AddRead(*netpoll.PollAttachment, bool) error
		Polling() error
		Close() error
	}
	for name, open := range map[string]func() (pollOpt, error){
		"io_uring": func() (pollOpt, error) { return netpoll.OpenPollerWith(f) },
		"fallback": func() (pollOpt, error) { return netpoll.OpenPollerWith(f.Without(poller.CapDeferTaskrun)) },
		"gnet":     func() (pollOpt, error) { return gnetpoll.OpenPoller() },
	} {
		t.Run(name, func(t *testing.T) {
			p, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			defer unix.Close(fds[1])
			var got []int
			for _, fd := range fds {
				pa := &netpoll.PollAttachment{FD: fd, Callback: func(fd int, ev netpoll.IOEvent, _ netpoll.IOFlags) error {
					got = append(got, fd)
					return gerrors.ErrEngineShutdown
				}}
				if err := p.AddRead(pa, false); err != nil {
					t.Fatal(err)
				}
			}
			unix.Write(fds[1], []byte("x"))
			if err := p.Polling(); !errors.Is(err, gerrors.ErrEngineShutdown) {
				t.Fatalf("Polling: %v, want the callback's ErrEngineShutdown", err)
			}
			if len(got) != 1 || got[0] != fds[0] {
				t.Fatalf("callbacks called with %v, want the readable descriptor %d once", got, fds[0])
			}
		})
	}
}
