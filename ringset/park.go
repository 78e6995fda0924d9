package ringset

import (
	"encoding/binary"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parking is how a loop whose work runs on goroutines (NeverPoll) waits while goroutines wait
// for a P: its goroutine parks, and Go's netpoller readies it.
//
// Waiting in io_uring_enter instead, with the P handed over as the wait begins, the kernel wakes
// the loop's thread at the first completion; the thread finds the P taken by the goroutines the
// loop woke and sleeps again until the scheduler hands the P back to it, which it does when it
// next looks at its global queue (every 61 goroutines run). Two thread switches are spent for
// nothing in each batch, and batches stay small. Parked, the loop is readied when the netpoller
// is next asked, which the scheduler does once the goroutines run out, or when a writer wakes it
// (Nudge): one thread switch each way, and batches as large as the goroutines make them.
//
// The netpoller learns of the ring's news through an eventfd the kernel signals
// (poller.RegisterEventfd), or the loop itself where that is sooner (park): completion work
// deferred for the loop's thread (DEFER_TASKRUN) does not wake a poller waiting on the ring's
// own descriptor. The kernel's signals are on only while the loop is parked, or its own
// completions would keep signalling. A watcher goroutine waits in the
// netpoller for the eventfd and hands the loop a token; the loop waits for the token or its
// wait's end. Without an eventfd (the descriptor could not be made: the process's limit), a
// loop waits in the kernel having handed its P over (waitHandingOff).
type parking struct {
	efd     *os.File // non-blocking, so that the netpoller serves its reads
	fd      int      // efd's descriptor, for the loop's own signal (efd.Fd would make it blocking)
	raw     syscall.RawConn
	consume func(fd uintptr) bool // reads the eventfd's count; false when there is none yet
	count   [8]byte
	one     [8]byte       // the loop's own signal: 1, as the eventfd's 8-byte count
	token   chan struct{} // the wake-up, one at most
	parked  atomic.Bool   // the loop waits for the token
	nudged  atomic.Bool   // a Nudge handed the token
	sending bool          // the loop was nudged: its next wait sends and parks again (loop only)
	look    atomic.Int64  // the next park's longest wait, a time.Duration (parkLook); atomic for tests
	// lateLooks counts the looks that found news waiting unsignalled while the P idled, and
	// shortLooks the parks that then looked again sooner than parkLook.
	lateLooks, shortLooks atomic.Int64
	timer                 *time.Timer   // the wait's end
	done                  chan struct{} // closed when the watcher has returned
}

// newParking makes l's parking: an eventfd registered with its ring, and the watcher.
func (l *loop) newParking() (*parking, error) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	if err := l.ring.RegisterEventfd(efd); err != nil {
		unix.Close(efd)
		return nil, os.NewSyscallError("io_uring_register", err)
	}
	p := &parking{
		efd: os.NewFile(uintptr(efd), "ring-eventfd"), fd: efd,
		token: make(chan struct{}, 1),
		timer: time.NewTimer(time.Hour),
		done:  make(chan struct{}),
	}
	binary.NativeEndian.PutUint64(p.one[:], 1)
	p.look.Store(int64(parkLook))
	p.timer.Stop()
	if p.raw, err = p.efd.SyscallConn(); err != nil {
		p.efd.Close()
		return nil, err
	}
	p.consume = func(fd uintptr) bool {
		_, err := unix.Read(int(fd), p.count[:])
		return err != unix.EAGAIN
	}
	go p.watch()
	return p, nil
}

// watch hands the loop a token each time the eventfd is signalled, until it is closed.
func (p *parking) watch() {
	defer close(p.done)
	for p.raw.Read(p.consume) == nil {
		p.wake()
	}
}

// wake hands the loop its token; one already there does for both.
func (p *parking) wake() {
	select {
	case p.token <- struct{}{}:
	default:
	}
}

// signalled reports whether a signal is on its way to the loop: a token, or a count the watcher
// has not read yet. A look that finds news waiting before its signal has come this far is not
// early, however short it was: the kernel has not signalled.
func (p *parking) signalled() bool {
	if len(p.token) > 0 {
		return true
	}
	fds := [1]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds[:], 0)
	return n > 0
}

// close ends the watcher and closes the eventfd; after the ring's close, which unregisters it.
func (p *parking) close() {
	p.efd.Close()
	<-p.done
}

// park submits what the iteration prepared and, if nothing is ready, parks the loop's goroutine
// until the ring has news, a writer nudges it (Nudge), or d has passed. It leaves the completion
// work it was woken for to the next iteration's io_uring_enter, which submits that iteration's
// work in the same call. A token left from a wake-up that found the loop running ends the next
// park at once, costing one iteration.
//
// While every P runs a goroutine, the loop signals its eventfd itself as it parks: no P is idle
// to ask the netpoller, so the scheduler asks it next when a P has run out of goroutines, which
// is when the loop should run; waiting for the kernel's signal instead, the processor idles
// until it comes, and it can come late (parkLook). With a P idle, that P would ready the loop
// at once, while the goroutines it woke still wait, so the loop waits for the kernel's signal.
//
// After a nudge (nudged), the loop only submits, and parks again until the goroutines have run:
// the completions waiting would wake more goroutines, which, queued behind those still waiting
// for the P, or past the P's queue into the scheduler's global one, would wait until the P had
// nothing else to run (docs/engine.md has what that cost). It signals its eventfd itself too,
// whatever the Ps do.
func (l *loop) park(d time.Duration, nudged bool) error {
	p := l.parking
	if nudged {
		if _, err := l.ring.Submit(); err != nil {
			return err
		}
	} else if _, err := l.ring.SubmitAndPoll(); err != nil || l.ring.CQReady() > 0 {
		return err
	}
	l.parks.Add(1)
	l.ring.EventfdSignals(!mutedSignals.Load())
	p.parked.Store(true)
	// Signals on first: work deferred from here on is signalled, and work deferred before is
	// seen here.
	sendOnly := false // a look found goroutines still waiting for the P
	if nudged || l.ring.CQReady() == 0 && !l.ring.TaskrunPending() {
		// Only a park that waits signals itself: a count left behind would end the next park.
		if nudged || l.pace.allPsBusy() && !noOwnSignal.Load() {
			unix.Write(p.fd, p.one[:]) // readied when the scheduler next asks the netpoller
		}
		look := time.Duration(p.look.Load())
		if look < parkLook {
			p.shortLooks.Add(1)
		}
		p.timer.Reset(min(d, look))
		late := false
		select {
		case <-p.token:
			// The token can be stale, left by a wake-up that found the loop running: a
			// nudged loop whose goroutines still wait for the P only sends again.
			sendOnly = nudged && l.pace.goroutinesQueued()
		case <-p.timer.C:
			l.parkTimeouts.Add(1)
			queued := l.pace.goroutinesQueued()
			sendOnly = d > look && queued
			late = !queued && (l.ring.CQReady() > 0 || l.ring.TaskrunPending()) && !p.signalled()
		}
		p.timer.Stop()
		if late {
			p.lateLooks.Add(1)
			p.look.Store(int64(parkLookLate))
		} else {
			p.look.Store(int64(min(2*look, parkLook)))
		}
	}
	p.parked.Store(false)
	l.ring.EventfdSignals(false)
	// A look that finds goroutines still waiting for the P sends and parks again, as a nudge.
	p.sending = p.nudged.Swap(false) || sendOnly
	return nil
}

// parkLook bounds a park: the kernel does not always signal the eventfd at once. When it may
// not signal from where the completion work was added, it hands the signal to an RCU callback,
// which runs milliseconds later, and under some loads that is most signals (docs/engine.md);
// meanwhile the loop would sleep with news waiting. So a parked loop looks again this often.
// A look that finds news waiting unsignalled while no goroutine wants the P (the processor
// idled for the signal) has the next park look again after parkLookLate, and each park that
// ends otherwise doubles it, back to parkLook: where most signals come late, a round trip does
// not wait a parkLook or two; where they come at once, parks stay long, and batches as large
// as the goroutines make them. Variables for the tests that tell a wake-up from a look.
var (
	parkLook     = 500 * time.Microsecond
	parkLookLate = 25 * time.Microsecond
)

// takeNudge reports whether the loop's last park ended with a nudge, and forgets it.
func (l *loop) takeNudge() bool {
	if p := l.parking; p != nil && p.sending {
		p.sending = false
		return true
	}
	return false
}

// Nudge wakes loop i now if it is parked waiting for the goroutines it woke (NeverPoll), rather
// than when they have all run: for a user of the set whose goroutines have queued enough work
// for the loop that its peers would otherwise wait for the whole batch. Elsewhere it does
// nothing; a loop waiting in the kernel is woken by Post.
func (s *Set) Nudge(i int) {
	if p := s.loops[i].parking; p != nil && p.parked.Load() {
		p.nudged.Store(true)
		p.wake()
	}
}

// noParking, set by tests, makes new loops wait in the kernel as they do without an eventfd;
// mutedSignals keeps the kernel's signals of the eventfd off through parks, as if they came
// late; noOwnSignal keeps a loop from signalling it itself when every P is busy (nudged loops
// still do), so that a park ends only by what the test makes happen.
var noParking, mutedSignals, noOwnSignal atomic.Bool
