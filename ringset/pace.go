package ringset

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// How a loop enters the kernel from one iteration to the next.
//
// Waiting in io_uring_enter costs far more than the wait itself: the thread sleeps and is woken
// by the peer's send (which pays for the wake-up), Go's scheduler is told of a blocking system
// call, and its monitor, seeing every P in a system call, wakes every 20 µs to take Ps away
// that the loop must then win back. Under load a loop that waits whenever its completion queue
// is momentarily empty pays that for every handful of completions. So a loop paces itself:
//
//   - after a batch that brought news from outside (data, connections, messages; not the
//     completions of its own sends, which come back in the call that submitted them), the
//     next iteration polls: it submits and collects what is ready without waiting;
//   - a poll that finds nothing new yields the CPU once (sched_yield), to whatever else is
//     runnable on it (on a shared machine, often the peer that will send next), and polls
//     again;
//   - only a second poll that finds nothing lets the next iteration wait.
//
// A loop that polls never gives its P to Go's scheduler, so goroutines made runnable on it (a
// worker pool the handler feeds, a net.Conn reader) would wait for the runtime's 10 ms
// preemption; after pollBudget of unbroken polling the loop steps aside for them with
// runtime.Gosched.
type pace struct {
	polling bool      // the next iteration polls rather than waits
	yielded bool      // a poll found nothing and the CPU was yielded since the last news
	since   time.Time // when the loop last gave goroutines a turn, while polling
	// runnable is where the runtime's count of runnable goroutines is read into, and busy its
	// counts of running goroutines and of Ps (kept here: a sample on the stack would escape to
	// the heap at every read).
	runnable [1]metrics.Sample
	busy     [2]metrics.Sample
	// schedPassed is when the loop last went through Go's scheduler before a wait.
	schedPassed time.Time
}

// pollBudget is how long a loop polls before it lets the goroutines waiting for its P run.
const pollBudget = time.Millisecond

// schedulerPassEvery is at most how often a loop with a P of its own goes through Go's
// scheduler before it waits.
//
// Go's monitor (sysmon) takes a goroutine whose P has not been through the scheduler for its
// preemption interval to be running too long: it asks it to stop and, if it is in a system
// call, takes its P there, and after each take it goes back to its shortest sleeps before it
// backs off. A loop that polls and waits in io_uring_enter never goes through the scheduler on
// its own, so the monitor keeps taking its P from its waits and never backs off, waking all the
// while on some CPU (docs/engine.md, "One connection", has the runtime's intervals and the
// measurements). A pass before a wait, well within the preemption interval, keeps the monitor
// asleep; for a goroutine locked to its thread it costs a hand-off of the P and back, as the
// monitor's stop does.
const schedulerPassEvery = 5 * time.Millisecond

// passScheduler goes through Go's scheduler (runtime.Gosched) if the loop last did at least
// schedulerPassEvery before now, and reports whether it did.
func (p *pace) passScheduler(now time.Time) bool {
	if now.Sub(p.schedPassed) < schedulerPassEvery {
		return false
	}
	p.schedPassed = now
	runtime.Gosched()
	return true
}

// step is what a loop does between two iterations.
type step uint8

const (
	stepNone    step = iota // carry on
	stepYield               // sched_yield, then poll again
	stepGosched             // runtime.Gosched, then poll again
)

// after records whether the batch just handled brought news and says what to do before the
// next iteration.
func (p *pace) after(news bool, now time.Time) step {
	switch {
	case news:
		if !p.polling {
			p.polling, p.since = true, now
		}
		p.yielded = false
		if now.Sub(p.since) >= pollBudget {
			p.since = now
			return stepGosched
		}
	case p.polling && !p.yielded:
		p.yielded = true
		return stepYield
	default:
		p.polling, p.yielded = false, false
	}
	return stepNone
}

// take carries out s.
func (p *pace) take(s step) {
	switch s {
	case stepYield:
		// Raw: sched_yield does not block, and Go's scheduler need not hear of it.
		unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	case stepGosched:
		if p.goroutinesWaiting() {
			runtime.Gosched()
		}
	}
}

// runnableMetric counts goroutines ready to run but not running (Go 1.26); with an older
// runtime it reads as unsupported and the loop steps aside every time.
const runnableMetric = "/sched/goroutines/runnable:goroutines"

// goroutinesWaiting reports whether any goroutine is waiting for a P, or, where the runtime
// cannot say, assumes one is. Stepping aside costs a hand-off of the P and back (the loop's
// goroutine is locked to its thread), worth paying only for someone.
func (p *pace) goroutinesWaiting() bool {
	n, known := p.runnableGoroutines()
	return !known || n > 0
}

// goroutinesQueued reports whether goroutines are known to be waiting for a P; false where the
// runtime cannot say.
func (p *pace) goroutinesQueued() bool {
	n, known := p.runnableGoroutines()
	return known && n > 0
}

// runnableGoroutines is the runtime's count of goroutines ready to run but not running, and
// whether the runtime keeps it.
func (p *pace) runnableGoroutines() (n uint64, known bool) {
	p.runnable[0].Name = runnableMetric
	metrics.Read(p.runnable[:])
	v := p.runnable[0].Value
	if v.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return v.Uint64(), true
}

// allPsBusy reports whether every P runs a goroutine, the caller's among them: then no P is
// idle to ask the netpoller before the goroutines it runs have run out. False where the runtime
// cannot say (before Go 1.26).
func (p *pace) allPsBusy() bool {
	p.busy[0].Name, p.busy[1].Name = runningMetric, procsMetric
	metrics.Read(p.busy[:])
	running, procs := p.busy[0].Value, p.busy[1].Value
	if running.Kind() != metrics.KindUint64 || procs.Kind() != metrics.KindUint64 {
		return false
	}
	return running.Uint64() >= procs.Uint64()
}

const (
	runningMetric = "/sched/goroutines/running:goroutines"
	procsMetric   = "/sched/gomaxprocs:threads"
)

// isNews reports whether a completion came from outside the loop: anything but the completion
// of one of its own sends.
func isNews(userData uint64) bool {
	k, _, _ := splitUserData(userData)
	return k != opSend && k != opSendTo
}

// serving counts the process's loops that are serving, in every set; busyLoops those of them
// with work of their own to wait for: a connection, or a datagram socket.
var serving, busyLoops atomic.Int32

// sharesPs reports whether the loop waits as one that shares the Ps with other loops: the
// process runs more loops than it has Ps (it was started on fewer CPUs than it runs loops, or
// with a small GOMAXPROCS), and either this loop has no work of its own, or more loops have
// than there are Ps. A loop with nothing to serve gives its P up as it waits, so that the
// loops with connections, as long as they are no more than the Ps, wait as loops with a P of
// their own do: a gnet program asking for a loop per CPU in a container whose CPU quota is
// below the host's CPU count runs more loops than Ps, most of them idle while it has few
// connections.
func (l *loop) sharesPs() bool {
	procs := int32(runtime.GOMAXPROCS(0))
	return serving.Load() > procs && (!l.countedBusy || busyLoops.Load() > procs)
}

// countBusy counts the loop in busyLoops, or no longer.
func (l *loop) countBusy(busy bool) {
	if busy == l.countedBusy {
		return
	}
	l.countedBusy = busy
	if busy {
		busyLoops.Add(1)
	} else {
		busyLoops.Add(-1)
	}
}

// handOffAfter is how long a thread that shares the Ps waits holding its own before it hands
// it over.
const handOffAfter = 50 * time.Microsecond

// wait submits and waits for a completion, for at most d.
//
// A thread waiting in a system call keeps its P until Go's monitor takes it, and the monitor
// looks only at ticks of its own, which grow long after a quiet spell. With a P per loop nobody
// needs it meanwhile. With fewer Ps than loops, another loop back from its wait with work
// cannot run until then: one loop's connections were served at once while the
// other's waited for milliseconds. So a loop that shares the Ps with others that serve waits
// as waitSharingP does.
//
// A loop whose work runs on goroutines (NeverPoll) shares the Ps with them however many loops
// there are: an idle loop waits up to maxWait, and on one processor every goroutine of the
// program waited for the monitor each time it did, for milliseconds every second. It also
// gives its P up at once when the wait will block and goroutines are waiting for a P: those it
// has just woken are on its own P's queue, where, on one processor, they would wait for the
// monitor while the CPU idles. It parks its goroutine for them (park.go), or else hands the P
// over as it waits in the kernel. The runtime counts the waiting goroutines of every P, not of
// this one (Go 1.26 and later: on an older runtime the count is unknown), so with every P busy
// the hand-off can start a thread that finds nothing to steal.
//
// A loop with nothing of its own to serve, among more loops than Ps, hands its P over as soon
// as it waits, unless the wait submits work or a dial or adoption is under way, whose
// completions come at once: otherwise nothing will come soon, and a P it held would keep a
// busy loop back from its wait, or wait for the monitor to take it. The busy loops, as long as
// they are no more than the Ps, then hold theirs through their waits, as loops with a P each
// do; so, as there, the acceptor, an idle loop woken (a tick, a connection passed to it) and
// the program's goroutines wait for a P until a busy loop passes the scheduler or polls for
// pollBudget, or the monitor takes a P from a wait, every time they need one, not once.
//
// A loop with a P of its own (sharesPs false) goes through the scheduler before a wait when
// that is due (passScheduler), and only before a wait that has nothing to submit and nothing
// ready, so that the pass delays no send and no completion. A loop that shares the Ps does
// not: a pass hands the P to another loop, which keeps it through its polling and its waits
// shorter than handOffAfter, while the loop that passed waits for the monitor to take the P
// back (docs/engine.md, "One connection").
func (l *loop) wait(d time.Duration) error {
	neverPoll := l.set.cfg.NeverPoll
	l.countBusy(l.open > 0 || l.udp != nil)
	nudged := l.takeNudge()
	if neverPoll && d > 0 && (nudged || l.ring.CQReady() == 0) && l.pace.goroutinesQueued() {
		if l.parking != nil {
			return l.park(d, nudged)
		}
		return waitHandingOff(l.ring, d, &l.handOffs)
	}
	if neverPoll {
		return waitSharingP(l.ring, d, &l.sharedHandOffs)
	}
	switch {
	case !l.sharesPs():
		if l.ring.SQPending() == 0 && l.ring.CQReady() == 0 && l.pace.passScheduler(time.Now()) {
			l.schedPasses.Add(1)
		}
		_, err := l.ring.SubmitAndWaitTimeout(1, d)
		return err
	case !l.countedBusy && d > handOffAfter && l.ring.SQPending() == 0 && !l.hasPending():
		return waitHandingOff(l.ring, d, &l.idleHandOffs)
	}
	return waitSharingP(l.ring, d, &l.sharedHandOffs)
}

// waitSharingP submits and waits for a completion on r, for at most d, as a thread that shares
// the Ps with others' work (a loop's, the goroutines'). Handing the P over as every wait begins
// (what the runtime does for calls it knows will block) wakes a thread to look for work each
// time, which costs more CPU than the requests served in between; keeping it, the others wait
// for the monitor. So the thread waits a short while holding its P, long enough for most waits
// under load, and hands it over only for the rest: a wait that comes back empty submitted
// everything, so the second call only waits. handOffs counts the hand-offs.
func waitSharingP(r *poller.Ring, d time.Duration, handOffs *atomic.Int64) error {
	if d <= handOffAfter {
		_, err := r.SubmitAndWaitTimeout(1, d)
		return err
	}
	_, err := r.SubmitAndWaitTimeout(1, handOffAfter)
	if err != poller.ErrTimedOut || r.CQReady() > 0 {
		return err
	}
	return waitHandingOff(r, d-handOffAfter, handOffs)
}

// waitHandingOff submits and waits on r, for at most d, with the thread's P given to the
// runtime as the call begins.
func waitHandingOff(r *poller.Ring, d time.Duration, handOffs *atomic.Int64) error {
	handOffs.Add(1)
	r.HandOffWhileWaiting(true)
	_, err := r.SubmitAndWaitTimeout(1, d)
	r.HandOffWhileWaiting(false)
	return err
}
