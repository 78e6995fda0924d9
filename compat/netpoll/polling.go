package netpoll

import (
	"errors"
	"os"
	"runtime"
	"time"

	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/uringnet/uringnet/internal/goroutine"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// maxWait bounds every wait, so that a wake-up lost anywhere delays Polling, never hangs it.
const maxWait = time.Second

// errPollingTwice is Polling's answer on a Poller whose ring another Polling owns.
var errPollingTwice = errors.New("netpoll: Polling is already running on this Poller")

// poll is Polling on the ring: each iteration submits the iteration's changes and re-arms
// and waits, in one io_uring_enter; then reports each ready descriptor once through
// dispatch, and runs the task queues when Trigger woke it. It returns what gnet's Polling
// returns: the error of a callback or task that is ErrAcceptSocket or ErrEngineShutdown, or
// the ring's failure (unix.EBADF once the Poller is closed).
func (p *Poller) poll(dispatch func(*readyEvent) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := p.startPolling()
	if err != nil {
		return err
	}
	defer p.stopPolling(r)
	cqes := make([]poller.CQE, 256)
	deferred := false // the task queues were held back an iteration for a change
	busy := false     // the last iteration reported descriptors: the next looks without waiting
	for {
		if p.closing.Load() {
			return unix.EBADF // Close ended it: said by whoever closed it, so not logged
		}
		p.mu.Lock()
		err := p.submitChanges(r)
		p.nudged = false
		p.mu.Unlock()
		if err == nil {
			err = p.enter(r, busy)
		}
		if err != nil {
			logging.Errorf("error occurs in io_uring: %v", err)
			return err
		}

		p.iter++
		p.ready = p.ready[:0]
		doChores := p.choresNext
		p.choresNext = false
		p.mu.Lock()
		for n := r.ReapCompletions(cqes); n > 0; n = r.ReapCompletions(cqes) {
			for i := range cqes[:n] {
				p.complete(&cqes[i])
			}
		}
		foreignChange := p.nudged
		p.mu.Unlock()
		doChores = doChores || p.choresNext
		p.choresNext = false
		// A registration changed by another goroutine after this iteration's submission takes
		// effect in the next one. epoll_ctl takes effect at once, so a task triggered after
		// such a change must not run before what the change reports: the tasks wait one
		// iteration, which does not wait (once: a stream of changes does not hold them off).
		if doChores && foreignChange && !deferred {
			doChores, p.choresNext, deferred = false, true, true
		} else {
			deferred = false
		}

		busy = len(p.ready) > 0
		for i := range p.ready {
			err := dispatch(&p.ready[i])
			if errors.Is(err, gerrors.ErrAcceptSocket) || errors.Is(err, gerrors.ErrEngineShutdown) {
				return err
			}
		}
		if doChores {
			if err := p.runTasks(); err != nil {
				return err
			}
		}
	}
}

// enter submits the iteration's entries and waits for a completion, unless the task queues
// are to run now. After an iteration that reported descriptors (busy) it looks first without
// waiting, and if nothing has come, lets the other goroutines run before it waits, as gnet's
// epoll loop does (epoll_wait with no timeout after a batch, then runtime.Gosched): under a
// steady load the next batch has often come by then (as completion work the kernel defers to
// this thread: TaskrunPending), and the loop's thread does not sleep and wake for it. On a
// thread of its own the yield costs thread switches, but fewer than the sleeps it saves
// (docs/engine.md, "netpoll").
func (p *Poller) enter(r *poller.Ring, busy bool) error {
	if p.choresNext || busy {
		if _, err := r.SubmitAndPoll(); err != nil || p.choresNext || r.CQReady() > 0 {
			return err
		}
		runtime.Gosched()
		if r.TaskrunPending() {
			_, err := r.SubmitAndPoll()
			return err
		}
	}
	p.waits++
	if _, err := r.SubmitAndWaitTimeout(1, maxWait); err != poller.ErrTimedOut {
		return err
	}
	return nil
}

// closedError is the answer of a Polling called on a closed Poller: gnet's epoll_wait fails
// with EBADF, logs it and returns it.
func closedError() error {
	logging.Errorf("error occurs in epoll: %v", os.NewSyscallError("epoll_wait", unix.EBADF))
	return unix.EBADF
}

// startPolling makes the calling goroutine (locked to its thread) the ring's owner: it
// enables the ring, so that this thread is its only issuer, and publishes its descriptor for
// the wakers. Every registration is armed in the first iteration, and the task queues run
// there if Trigger was called since they last ran.
func (p *Poller) startPolling() (*poller.Ring, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, closedError()
	}
	if p.polling {
		p.mu.Unlock()
		return nil, errPollingTwice
	}
	p.polling = true
	r := p.ring
	p.ring = nil
	p.mu.Unlock()

	err := r.Enable()
	if err == nil {
		err = r.RegisterRingFd()
	}
	if err != nil {
		r.Close()
		p.mu.Lock()
		p.polling = false
		p.mu.Unlock()
		logging.Errorf("error occurs in io_uring: %v", err)
		return nil, err
	}
	p.mu.Lock()
	p.ringFd = r.Fd()
	p.gid.Store(goroutine.ID())
	p.table.rearmAll()
	p.mu.Unlock()
	p.choresNext = p.wakeupCall.Load() == 1
	return r, nil
}

// stopPolling gives the ring up: no waker reaches it from here on, and it is closed on its
// owner's thread (the kernel cancels its polls). A Poller not closed gets a fresh ring for the
// next Polling.
func (p *Poller) stopPolling(r *poller.Ring) {
	p.submits, p.interrupts = p.submits+r.Submits(), p.interrupts+r.Interrupts()
	p.mu.Lock()
	p.ringFd = -1
	p.gid.Store(0)
	p.mu.Unlock()
	if err := r.Close(); err != nil {
		logging.Errorf("netpoll: close the ring: %v", err)
	}
	next, err := newRing()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polling = false
	switch {
	case p.closed:
		if next != nil {
			next.Close()
		}
	case err != nil:
		logging.Errorf("netpoll: set up a ring for the next Polling: %v", err)
	default:
		p.ring = next
	}
}

// runTasks runs the task queues as gnet's Polling does: every urgent task, then at most
// MaxAsyncTasksAtOneTime low-priority ones; a task that returns ErrEngineShutdown ends
// Polling with it. Tasks left make the next iteration run the queues again.
func (p *Poller) runTasks() error {
	for task := p.urgent.Dequeue(); task != nil; task = p.urgent.Dequeue() {
		if err := task.Exec(task.Param); errors.Is(err, gerrors.ErrEngineShutdown) {
			return err
		}
		queue.PutTask(task)
	}
	for i := 0; i < MaxAsyncTasksAtOneTime; i++ {
		task := p.low.Dequeue()
		if task == nil {
			break
		}
		if err := task.Exec(task.Param); errors.Is(err, gerrors.ErrEngineShutdown) {
			return err
		}
		queue.PutTask(task)
	}
	p.wakeupCall.Store(0)
	if (!p.low.IsEmpty() || !p.urgent.IsEmpty()) && p.wakeupCall.CompareAndSwap(0, 1) {
		p.choresNext = true
	}
	return nil
}
