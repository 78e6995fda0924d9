package ringset

import (
	"errors"
	"fmt"
	"log"
	"net"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/internal/goroutine"
	"github.com/uringnet/uringnet/internal/taskq"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// maxWait bounds every wait of a loop: a wake-up lost anywhere can delay a loop by this much at
// most, never hang it.
const maxWait = time.Second

const bufferGroup = 0

// initialReadBuffers is how many of its read buffers a loop hands the kernel at start; the ring
// grows as batches of receives need more (poller.RegisterGrowingBufferRing), so that a loop
// whose receives are few at a time keeps few buffers resident.
const initialReadBuffers = 16

// loop is one event loop: one ring on one locked OS thread, and the connections it serves.
type loop struct {
	idx  int
	set  *Set
	ring *poller.Ring
	bufs *poller.BufferRing
	fd   int // the ring's fd, for MSG_RING and wake-ups from elsewhere
	// listenFd is a regular descriptor for the loop's own listener in ReusePort mode, or its
	// datagram socket (-1 otherwise; the set owns it, see Set.listenFds); the listener itself
	// lives in slot listenerSlot of the loop's table, and connections in the slots after it.
	listenFd  int
	accepting bool // the loop's own accept is armed (ReusePort)
	// acceptAddrs is the address storage of the loop's own accepts, and acceptEntry the entry
	// of the one armed: after dropped completions an accept is armed afresh while the old one's
	// completion may still come (see acceptAddrs).
	acceptAddrs acceptAddrs
	acceptEntry uint32
	// installs counts the regular descriptors installed for connections (InstallFd): each is
	// a wait in io_uring_enter of its own.
	installs atomic.Int64
	// recvCancels counts the cancels of receives whose receiving was turned off; opsCancels
	// those of every operation of a connection closing or moving, and fdCancels those of them
	// made by descriptor.
	recvCancels, opsCancels, fdCancels atomic.Int64
	// handOffs counts the waits that gave the loop's P to the runtime as they began, for the
	// goroutines it woke; sharedHandOffs those that gave it after handOffAfter (pace.go);
	// parks those that parked the loop's goroutine instead (park.go).
	handOffs, sharedHandOffs, parks atomic.Int64
	parkTimeouts                    atomic.Int64 // parks that lasted their whole wait
	schedPasses                     atomic.Int64 // waits that went through Go's scheduler first (pace.go)
	idleHandOffs                    atomic.Int64 // waits with nothing to serve that gave the P up at once (pace.go)
	// parking is how the loop waits while goroutines wait for a P (NeverPoll; nil without).
	parking *parking
	// hold holds the loop's own accept or datagram receive back after it failed.
	hold backoff
	// faults, in tests only, makes the kernel's rare failures happen (faults.go).
	faults *faults
	// dropped: the kernel dropped completions of the loop's (said once, in the log).
	dropped bool
	udp     *udpState     // the loop's own datagram socket (UDP sets only)
	dgrams  datagramSends // the datagrams in flight, from that socket or connected ones
	// noBuffers counts receives that found the buffer ring empty (-ENOBUFS): the ring's growth
	// and the receives' re-arming make them harmless, and the tests show it.
	noBuffers int

	slots uint32       // the size of the loop's table
	conns []*conn.Conn // by slot, as far as slots have been used
	gens  []uint32     // generation of each slot's latest connection
	open  int          // connections in conns
	sendq []*conn.Conn // connections with bytes to send at the end of the batch
	out   conn.OutboundBuffers
	cqes  []poller.CQE
	// deferred holds completions reaped while a callback waited for a descriptor install; they
	// are newer than anything left of the current batch, and older than the next.
	deferred []poller.CQE
	nextTick time.Time
	pace     pace
	// countedBusy: the loop is counted in busyLoops (pace.go).
	countedBusy bool
	// pending are the adoptions and dials in flight (open.go), by the index their completions
	// carry; pendingFree lists the free indexes.
	pending     []*pendingOpen
	pendingFree []uint32
	// moves are the moves this loop started and has not yet passed on (move.go); departing
	// counts the passes whose outcome it has not yet heard.
	moves     map[*conn.Conn]*handoff
	departing int
	// incoming counts connections other loops are passing to this one; -1 once the loop has
	// decided to exit and refuses them.
	incoming atomic.Int32
	// traffic counts the bytes the loop's connections received and sent; trafficSeen and
	// cpuSeen are that count and the loop thread's CPU time when the rebalancer last asked.
	traffic     uint64
	trafficSeen atomic.Uint64
	cpuSeen     atomic.Int64

	tasks   taskq.Queue
	woken   atomic.Bool    // a wake-up is pending for this batch
	stopped atomic.Bool    // the loop has exited; Post fails
	count   atomic.Int64   // connections opened (OnOpen) and not yet reported closed
	inbound atomic.Int64   // connections the acceptor passed that have not arrived yet
	passed  atomic.Int64   // descriptors received from the acceptor by MSG_RING
	closing bool           // shutdown: close everything and exit when empty
	tid     atomic.Int64   // the loop's locked OS thread (for its CPU time)
	gid     atomic.Uintptr // the loop's goroutine (goroutine.ID) while it runs, to recognise calls made on it
	// calls are the connection calls (Call) waiting to run on the loop; callSignal tells a
	// loop that waits for a call of its own that one was made of it meanwhile.
	calls      taskq.Queue
	callSignal chan struct{}
	ringMsgs   atomic.Int64  // wake-ups this loop sent other loops by MSG_RING from its own ring
	exit       chan struct{} // closed when the loop's goroutine has released everything
}

// Index is the loop's position in its set.
func (l *loop) Index() int { return l.idx }

// OnLoopThread reports whether the caller runs on the loop's goroutine (its locked thread).
func (l *loop) OnLoopThread() bool { return l.gid.Load() == goroutine.ID() }

// Post queues f to run on the loop and wakes the loop if no wake-up is pending for its batch.
// Either the loop runs f or, once the loop has stopped, Post returns ErrStopped and f never
// runs. A wake-up that fails is logged, not returned: f is queued and runs within maxWait.
func (l *loop) Post(f func()) error {
	if !l.tasks.Push(f) {
		return ErrStopped
	}
	if !l.woken.Swap(true) {
		l.wake()
	}
	return nil
}

// wake makes the loop run its task queue. From the loop's own thread nothing is needed (it runs
// the queue before it next waits); from another loop it is a MSG_RING queued on the sender's own
// ring and submitted with the sender's next io_uring_enter; from any other goroutine, the
// set's waker (the synchronous message, or the messenger ring).
func (l *loop) wake() {
	id := goroutine.ID()
	if id == l.gid.Load() {
		return // this loop runs the queue before it waits again
	}
	// Only a loop of the same set: the target's ring descriptor stays open until every loop of
	// its set, the sender included, has exited and submitted its last messages.
	if sender := loopOf(id); sender != nil && sender.set == l.set {
		sender.ringMsgs.Add(1)
		s := sender.sqe()
		s.PrepMsgRingData(l.fd, recordUserData(opWake, 0), 0, 0)
		s.SetFlags(poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opWakeSent, uint32(l.idx)))
		return
	}
	if err := l.set.waker.wake(l.fd); err != nil {
		log.Printf("uringnet: wake loop %d: %v", l.idx, err)
	}
}

// runTask runs a queued task; a panic in it is logged and the loop goes on (a task for a
// connection closes that connection itself: conn.Conn's asynchronous calls recover their
// callbacks).
func (l *loop) runTask(f func()) {
	if err := l.set.guard(f); err != nil {
		log.Printf("uringnet: loop %d: task: %v", l.idx, err)
	}
}

// A loop's ring: its submission queue holds what one iteration prepares; the completion queue
// is eight times as large, so that multishot receives and accepts, which complete many times
// per submission, do not overflow it.
const (
	loopSQEntries = 1024
	loopCQEntries = 8 * loopSQEntries
)

// setup creates the ring and its resources on the calling (locked) thread.
func (l *loop) setup() error {
	cfg := &l.set.cfg
	r, err := poller.NewLoopRing(loopSQEntries, loopCQEntries)
	if err != nil {
		return fmt.Errorf("ringset: loop %d: %w", l.idx, err)
	}
	// Slot 0 is kept for a listener (ReusePort mode); connections take the slots after it.
	slots := cfg.MaxConnsPerLoop + 1
	if err := l.setupFiles(r, slots); err != nil {
		r.Close()
		return fmt.Errorf("ringset: loop %d: %w", l.idx, err)
	}
	br, err := r.RegisterGrowingBufferRing(bufferGroup, cfg.ReadBuffers, cfg.ReadBufferSize, initialReadBuffers)
	if err != nil {
		r.Close()
		return fmt.Errorf("ringset: loop %d: %w", l.idx, err)
	}
	// Messages are addressed to a duplicate of the ring's descriptor, kept until the set is
	// released (see Set.release).
	fd, err := fdbridge.DupFd(r.Fd())
	if err != nil {
		br.Close()
		r.Close()
		return fmt.Errorf("ringset: loop %d: duplicate ring fd: %w", l.idx, err)
	}
	l.ring, l.bufs, l.fd = r, br, fd
	if cfg.NeverPoll && !noParking.Load() {
		// Without it (no descriptor to spare), the loop waits in the kernel instead.
		l.parking, _ = l.newParking()
	}
	l.slots = slots
	l.conns = make([]*conn.Conn, min(slots, 64))
	l.gens = make([]uint32, min(slots, 64))
	l.cqes = make([]poller.CQE, loopCQEntries) // one whole completion queue per reap
	return nil
}

// setupFiles registers r's fixed-file table of slots and puts the loop's own listener, if it
// has one, in the listener slot: bound here for a direct listener (ReusePort), or the regular
// descriptor the set made.
func (l *loop) setupFiles(r *poller.Ring, slots uint32) error {
	cfg := &l.set.cfg
	if err := r.RegisterSparseFiles(slots); err != nil {
		return err
	}
	if err := r.SetFileAllocRange(listenerSlot+1, cfg.MaxConnsPerLoop); err != nil {
		return err
	}
	switch {
	case cfg.ReusePort && l.set.direct:
		// Loop 0 binds the configured address; the others join the port it got.
		addr := cfg.Address
		if l.idx > 0 {
			addr = l.set.addr.String()
		}
		a, fd, err := listenDirect(r, cfg, addr, true)
		if err != nil {
			return err
		}
		l.listenFd = fd
		if l.idx == 0 {
			l.set.addr = a
		}
	case l.listenFd >= 0:
		_, err := r.UpdateFiles(listenerSlot, []int32{int32(l.listenFd)})
		return err
	}
	return nil
}

// run is the loop's goroutine. ready receives the setup error (nil once serving).
func (l *loop) run(ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The thread id identifies this loop only while the goroutine holds the thread: it is
	// forgotten before the thread is unlocked and can host other goroutines.
	l.tid.Store(int64(unix.Gettid()))
	defer l.tid.Store(0)
	l.gid.Store(goroutine.ID())
	running.Store(l.gid.Load(), l)
	defer func() {
		running.Delete(l.gid.Load())
		l.gid.Store(0)
	}()
	if err := l.setup(); err != nil {
		l.abandon()
		ready <- err
		return
	}
	ready <- nil
	<-l.set.begin // OnBoot first
	serving.Add(1)
	defer l.teardown() // which un-counts the loop
	// A panic here is not a handler's (those are recovered where they are called): the ring
	// itself failed. The set stops with the error; teardown closes the ring, and with it every
	// direct descriptor, so no socket leaks.
	defer func() {
		if r := recover(); r != nil {
			log.Printf("uringnet: loop %d: %v\n%s", l.idx, r, debug.Stack())
			l.set.fail(fmt.Errorf("ringset: loop %d: %v", l.idx, r))
		}
	}()
	if l.idx == 0 && l.set.cfg.Ticker {
		l.nextTick = time.Now()
	}
	switch {
	case l.udp != nil:
		l.armRecvFrom()
	case l.set.cfg.ReusePort:
		l.armAccept() // the loop's own listener, born direct or placed in its table
	}
	for l.iterate() {
	}
}

// iterate is one turn of the loop: it runs what other goroutines queued, prepares the sends
// and re-arms the batch produced, submits them and waits for completions in one
// io_uring_enter, and dispatches what came. It reports false when the loop has shut down.
func (l *loop) iterate() bool {
	l.woken.Store(false)
	l.tasks.RunAll(l.runTask)
	l.runCalls()
	l.dispatchDeferred()
	if l.closing && l.open == 0 && l.departing == 0 && !l.listening() && l.closeIncoming() {
		return false
	}
	l.tick()
	l.flushSends()
	if l.hold.due() {
		l.rearm()
	}
	wait := l.hold.bound(maxWait)
	if !l.nextTick.IsZero() {
		wait = min(wait, max(time.Until(l.nextTick), 0))
	}
	err := l.enter(wait)
	n := l.reap()
	dropped := l.enterFailed(err, n)
	news := false
	for i := range l.cqes[:n] {
		news = news || isNews(l.cqes[i].UserData)
		l.dispatch(&l.cqes[i])
	}
	l.dispatchDeferred()
	l.bufs.Publish()
	if dropped {
		l.audit()
	}
	if !l.set.cfg.NeverPoll {
		l.pace.take(l.pace.after(news, time.Now()))
	}
	return true
}

// enterFailed deals with io_uring_enter's error, n completions having been reaped after it,
// and reports whether the kernel dropped completions (the loop audits after this batch: what
// the batch brings was not lost).
func (l *loop) enterFailed(err error, n int) (dropped bool) {
	switch {
	case err == nil, err == poller.ErrTimedOut:
	case errors.Is(err, poller.ErrCompletionsDropped):
		return true
	case transient(err):
		// The kernel is short of memory or of room for completions, for now: what was not
		// submitted stays queued, and the completions reaped below make room.
		failureLog.printf("uringnet: loop %d: %v; retrying", l.idx, err)
		if n == 0 {
			time.Sleep(time.Millisecond) // nothing to do meanwhile; not a spin
		}
	default:
		l.set.fail(fmt.Errorf("ringset: loop %d: %w", l.idx, err))
		l.beginShutdown()
	}
	return false
}

// abandon ends a loop that never served (its setup failed, or the set gave up before running
// it): Post refuses from now on and the loop counts as exited. Nothing can have been queued for
// a loop that was never announced, so the queue is dropped unrun.
func (l *loop) abandon() {
	l.stopped.Store(true)
	l.tasks.Close(func(func()) {})
	l.calls.Close(func(func()) {})
	close(l.exit)
}

// teardown runs when the loop exits: every connection is closed by then.
func (l *loop) teardown() {
	l.stopped.Store(true)
	l.tasks.Close(l.runTask) // from here on Post refuses; what was queued runs now
	l.calls.Close(l.runTask)
	l.ring.Submit() // wake-ups those tasks queued for other loops go out
	// The table's references to its sockets (the loop's listener or datagram socket among
	// them) are dropped now, synchronously: the kernel tears a closed ring down in the
	// background, and an address must be free again once the set has stopped. Not with an
	// adoption or dial still in flight, which holds a reference the drop would wait for.
	if !l.hasPending() {
		if err := l.ring.UnregisterFiles(); err != nil {
			log.Printf("uringnet: loop %d: %v", l.idx, err)
		}
	}
	l.failPending()
	if err := l.bufs.Close(); err != nil {
		log.Printf("uringnet: loop %d: %v", l.idx, err)
	}
	if err := l.ring.Close(); err != nil {
		log.Printf("uringnet: loop %d: %v", l.idx, err)
	}
	if l.parking != nil {
		l.parking.close()
	}
	// Not counted once Wait returns: a set started next must not see this one's loops.
	l.countBusy(false)
	serving.Add(-1)
	close(l.exit)
}

// dispatchDeferred dispatches the completions stashed by descriptor installs, in order,
// including any stashed while doing so.
func (l *loop) dispatchDeferred() {
	for i := 0; i < len(l.deferred); i++ {
		c := l.deferred[i]
		l.dispatch(&c)
	}
	l.deferred = l.deferred[:0]
}

// InstallFd returns a new regular descriptor for c (FIXED_FD_INSTALL), synchronously; only on
// the loop's goroutine.
func (l *loop) InstallFd(c *conn.Conn) (int, error) {
	l.installs.Add(1)
	return fdbridge.Install(l.ring, c.Slot, connUserData(opInstall, c), l.stash)
}

func (l *loop) stash(c poller.CQE) { l.deferred = append(l.deferred, c) }

func (l *loop) dispatch(c *poller.CQE) {
	kind, gen, slot := splitUserData(c.UserData)
	switch kind {
	case opWake:
		// The task queue runs at the top of the next iteration.
	case opWakeSent:
		// A wake-up this loop sent failed (the target stopped); its task queue refuses from
		// now on, so nothing waits for it.
		log.Printf("uringnet: loop %d: wake loop %d: %v", l.idx, slot, unix.Errno(-c.Res))
	case opInstall:
		// InstallFd consumes its own completion; one seen here outlived a failed wait, and its
		// descriptor would leak.
		if c.Res >= 0 {
			unix.Close(int(c.Res))
		}
	case opNewConn:
		l.passed.Add(1)
		l.inbound.Add(-1)
		l.openConn(c.Res, l.set.acc.handed.take(slot, gen))
	case opAdopt:
		l.onAdopt(slot, c.Res)
	case opDialSocket:
		l.onDialSocket(slot, c.Res)
	case opDialOption:
		l.onDialOption(slot, c.Res) // a failure (success is silent); the connect reports it
	case opDialConnect:
		l.onDialConnect(slot, c.Res)
	case opDialAux:
	case opAuditOwn:
		l.onAuditOwn(opKind(slot), c.Res)
	case opMoveIn:
		l.onMoveIn(slot, c.Res)
	case opMoveOut:
		l.onMoveOut(slot, c.Res)
	case opMoveClose:
		l.onMoveClose(slot, c.Res)
	case opCloseOrphan:
		log.Printf("uringnet: loop %d: close slot %d: %v", l.idx, slot, unix.Errno(-c.Res))
	case opAccept:
		l.onAccept(c, slot)
	case opRecvFrom:
		l.onRecvFrom(c)
	case opSendTo:
		l.onSendTo(c, slot)
	case opRecv:
		l.onRecv(l.lookup(slot, gen), c)
	case opSend:
		l.onSend(l.lookup(slot, gen), c)
	case opCancel:
		if cn := l.lookup(slot, gen); cn != nil {
			l.onCancel(cn, c.Res)
		}
	case opCancelIdle:
		if cn := l.lookup(slot, gen); cn != nil {
			l.onCancel(cn, foundOne(c.Res))
		}
	case opRecvCancel:
		if cn := l.lookup(slot, gen); cn != nil {
			l.onRecvCancel(cn, c.Res)
		}
	case opAuditFlush:
		if cn := l.lookup(slot, gen); cn != nil {
			l.onAuditFlush(cn, c.Res)
		}
	case opClose:
		if cn := l.lookup(slot, gen); cn != nil {
			l.finishClose(cn, c.Res)
		}
	default:
		l.set.fail(fmt.Errorf("ringset: loop %d: completion with unknown user data %#x", l.idx, c.UserData))
	}
}

// lookup returns the connection a completion is for, or nil when the completion is stale.
func (l *loop) lookup(slot, gen uint32) *conn.Conn {
	if int(slot) >= len(l.conns) {
		return nil
	}
	c := l.conns[slot]
	if c == nil || c.Gen != gen {
		return nil
	}
	return c
}

// sqe returns an entry to fill; the ring submits to make room when full, so failing here means
// the ring itself is broken, which stops the set.
func (l *loop) sqe() *poller.SQE {
	s, err := l.ring.GetSQE()
	if err != nil {
		panic(fmt.Errorf("ringset: loop %d: %w", l.idx, err))
	}
	return s
}

func (l *loop) tick() {
	if l.nextTick.IsZero() || time.Now().Before(l.nextTick) {
		return
	}
	var delay time.Duration
	var action Action
	if err := l.set.guard(func() { delay, action = l.set.handler.OnTick() }); err != nil {
		l.set.fail(err) // a panic outside any connection stops the set
		action = Shutdown
	}
	if action == Shutdown {
		// No tick follows a Shutdown: the set's shutdown runs on a goroutine of its own and
		// may reach the loop a delay or more later, on a loaded machine.
		l.set.Stop()
		l.nextTick = time.Time{}
		return
	}
	if delay <= 0 {
		delay = time.Second
	}
	l.nextTick = time.Now().Add(delay)
}

// beginShutdown closes every connection; the loop exits once they are all closed.
func (l *loop) beginShutdown() {
	if l.closing {
		return
	}
	l.closing = true
	if l.udp != nil && l.udp.armed {
		s := l.sqe()
		s.PrepCancel(recordUserData(opRecvFrom, 0), 0)
		s.SetFlags(poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opCancel, listenerSlot))
	}
	if l.accepting {
		s := l.sqe()
		s.PrepCancel(l.ownAcceptUserData(), 0)
		s.SetFlags(poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opCancel, listenerSlot))
	}
	for _, c := range l.conns {
		if c != nil {
			l.CloseConn(c, nil)
		}
	}
}

// armAccept arms the loop's accept on its own listener (ReusePort mode). It is single-shot, for
// the peer's address (see acceptor), and armed again as it completes: one connection an
// iteration.
func (l *loop) armAccept() {
	l.acceptEntry = l.acceptAddrs.take()
	prepAcceptWithAddr(l.sqe(), l.acceptAddrs.entry(l.acceptEntry), l.ownAcceptUserData())
	l.accepting = true
}

// ownAcceptUserData tags the loop's own accept armed now; its slot bits carry its address
// entry.
func (l *loop) ownAcceptUserData() uint64 { return acceptUserData(0, true, l.acceptEntry) }

// onAccept serves a connection the loop accepted itself (ReusePort mode), its address in
// entry. Only the completion of the accept armed now arms the next; one of an accept armed
// before an audit (its completion late, from the kernel's overflow list) is served, and ends
// there.
func (l *loop) onAccept(c *poller.CQE, entry uint32) {
	var peer *net.TCPAddr
	if c.Res >= 0 {
		peer = l.acceptAddrs.entry(entry).tcpAddr()
	}
	l.acceptAddrs.give(entry)
	current := l.accepting && entry == l.acceptEntry
	if current {
		l.accepting = false
	}
	held := false
	if c.Res >= 0 {
		l.serveConn(uint32(c.Res), nil, false, peer)
	} else {
		logAcceptError(unix.Errno(-c.Res), l.closing || l.set.stopping.Load())
		held = current && l.hold.hold(unix.Errno(-c.Res))
	}
	if current && !l.accepting && !held {
		l.rearm()
	}
}

// rearm arms the loop's own accept, or datagram receive, again, unless it is shutting down.
func (l *loop) rearm() {
	switch {
	case l.closing || l.set.stopping.Load():
	case l.udp != nil:
		l.armRecvFrom()
	default:
		l.armAccept()
	}
}

// listening reports whether the loop's own accept or datagram receive is still in flight (a
// shutdown cancels it; the loop exits once it has ended).
func (l *loop) listening() bool { return l.accepting || (l.udp != nil && l.udp.armed) }

// hasRoom reports whether the loop's table may take another connection (by its count; the
// kernel has the last word, refusing a descriptor passed to a full table).
func (l *loop) hasRoom() bool { return l.load() < int64(l.set.cfg.MaxConnsPerLoop) }

// load is what the least-connections balancer compares: the connections the loop serves and
// those on their way to it.
func (l *loop) load() int64 { return l.count.Load() + l.inbound.Load() }
