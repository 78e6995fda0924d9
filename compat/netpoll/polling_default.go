//go:build !poll_opt

package netpoll

// Polling runs the poller on the calling goroutine until a callback or task ends it: it
// waits for events on the registered descriptors and calls callback with each ready
// descriptor and its events, once per iteration, then runs the tasks Trigger queued. It
// returns, as gnet's does, when callback returns errors.ErrAcceptSocket or
// errors.ErrEngineShutdown (other errors are ignored), when a task returns
// errors.ErrEngineShutdown, or when the poller fails (unix.EBADF once closed). The goroutine
// is locked to its OS thread for the call.
func (p *Poller) Polling(callback PollEventHandler) error {
	if p.epoll != nil {
		return p.epoll.Polling(callback)
	}
	return p.poll(func(ev *readyEvent) error { return callback(ev.fd, ev.events, 0) })
}
