package poller

import (
	"sync/atomic"
	"unsafe"
)

// RegisterEventfd has the kernel signal the eventfd efd (add 1 to its count) as completions are
// posted to the ring and, on a ring set up with SetupDeferTaskrun, as completion work starts
// waiting for the owner to enter the kernel (IORING_REGISTER_EVENTFD). It is the way to wait for
// such a ring in another poller: that deferred work does not wake a poller waiting on the
// ring's own descriptor. Signals start turned off (EventfdSignals); the ring's close unregisters efd,
// which the caller closes.
func (r *Ring) RegisterEventfd(efd int) error {
	if r.closed {
		return ErrClosed
	}
	r.EventfdSignals(false)
	fd := int32(efd)
	_, err := register(r.fd, registerEventfd, unsafe.Pointer(&fd), 1)
	return err
}

// EventfdSignals turns the registered eventfd's signals on or off (IORING_CQ_EVENTFD_DISABLED).
// The switch is a flag the kernel reads as it signals; what it posts or defers while signals
// are off is not signalled later, so a waiter turns them on before its last look at the queue
// (CQReady, TaskrunPending).
func (r *Ring) EventfdSignals(on bool) {
	if r.closed {
		return
	}
	if on {
		atomic.AndUint32(r.cqFlags, ^uint32(cqEventfdDisabled))
	} else {
		atomic.OrUint32(r.cqFlags, cqEventfdDisabled)
	}
}
