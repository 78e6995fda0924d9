package poller

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An eventfd registered with a loop's ring (DEFER_TASKRUN) is signalled when a receive's
// completion work starts waiting for the owner; while signals are off it is not.
func TestEventfdSignalsDeferredWorkWhileOn(t *testing.T) {
	r := loopRing(t, 8)
	fds := socketPair(t)
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventfd(efd); err != nil {
		t.Fatalf("RegisterEventfd: %v", err)
	}
	signalled := func(wait time.Duration) bool {
		p := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
		n, _ := unix.Poll(p, int(wait/time.Millisecond))
		if n > 0 {
			var b [8]byte
			unix.Read(efd, b[:])
		}
		return n > 0
	}
	arm := func(ud uint64, b []byte) {
		prep(t, r, ud, func(s *SQE) { s.PrepRecv(int32(fds[0]), b, 0) })
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
	}
	var b [16]byte

	// Off (as registered): the receive's work waits for the owner, unsignalled.
	arm(1, b[:])
	unix.Write(fds[1], []byte("one"))
	for deadline := time.Now().Add(5 * time.Second); !r.TaskrunPending(); {
		if time.Now().After(deadline) {
			t.Fatal("the receive's completion work was never deferred to the owner")
		}
		time.Sleep(time.Millisecond)
	}
	if signalled(20 * time.Millisecond) {
		t.Error("the eventfd was signalled while signals were off")
	}
	waitCQE(t, r, 1)

	// On: the next receive's deferred work signals it.
	r.EventfdSignals(true)
	arm(2, b[:])
	unix.Write(fds[1], []byte("two"))
	if !signalled(5 * time.Second) {
		t.Fatal("deferred completion work did not signal the eventfd while signals were on")
	}
	if !r.TaskrunPending() {
		t.Error("signalled, yet no completion work waits for the owner")
	}
	if c := waitCQE(t, r, 2); c.Res != 3 {
		t.Errorf("receive: res %d, want 3", c.Res)
	}
}
