package poller

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrUnavailable is matched (with errors.Is) by every error that means io_uring cannot serve
// this process: the kernel lacks it, a seccomp profile or kernel.io_uring_disabled refuses it,
// the memlock limit is too low, or a feature uringnet needs is missing. Callers fall back on it.
var ErrUnavailable = errors.New("io_uring unavailable")

// ErrClosed is returned by every method of a Ring or BufferRing used after Close.
var ErrClosed = errors.New("poller: ring closed")

// ErrTimedOut is returned by SubmitAndWaitTimeout when the timeout passed before the
// requested number of completions arrived. It is a plain value so that a loop whose timer
// fires every iteration does not allocate.
var ErrTimedOut = errors.New("poller: wait timed out")

// ErrCompletionsDropped is returned by a submit-and-wait when the kernel had to drop completions:
// the CQ was full and no memory could be had for its overflow backlog. Which operations lost
// theirs is not said; the ring goes on working.
var ErrCompletionsDropped = errors.New("poller: the kernel dropped completions")

// ErrSQFull is returned by GetSQE when the submission queue stays full after submitting:
// the kernel did not consume any entry (it refused the submission).
var ErrSQFull = errors.New("poller: submission queue full")

// UnavailableError says why io_uring cannot be used. It matches ErrUnavailable.
type UnavailableError struct {
	Op  string // what was attempted: "setup", "probe", …
	Err error  // the errno or the missing feature
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("poller: io_uring unavailable: %s: %v", e.Op, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// setupError classifies an io_uring_setup failure: the errnos that mean "not here" (the syscall
// does not exist, is forbidden by seccomp or sysctl, or the rings cannot be locked in memory)
// become an UnavailableError; anything else is a bug or bad options and stays a plain error.
func setupError(errno unix.Errno) error {
	switch errno {
	case unix.ENOSYS, unix.EPERM, unix.EACCES, unix.ENOMEM:
		return &UnavailableError{Op: "setup", Err: errno}
	}
	return fmt.Errorf("poller: io_uring_setup: %w", errno)
}
