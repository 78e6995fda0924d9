package poller

import (
	"sync/atomic"
)

// CQE is a completion queue entry (struct io_uring_cqe).
type CQE struct {
	UserData uint64 // the SQE's user data
	Res      int32  // the result: a count or descriptor, or a negated errno
	Flags    uint32 // CQEF* flags; the upper 16 bits hold a buffer id with CQEFBuffer
}

// More reports whether the operation (a multishot one, or SEND_ZC) will post further
// completions. A multishot completion without it must be re-armed.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

// BufferID returns the provided buffer the kernel picked for this completion, if it picked one.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// Notif reports whether this is SEND_ZC's notification that the kernel is done with the buffer.
func (c *CQE) Notif() bool { return c.Flags&CQEFNotif != 0 }

// ReapCompletions copies up to len(dst) completions into dst, advances the queue's head once
// for all of them, and returns how many it copied. When the queue is empty but completions
// overflowed into the kernel's backlog, it flushes them into the queue first.
func (r *Ring) ReapCompletions(dst []CQE) int {
	if r.closed {
		return 0
	}
	n := r.copyCompletions(dst)
	if n < len(dst) && r.CQOverflowPending() {
		if r.FlushCQOverflow() == nil {
			n += r.copyCompletions(dst[n:])
		}
	}
	return n
}

// copyCompletions is ReapCompletions without the overflow flush.
func (r *Ring) copyCompletions(dst []CQE) int {
	head := atomic.LoadUint32(r.cqHead)
	ready := atomic.LoadUint32(r.cqTail) - head
	n := min(uint32(len(dst)), ready)
	for i := uint32(0); i < n; i++ {
		dst[i] = r.cqes[(head+i)&r.cqMask]
	}
	atomic.StoreUint32(r.cqHead, head+n)
	return int(n)
}

// CQReady reports how many completions are waiting in the completion queue.
func (r *Ring) CQReady() uint32 {
	if r.closed {
		return 0
	}
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// CQOverflowPending reports whether completions did not fit in the completion queue and wait in
// the kernel's overflow backlog. Nothing is lost while the kernel has FEAT_NODROP (5.5+);
// reaping and then FlushCQOverflow (or any wait) moves them into the queue.
func (r *Ring) CQOverflowPending() bool {
	if r.closed {
		return false
	}
	return atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0
}

// TaskrunPending reports, on a ring set up with SetupTaskrunFlag, that completion work is
// waiting for the owner to enter the kernel.
func (r *Ring) TaskrunPending() bool {
	if r.closed {
		return false
	}
	return atomic.LoadUint32(r.sqFlags)&sqTaskrun != 0
}

// FlushCQOverflow asks the kernel to move overflowed completions into the completion queue
// (as far as there is room) without submitting or waiting.
func (r *Ring) FlushCQOverflow() error {
	if r.closed {
		return ErrClosed
	}
	_, err := r.enterNoWait(0, enterGetEvents)
	return err
}

// DroppedCompletions reports how many completions the kernel could not keep at all (its
// overflow backlog could not be allocated). It is 0 unless memory ran out.
func (r *Ring) DroppedCompletions() uint32 {
	if r.closed {
		return 0
	}
	return atomic.LoadUint32(r.cqOverflow)
}
