package poller

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GetSQE returns the next free submission queue entry, cleared. When the queue is full it
// submits what is queued to make room; if the kernel still consumes nothing it returns an
// error rather than an entry that would overwrite one not yet submitted.
func (r *Ring) GetSQE() (*SQE, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if _, err := r.Submit(); err != nil {
			return nil, fmt.Errorf("poller: get SQE from a full queue: %w", err)
		}
		if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
			return nil, ErrSQFull
		}
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*sqe = SQE{}
	return sqe, nil
}

// SQPending reports how many entries have been handed out but not yet consumed by the kernel.
func (r *Ring) SQPending() uint32 {
	if r.closed {
		return 0
	}
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// flushSQ publishes the handed-out entries to the kernel and returns how many it has not
// consumed yet.
func (r *Ring) flushSQ() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// Submit passes the queued entries to the kernel without waiting and returns how many it
// consumed. On a SetupDeferTaskrun ring, completions are posted only when the owner waits:
// use SubmitAndWait(0) to submit and collect what is ready without blocking.
func (r *Ring) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n := r.flushSQ()
	if n == 0 {
		return 0, nil
	}
	return r.enter(n, 0, 0, false)
}

// SubmitAndWait submits the queued entries and blocks until at least minComplete completions
// are in the completion queue. minComplete 0 submits and runs pending completion work without
// blocking. It returns how many entries the kernel consumed.
func (r *Ring) SubmitAndWait(minComplete uint32) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	return r.enter(r.flushSQ(), minComplete, enterGetEvents, false)
}

// SubmitAndWaitTimeout is SubmitAndWait that gives up after timeout, returning ErrTimedOut
// when nothing was submitted and fewer than minComplete completions arrived. When entries were
// submitted it returns their count and no error even if the wait timed out: the caller reaps
// whatever is there either way.
func (r *Ring) SubmitAndWaitTimeout(minComplete uint32, timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if timeout < 0 {
		timeout = 0
	}
	deadline := time.Now().Add(timeout)
	toSubmit := r.flushSQ()
	for {
		r.waitTs = unix.NsecToTimespec(int64(timeout))
		r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTs)))}
		n, err := r.enter(toSubmit, minComplete, enterGetEvents|enterExtArg, true)
		if err != errInterrupted {
			return n, err
		}
		// A signal (Go's preemption, typically) cut the wait short; nothing was submitted.
		// Wait for what is left of the timeout.
		timeout = time.Until(deadline)
		if timeout <= 0 {
			return 0, ErrTimedOut
		}
	}
}

// errInterrupted reports an EINTR from a timed wait to SubmitAndWaitTimeout, which retries
// with the remaining time; it never leaves the package.
var errInterrupted = errors.New("poller: interrupted")

// enter calls io_uring_enter(2). An EINTR is retried here when the wait has no timeout; a timed
// wait returns errInterrupted so that its caller can shorten the timeout.
func (r *Ring) enter(toSubmit, minComplete, flags uint32, withArg bool) (int, error) {
	var arg unsafe.Pointer
	var argSize uintptr
	if withArg {
		arg, argSize = unsafe.Pointer(&r.waitArg), unsafe.Sizeof(r.waitArg)
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), uintptr(minComplete),
			uintptr(flags|r.enterFlags), uintptr(arg), argSize)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			if withArg {
				return 0, errInterrupted
			}
			continue
		case unix.ETIME:
			return 0, ErrTimedOut
		}
		return 0, fmt.Errorf("poller: io_uring_enter (submit %d, wait %d): %w", toSubmit, minComplete, errno)
	}
}
