package netpoll

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2/pkg/logging"
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/uringnet/uringnet/internal/goroutine"
	"github.com/uringnet/uringnet/poller"
	"github.com/uringnet/uringnet/ringset"
	"golang.org/x/sys/unix"
)

// Poller watches registered descriptors and runs tasks on the goroutine in Polling. On
// io_uring it is a ring of its own; where io_uring cannot serve it is gnet's epoll Poller.
type Poller struct {
	epoll *gnetpoll.Poller // the fallback; nil on io_uring

	// Trigger's tasks, as gnet queues them, and whether a wake-up is pending for them.
	urgent, low queue.AsyncTaskQueue
	wakeupCall  atomic.Int32

	waker *poller.Waker

	// mu guards the registrations, the ring's descriptor while a Polling owns it, and the
	// Poller's state; Polling takes it twice per iteration, never per event.
	mu      sync.Mutex
	table   table
	ring    *poller.Ring // set up, not yet enabled, between Pollings
	ringFd  int          // the enabled ring's descriptor while Polling runs, else -1
	polling bool
	closed  bool
	nudged  bool // a change from another goroutine has woken the ring since its last re-arm

	closing atomic.Bool    // closed, for Polling to see without the lock
	gid     atomic.Uintptr // the polling goroutine

	// Owned by the polling goroutine.
	iter       uint64 // iterations of Polling, over all its calls
	submits    uint64 // io_uring_enter calls that submitted, over the rings of Polling's past calls
	interrupts uint64 // and those a signal interrupted (each retried)
	waits      uint64 // io_uring_enter calls that asked to wait for a completion, over all its calls
	ready      []readyEvent
	choresNext bool // run the task queues in the next iteration, without waiting
}

// ringEntries and ringCQEntries size a Poller's ring: a level-triggered descriptor re-arms
// once per report, so an iteration can submit one entry per busy descriptor.
const (
	ringEntries   = 1024
	ringCQEntries = 4 * ringEntries
)

// required are the capabilities a Poller's ring needs.
var required = []poller.Capability{
	poller.CapSingleIssuer, poller.CapDeferTaskrun, poller.CapRegisteredRing, poller.CapExtArg, poller.CapMsgRing,
}

// OpenPoller makes a Poller: on io_uring where it can serve, else gnet's epoll Poller (saying
// why once).
func OpenPoller() (*Poller, error) { return openPoller(nil) }

// openPoller is OpenPoller assuming the kernel has f (nil: probe it), which is how tests
// force the fallback and the substitutes.
func openPoller(f *poller.Features) (*Poller, error) {
	if f == nil {
		probed, err := poller.Probe()
		if err != nil {
			return openEpoll(err)
		}
		f = &probed
	}
	if err := ringset.AvailableFor(f, required...); err != nil {
		return openEpoll(err)
	}
	r, err := newRing()
	if err != nil {
		return openEpoll(err)
	}
	w, err := poller.NewWaker(*f)
	if err != nil {
		r.Close()
		return openEpoll(err)
	}
	return &Poller{urgent: queue.NewLockFreeQueue(), low: queue.NewLockFreeQueue(), waker: w, ring: r, ringFd: -1}, nil
}

// newRing sets up a Poller's ring, disabled: the goroutine that calls Polling enables it and
// becomes its only issuer.
func newRing() (*poller.Ring, error) {
	return poller.New(poller.Options{Entries: ringEntries, CQEntries: ringCQEntries, Flags: poller.LoopRingFlags})
}

// Close closes the Poller. Tasks still queued never run, as with gnet; a Polling that is
// waiting returns. A second Close reports what closing a closed descriptor does.
func (p *Poller) Close() error {
	if p.epoll != nil {
		return p.epoll.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return os.NewSyscallError("close", unix.EBADF)
	}
	p.closed = true
	p.closing.Store(true)
	if p.ringFd >= 0 {
		p.wakeRing(kindNudge) // Polling closes its ring as it returns
	} else if p.ring != nil {
		p.ring.Close()
		p.ring = nil
	}
	return p.waker.Close()
}

// Trigger queues fn(param) to run on the polling goroutine and wakes it if no wake-up is
// pending. High-priority tasks go to the urgent queue; so do low-priority ones until it holds
// MaxPollEventsCap tasks, after which they wait in their own queue, of which Polling runs at
// most MaxAsyncTasksAtOneTime per iteration. On a closed Poller it returns the error of
// gnet's eventfd write, when it would have written.
func (p *Poller) Trigger(priority queue.EventPriority, fn queue.Func, param any) error {
	if p.epoll != nil {
		return p.epoll.Trigger(priority, fn, param)
	}
	task := queue.GetTask()
	task.Exec, task.Param = fn, param
	if priority > queue.HighPriority && p.urgent.Length() >= MaxPollEventsCap {
		p.low.Enqueue(task)
	} else {
		p.urgent.Enqueue(task)
	}
	if !p.wakeupCall.CompareAndSwap(0, 1) {
		return nil
	}
	if p.gid.Load() == goroutine.ID() {
		p.choresNext = true // from a callback or a task: the next iteration runs the queues
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return os.NewSyscallError("write", unix.EBADF)
	}
	return p.wakeRing(kindWake)
}

// wakeRing posts a wake-up of kind to the ring of a running Polling; with none running, the
// next Polling finds the tasks itself. The caller holds mu.
func (p *Poller) wakeRing(kind uint8) error {
	if p.ringFd < 0 {
		return nil
	}
	return p.waker.Wake(p.ringFd, userData(kind, 0, 0))
}

// AddReadWrite registers pa.FD for read and write events.
func (p *Poller) AddReadWrite(pa *PollAttachment, edgeTriggered bool) error {
	if p.epoll != nil {
		return p.epoll.AddReadWrite(pa, edgeTriggered)
	}
	return p.change(func() error { return p.table.add(pa, ReadWriteEvents, edgeTriggered) }, "add")
}

// AddRead registers pa.FD for read events.
func (p *Poller) AddRead(pa *PollAttachment, edgeTriggered bool) error {
	if p.epoll != nil {
		return p.epoll.AddRead(pa, edgeTriggered)
	}
	return p.change(func() error { return p.table.add(pa, ReadEvents, edgeTriggered) }, "add")
}

// AddWrite registers pa.FD for write events.
func (p *Poller) AddWrite(pa *PollAttachment, edgeTriggered bool) error {
	if p.epoll != nil {
		return p.epoll.AddWrite(pa, edgeTriggered)
	}
	return p.change(func() error { return p.table.add(pa, WriteEvents, edgeTriggered) }, "add")
}

// ModRead changes pa.FD's registration to read events.
func (p *Poller) ModRead(pa *PollAttachment, edgeTriggered bool) error {
	if p.epoll != nil {
		return p.epoll.ModRead(pa, edgeTriggered)
	}
	return p.change(func() error { return p.table.mod(pa, ReadEvents, edgeTriggered) }, "mod")
}

// ModReadWrite changes pa.FD's registration to read and write events.
func (p *Poller) ModReadWrite(pa *PollAttachment, edgeTriggered bool) error {
	if p.epoll != nil {
		return p.epoll.ModReadWrite(pa, edgeTriggered)
	}
	return p.change(func() error { return p.table.mod(pa, ReadWriteEvents, edgeTriggered) }, "mod")
}

// Delete removes fd's registration: it is reported no more after the current iteration's
// events, as with epoll.
func (p *Poller) Delete(fd int) error {
	if p.epoll != nil {
		return p.epoll.Delete(fd)
	}
	return p.change(func() error { return p.table.del(fd) }, "del")
}

// change applies one registration change (op names it as epoll_ctl's errors do) and, when it
// comes from another goroutine while Polling waits, wakes the ring once so that it takes
// effect before the next wait, as an epoll_ctl does at once.
func (p *Poller) change(apply func() error, op string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return os.NewSyscallError("epoll_ctl "+op, unix.EBADF)
	}
	if err := apply(); err != nil {
		return err
	}
	if p.ringFd >= 0 && !p.nudged && p.gid.Load() != goroutine.ID() {
		p.nudged = true
		if err := p.wakeRing(kindNudge); err != nil {
			logging.Errorf("netpoll: wake the polling ring for a change: %v", err)
		}
	}
	return nil
}

// Backend names what OpenPoller gives in this process: "io_uring", or "epoll" with the
// reason io_uring cannot serve.
func Backend() (string, error) {
	f, err := poller.Probe()
	if err == nil {
		err = ringset.AvailableFor(&f, required...)
	}
	if err != nil {
		return "epoll", err
	}
	return "io_uring", nil
}
