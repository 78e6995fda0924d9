package ringset

import (
	"fmt"
	"sync"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// waker posts a wake-up completion to a loop's ring from a goroutine that owns no ring.
type waker interface {
	wake(ringFd int) error
	close() error
	kind() string
}

// newWaker picks the synchronous message where the kernel has it, else the messenger ring.
func newWaker(f *poller.Features) (waker, error) {
	if f.Has(poller.CapSyncMsgRing) {
		return syncWaker{}, nil
	}
	return newMessenger()
}

// syncWaker uses IORING_REGISTER_SEND_MSG_RING (Linux 6.13): no ring, no lock.
type syncWaker struct{}

func (syncWaker) wake(ringFd int) error {
	return poller.SendMsgRingSync(ringFd, userData(opWake, 0, 0), 0, 0)
}
func (syncWaker) close() error { return nil }
func (syncWaker) kind() string { return "sync-msg-ring" }

// messenger is the substitute below Linux 6.13: a plain ring, shared under a mutex, that sends
// an ordinary MSG_RING on the waker's behalf and waits for its own completion. The mutex is
// taken once per wake-up, which the task queue limits to one per loop batch.
type messenger struct {
	mu   sync.Mutex
	ring *poller.Ring
	cqe  [1]poller.CQE
}

func newMessenger() (*messenger, error) {
	r, err := poller.New(poller.Options{Entries: 4})
	if err != nil {
		return nil, fmt.Errorf("ringset: messenger ring: %w", err)
	}
	return &messenger{ring: r}, nil
}

func (m *messenger) wake(ringFd int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sqe, err := m.ring.GetSQE()
	if err != nil {
		return err
	}
	sqe.PrepMsgRingData(ringFd, userData(opWake, 0, 0), 0, 0)
	if _, err := m.ring.SubmitAndWait(1); err != nil {
		return err
	}
	m.ring.ReapCompletions(m.cqe[:])
	if m.cqe[0].Res < 0 {
		return fmt.Errorf("ringset: messenger MSG_RING to ring fd %d: %w", ringFd, unix.Errno(-m.cqe[0].Res))
	}
	return nil
}

func (m *messenger) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ring.Close()
}

func (m *messenger) kind() string { return "messenger-ring" }
