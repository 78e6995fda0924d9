package ringset

import (
	"sync"

	"github.com/uringnet/uringnet/poller"
)

// waker posts wake-ups to the set's rings from goroutines that own no ring: the synchronous
// message where the kernel has it, else the messenger ring (poller.Waker). A wake-up and the
// set's release of its rings' descriptors exclude each other: a goroutine that queued a task just
// before its loop exited can send the wake-up after the set has stopped, and it must not reach
// a closed descriptor, or whatever took its number since.
type waker struct {
	w        *poller.Waker
	mu       sync.RWMutex // held to read by each wake-up, to write by release
	released bool
}

func newWaker(f *poller.Features) (*waker, error) {
	w, err := poller.NewWaker(*f)
	if err != nil {
		return nil, err
	}
	return &waker{w: w}, nil
}

// wake posts the loop's wake-up message to the ring ringFd; once the set has released its
// rings there is nothing left to wake, and it sends nothing.
func (w *waker) wake(ringFd int) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.released {
		return nil
	}
	return w.w.Wake(ringFd, recordUserData(opWake, 0))
}

// release waits for the wake-ups under way, makes every later one send nothing, and closes the
// messenger ring; the set closes its rings' descriptors after it.
func (w *waker) release() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released = true
	return w.w.Close()
}

func (w *waker) kind() string { return w.w.Kind() }
