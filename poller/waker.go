package poller

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Waker posts completions to rings from goroutines that own no ring: a ring's owner waiting in
// io_uring_enter wakes up to the completion. Where the kernel has the synchronous message
// (CapSyncMsgRing, Linux 6.13) it is SendMsgRingSync, with no ring and no lock; below that, a
// small messenger ring of the Waker's own, shared under a mutex, sends an ordinary MSG_RING on
// the caller's behalf and waits for it. Callers that wake once per batch of work, not per piece
// of it, keep the mutex cold.
type Waker struct {
	mu        sync.Mutex
	messenger *Ring // nil with the synchronous message
	cqe       [1]CQE
}

// NewWaker picks the synchronous message where f has it, else sets up a messenger ring.
func NewWaker(f Features) (*Waker, error) {
	if f.Has(CapSyncMsgRing) {
		return &Waker{}, nil
	}
	r, err := New(Options{Entries: 4})
	if err != nil {
		return nil, fmt.Errorf("poller: messenger ring: %w", err)
	}
	return &Waker{messenger: r}, nil
}

// Wake posts a completion with userData (Res 0) to the ring whose descriptor is ringFd. The
// target must be enabled and not closed (a recycled descriptor number would send elsewhere).
// The target's failure is an *os.SyscallError, as net's errors are, named after the system call
// that carried it: "io_uring_register" for the synchronous message, "io_uring_enter" for the
// messenger's MSG_RING; neither says the descriptor's number, which means nothing to the
// caller's caller.
func (w *Waker) Wake(ringFd int, userData uint64) error {
	if w.messenger == nil {
		return SendMsgRingSync(ringFd, userData, 0, 0)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sqe, err := w.messenger.GetSQE()
	if err != nil {
		return err
	}
	sqe.PrepMsgRingData(ringFd, userData, 0, 0)
	if _, err := w.messenger.SubmitAndWait(1); err != nil {
		return err
	}
	w.messenger.ReapCompletions(w.cqe[:])
	if w.cqe[0].Res < 0 {
		return os.NewSyscallError("io_uring_enter", unix.Errno(-w.cqe[0].Res))
	}
	return nil
}

// Close releases the messenger ring, if there is one.
func (w *Waker) Close() error {
	if w.messenger == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.messenger.Close()
}

// Kind names how the Waker posts: "sync-msg-ring" or "messenger-ring".
func (w *Waker) Kind() string {
	if w.messenger == nil {
		return "sync-msg-ring"
	}
	return "messenger-ring"
}
