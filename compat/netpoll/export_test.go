package netpoll

import "github.com/uringnet/uringnet/poller"

// OpenPollerWith is OpenPoller on a kernel assumed to have f: how the tests force the
// messenger ring and the fallback on a kernel that has everything.
func OpenPollerWith(f poller.Features) (*Poller, error) { return openPoller(&f) }

// Serving names what serves p: "epoll" (gnet's Poller), or how Trigger wakes its ring.
func (p *Poller) Serving() string {
	if p.epoll != nil {
		return "epoll"
	}
	return p.waker.Kind()
}

// Entered reports, once Polling has returned, its iterations, the io_uring_enter calls that
// submitted entries and those a signal interrupted, over all its calls.
func (p *Poller) Entered() (iterations, submits, interrupts uint64) {
	return p.iter, p.submits, p.interrupts
}

// Waited reports, once Polling has returned, its iterations and the io_uring_enter calls that
// asked to wait for a completion, over all its calls.
func (p *Poller) Waited() (iterations, waits uint64) { return p.iter, p.waits }
