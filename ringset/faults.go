package ringset

import (
	"errors"
	"time"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// enter submits what the loop prepared and waits for completions (or polls, when pacing says
// so), and reports io_uring_enter's error.
func (l *loop) enter(wait time.Duration) error {
	var err error
	if l.pace.polling {
		_, err = l.ring.SubmitAndPoll()
	} else {
		err = l.wait(wait)
	}
	if l.faults != nil {
		err = l.faults.enterError(err)
	}
	return err
}

// reap takes the ready completions into l.cqes and returns how many there are.
func (l *loop) reap() int {
	n := l.ring.ReapCompletions(l.cqes)
	if l.faults != nil {
		n = l.faults.deliver(l.cqes, n)
	}
	return n
}

// transient reports whether an io_uring_enter error is the kernel's passing want of memory or
// of room for completions, after which the same call succeeds.
func transient(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EBUSY)
}

// faults makes the kernel's rare failures happen to a loop or the acceptor, for the tests that
// show what the set does then: io_uring_enter failing, completions dropped or held back (the
// kernel's own drop, with no memory for its overflow backlog, cannot be caused at will). Nil
// outside those tests.
type faults struct {
	// errs are errors the next calls of enter report, one each, in order.
	errs []error
	// lose, when set, picks completions to lose: dropped from the batch they came in, as the
	// kernel drops them. It may unset itself, in the middle of a batch.
	lose func(c *poller.CQE) bool
	// hold, when set, picks completions to hold back. When it unsets itself, those it held
	// come just before the completion it was looking at: later than the kernel posted them, as
	// from its overflow list, or in another order.
	hold func(c *poller.CQE) bool
	held []poller.CQE
}

func (f *faults) enterError(err error) error {
	if len(f.errs) == 0 {
		return err
	}
	err, f.errs = f.errs[0], f.errs[1:]
	return err
}

// deliver applies lose and hold to the n completions reaped into cqes, and returns how many of
// cqes are to be dispatched; what does not fit in cqes is held for the next batch.
func (f *faults) deliver(cqes []poller.CQE, n int) int {
	in := append([]poller.CQE(nil), cqes[:n]...)
	var out []poller.CQE
	for i := range in {
		c := &in[i]
		if f.lose != nil && f.lose(c) {
			continue
		}
		held := f.hold != nil && f.hold(c)
		if f.hold == nil {
			out = append(out, f.held...)
			f.held = nil
		}
		if held {
			f.held = append(f.held, *c)
		} else {
			out = append(out, *c)
		}
	}
	kept := copy(cqes, out)
	f.held = append(out[kept:], f.held...)
	return kept
}
