package ringset

import (
	"github.com/uringnet/uringnet/poller"
)

// waker posts wake-ups to the set's rings from goroutines that own no ring: the synchronous
// message where the kernel has it, else the messenger ring (poller.Waker).
type waker struct{ *poller.Waker }

func newWaker(f *poller.Features) (waker, error) {
	w, err := poller.NewWaker(*f)
	return waker{w}, err
}

// wake posts the loop's wake-up message to the ring ringFd.
func (w waker) wake(ringFd int) error { return w.Wake(ringFd, recordUserData(opWake, 0)) }
func (w waker) close() error          { return w.Close() }
func (w waker) kind() string          { return w.Kind() }
