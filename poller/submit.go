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
// error rather than an entry that would overwrite one not yet submitted. It never submits in
// the middle of a chain (after an entry with FlagIOLink or FlagIOHardlink), which would cut
// the chain: it returns ErrSQFull instead. Use Reserve before building a chain.
func (r *Ring) GetSQE() (*SQE, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if err := r.makeRoom(1); err != nil {
			return nil, fmt.Errorf("poller: get SQE from a full queue: %w", err)
		}
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*sqe = SQE{}
	return sqe, nil
}

// Reserve makes sure the next n GetSQE calls find room without submitting, so that a chain of
// up to n linked entries goes to the kernel whole. It submits what is queued if it must.
func (r *Ring) Reserve(n uint32) error {
	if r.closed {
		return ErrClosed
	}
	if n > r.sqEntries {
		return fmt.Errorf("poller: reserve %d SQEs in a queue of %d", n, r.sqEntries)
	}
	if r.sqEntries-(r.sqeTail-atomic.LoadUint32(r.sqHead)) >= n {
		return nil
	}
	return r.makeRoom(n)
}

// makeRoom submits so that n entries are free, unless that would cut a chain.
func (r *Ring) makeRoom(n uint32) error {
	if r.sqeTail != atomic.LoadUint32(r.sqHead) {
		last := &r.sqes[(r.sqeTail-1)&r.sqMask]
		if SQEFlags(last.flags)&(FlagIOLink|FlagIOHardlink) != 0 {
			return fmt.Errorf("%w: submitting now would cut a linked chain (Reserve room for it first)", ErrSQFull)
		}
	}
	if _, err := r.Submit(); err != nil {
		return err
	}
	if r.sqEntries-(r.sqeTail-atomic.LoadUint32(r.sqHead)) < n {
		return ErrSQFull
	}
	return nil
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
	return r.enterNoWait(n, 0)
}

// SubmitAndPoll submits the queued entries and makes the completions that are ready visible,
// without waiting: on a SetupDeferTaskrun ring it runs the completion work queued for the
// owner (received data becomes receive completions here). It returns how many entries the
// kernel consumed.
//
// Nothing in it blocks, so it enters the kernel as a raw system call that the Go scheduler is
// not told of. A submission can take tens of microseconds (each send copies into its socket
// and, on loopback, delivers to the peer there and then); as an ordinary system call that is
// long enough for the runtime's monitor to take the thread's P away and hand it elsewhere, and
// the thread then has to win a P back before it can run Go code again.
//
// A signal that interrupts it before anything was submitted is not an error: the entries stay
// queued for the next call.
func (r *Ring) SubmitAndPoll() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n, err := r.enterRaw(r.flushSQ(), enterGetEvents)
	if err == errInterrupted {
		return 0, nil
	}
	return n, err
}

// Interrupts counts the waits a signal interrupted (and that were resumed).
func (r *Ring) Interrupts() uint64 { return r.interrupts }

// Submits counts the io_uring_enter calls that passed entries to the kernel: how a loop's test
// checks that an iteration's submissions go in one call.
func (r *Ring) Submits() uint64 { return r.submits }

// enterNoWait calls io_uring_enter without waiting, retrying if a signal interrupts it.
func (r *Ring) enterNoWait(toSubmit, flags uint32) (int, error) {
	for {
		n, err := r.enter(toSubmit, 0, flags, false)
		if err != errInterrupted {
			return n, err
		}
	}
}

// SubmitAndWait submits the queued entries and blocks until at least minComplete completions
// are in the completion queue. minComplete 0 submits and runs pending completion work without
// blocking. It returns how many entries the kernel consumed.
func (r *Ring) SubmitAndWait(minComplete uint32) (int, error) {
	return r.submitAndWait(minComplete, false, 0)
}

// SubmitAndWaitTimeout is SubmitAndWait that gives up after timeout. It returns ErrTimedOut
// (with the number of entries submitted) when fewer than minComplete completions are ready at
// the end; the caller reaps whatever is there either way.
func (r *Ring) SubmitAndWaitTimeout(minComplete uint32, timeout time.Duration) (int, error) {
	return r.submitAndWait(minComplete, true, max(timeout, 0))
}

// submitAndWait enters the kernel until minComplete completions are ready, the timeout passes,
// or an error other than a signal occurs. A signal (Go's preemption, typically) can end the
// kernel's wait after it consumed the SQEs, in which case io_uring_enter reports the count and
// no error: so readiness is judged by the completion queue, never by the return value.
func (r *Ring) submitAndWait(minComplete uint32, timed bool, timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	var deadline time.Time
	flags := uint32(enterGetEvents)
	if timed {
		deadline = time.Now().Add(timeout)
		flags |= enterExtArg
	}
	submitted := 0
	for {
		if timed {
			r.waitTs = unix.NsecToTimespec(int64(timeout))
			r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTs)))}
		}
		n, err := r.enter(r.flushSQ(), minComplete, flags, timed)
		submitted += n
		switch {
		case err == ErrTimedOut:
			return submitted, ErrTimedOut
		case err != nil && err != errInterrupted:
			return submitted, err
		case r.CQReady() >= minComplete:
			return submitted, nil
		}
		if timed {
			if timeout = time.Until(deadline); timeout <= 0 {
				return submitted, ErrTimedOut
			}
		}
	}
}

// errInterrupted reports an EINTR from io_uring_enter to submitAndWait, which decides whether
// to wait again; it never leaves the package.
var errInterrupted = errors.New("poller: interrupted")

// enter calls io_uring_enter(2) once (again only when a signal interrupts it before it waits).
func (r *Ring) enter(toSubmit, minComplete, flags uint32, withArg bool) (int, error) {
	var arg unsafe.Pointer
	var argSize uintptr
	if withArg {
		arg, argSize = unsafe.Pointer(&r.waitArg), unsafe.Sizeof(r.waitArg)
	}
	var n uintptr
	var errno unix.Errno
	if minComplete > 0 && r.handOff {
		n, _, errno = blockingSyscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), uintptr(minComplete),
			uintptr(flags|r.enterFlags), uintptr(arg), argSize)
	} else {
		n, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), uintptr(minComplete),
			uintptr(flags|r.enterFlags), uintptr(arg), argSize)
	}
	return r.entered(n, errno, toSubmit, minComplete)
}

// enterRaw is enter for a call that does not wait (no minimum, no argument), made without
// telling the Go scheduler (see SubmitAndPoll).
func (r *Ring) enterRaw(toSubmit, flags uint32) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, r.enterFd, uintptr(toSubmit), 0,
		uintptr(flags|r.enterFlags), 0, 0)
	return r.entered(n, errno, toSubmit, 0)
}

// entered turns io_uring_enter's result into enter's.
func (r *Ring) entered(n uintptr, errno unix.Errno, toSubmit, minComplete uint32) (int, error) {
	if toSubmit > 0 {
		r.submits++
	}
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR:
		r.interrupts++
		return 0, errInterrupted
	case unix.ETIME:
		return 0, ErrTimedOut
	case unix.EBADR:
		// The kernel had to drop completions (its overflow backlog could not be allocated). It
		// says so to a call that submits nothing, and then forgets: until then every wait ends
		// at once (so submitAndWait's next round, which submits nothing, hears of it).
		return 0, ErrCompletionsDropped
	}
	return 0, fmt.Errorf("poller: io_uring_enter (submit %d, wait %d): %w", toSubmit, minComplete, errno)
}
