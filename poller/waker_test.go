package poller

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A Waker of either kind posts a completion with the caller's user data to a ring owned by
// another goroutine, from a goroutine that owns none.
func TestWakerPostsToARingItDoesNotOwn(t *testing.T) {
	f := requireFeatures(t, CapMsgRing)
	for _, tc := range []struct {
		kind string
		f    Features
	}{{"sync-msg-ring", f}, {"messenger-ring", f.Without(CapSyncMsgRing)}} {
		t.Run(tc.kind, func(t *testing.T) {
			if tc.kind == "sync-msg-ring" {
				requireFeatures(t, CapSyncMsgRing)
			}
			w, err := NewWaker(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := w.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			if w.Kind() != tc.kind {
				t.Fatalf("Kind %q, want %q", w.Kind(), tc.kind)
			}
			r := loopRing(t, 8)
			errc := make(chan error, 1)
			go func() { errc <- w.Wake(r.Fd(), 0xabc) }()
			waitCQE(t, r, 0xabc)
			if err := <-errc; err != nil {
				t.Fatalf("Wake: %v", err)
			}
		})
	}
}

// A wake-up that fails says which system call failed, as net's errors do (an *os.SyscallError
// around the errno), and not the descriptor it was sent to: a number that means nothing to
// whoever reads the error (Set.Wait once returned "messenger MSG_RING to ring fd 8: bad file
// descriptor").
func TestWakerErrorNamesTheCallNotTheDescriptor(t *testing.T) {
	f := requireFeatures(t, CapMsgRing)
	for _, tc := range []struct {
		kind, call string
		f          Features
	}{{"sync-msg-ring", "io_uring_register", f}, {"messenger-ring", "io_uring_enter", f.Without(CapSyncMsgRing)}} {
		t.Run(tc.kind, func(t *testing.T) {
			if tc.kind == "sync-msg-ring" {
				requireFeatures(t, CapSyncMsgRing)
			}
			w, err := NewWaker(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			err = w.Wake(p[0], 1) // a descriptor, but not a ring's
			var se *os.SyscallError
			if !errors.As(err, &se) || se.Syscall != tc.call || !errors.Is(err, unix.EBADFD) {
				t.Fatalf("Wake of a pipe: %v (%T), want an *os.SyscallError %q around EBADFD", err, err, tc.call)
			}
			if strings.Contains(err.Error(), strconv.Itoa(p[0])) {
				t.Fatalf("Wake's error %q tells the descriptor's number", err)
			}
		})
	}
}
