package ringset

import (
	"errors"
	"fmt"
	"log"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// The acceptor takes connections with accepts into direct descriptors of its own ring and
// passes each to the loop the balancer picks with MSG_RING (IORING_MSG_SEND_FD into a slot the
// target allocates), linked to the close of its own copy, so a connection costs the acceptor
// three SQEs (the accept armed again, the pass, the close) and two completions (the accept's,
// the close's). An accept that finds the table full has already taken its connection from the
// listener's backlog, and the kernel closes it: so the acceptor arms no more accepts than its
// table has slots free, counting those whose connection's close has not completed (a pass
// waits for the target loop's thread to take it, which a busy machine can delay while
// connections keep arriving), and leaves the rest of a burst in the backlog. The accepts are
// single-shot, each with its own address storage, because a multishot accept into direct
// descriptors does not report the peer's address, and a loop would otherwise have to look it
// up (install a regular descriptor, ask, close it: a second io_uring_enter for every
// connection). The address goes to the loop beside the descriptor (handedPeers).
type acceptor struct {
	set      *Set
	listenFd int
	ring     *poller.Ring
	fd       int // a duplicate of the ring's descriptor, for wake-ups (see setup)
	stop     atomic.Bool
	next     uint64 // round-robin position
	cqes     []poller.CQE
	slots    uint32
	armed    int    // accepts in flight
	occupied int    // slots holding a connection whose close has not completed
	epoch    uint32 // the accepts' generation, which an audit renews
	// hold holds the accepts back after one failed for want of resources.
	hold backoff
	exit chan struct{} // closed when the acceptor's goroutine is done
	// handOffs counts the waits that gave the acceptor's P to the runtime (waitSharingP).
	handOffs atomic.Int64
	// addrs is the accepts' address storage; handed carries each passed connection's peer
	// address to its loop.
	addrs  acceptAddrs
	handed handedPeers
}

// acceptsInFlight is how many single-shot accepts the acceptor keeps armed.
const acceptsInFlight = 32

const listenerSlot = 0

func (a *acceptor) run(ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := a.setup(); err != nil {
		close(a.exit)
		ready <- err
		return
	}
	ready <- nil
	<-a.set.begin // OnBoot first
	defer close(a.exit)
	defer func() {
		if r := recover(); r != nil {
			a.set.fail(fmt.Errorf("ringset: acceptor: %v", r))
			a.ring.Close()
		}
	}()
	a.armAccepts()
	for !a.stop.Load() {
		if !a.hold.holding() {
			a.armAccepts()
		}
		// A thread beside the loops, whose waits are long between connections: it holds no P
		// for long while it waits, or the loops back from theirs with work could not run.
		err := waitSharingP(a.ring, a.hold.bound(maxWait), &a.handOffs)
		if f := a.set.cfg.acceptorFaults; f != nil {
			err = f.enterError(err)
		}
		n := a.reap()
		switch {
		case err == nil, err == poller.ErrTimedOut:
		case errors.Is(err, poller.ErrCompletionsDropped):
			a.audit()
		case transient(err):
			failureLog.printf("uringnet: acceptor: %v; retrying", err)
			if n == 0 {
				time.Sleep(time.Millisecond) // nothing to do meanwhile; not a spin
			}
		default:
			a.set.fail(fmt.Errorf("ringset: acceptor: %w", err))
			a.release()
			return
		}
	}
	a.release()
}

// audit re-arms the acceptor's accepts after the kernel dropped completions: an accept whose
// completion was lost would never be armed again. Every accept in flight is cancelled and a
// fresh set armed, of a new epoch: the old ones' completions (a connection accepted just
// before, or the cancel) are handled, but not armed again. A lost close would hold its slot
// in the count for good, so the count starts again from nothing, and the closes of
// connections counted before (their tag is of the old epoch) are not taken off it: until
// those complete, the acceptor may arm an accept the table has no slot for (its connection
// refused, as when every loop is full), where holding a slot that is free would stop it
// accepting.
func (a *acceptor) audit() {
	if a.epoch == 0 {
		log.Printf("uringnet: acceptor: the kernel dropped completions (no memory for its overflow backlog); its accepts are armed afresh")
	}
	a.epoch = (a.epoch + 1) & (genMask >> 1)
	s := a.sqe()
	s.PrepCancelFixedFd(listenerSlot, poller.CancelAll)
	s.SetFlags(poller.FlagCQESkipSuccess)
	s.SetUserData(recordUserData(opCancel, listenerSlot))
	a.armed, a.occupied = 0, 0
	a.armAccepts()
}

// reap dispatches the completions that are ready and returns how many there were.
func (a *acceptor) reap() int {
	n := a.ring.ReapCompletions(a.cqes)
	if f := a.set.cfg.acceptorFaults; f != nil {
		n = f.deliver(a.cqes, n)
	}
	for i := range a.cqes[:n] {
		a.dispatch(&a.cqes[i])
	}
	return n
}

// release ends the acceptor's ring. Its accepts are cancelled and waited for, and its table
// dropped, before the ring is closed: the kernel tears a closed ring down in the background, and
// the listener must be closed (its address free again) once the set has stopped. Closing the
// table also closes any connection accepted but not yet passed.
func (a *acceptor) release() {
	if a.armed > 0 {
		s := a.sqe()
		s.PrepCancelFixedFd(listenerSlot, poller.CancelAll)
		s.SetFlags(poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opCancel, listenerSlot))
	}
	for deadline := time.Now().Add(maxWait); a.armed > 0 && time.Now().Before(deadline); {
		if _, err := a.ring.SubmitAndWaitTimeout(1, maxWait); err != nil && err != poller.ErrTimedOut {
			break
		}
		a.reap()
	}
	if a.armed == 0 {
		if err := a.ring.UnregisterFiles(); err != nil {
			log.Printf("uringnet: acceptor: %v", err)
		}
	}
	if err := a.ring.Close(); err != nil {
		log.Printf("uringnet: acceptor: %v", err)
	}
}

// The acceptor's ring: its submissions are accepts and hand-offs, few per iteration; its
// completion queue takes bursts of them, accepts and the closes of passed connections. Its
// table holds the listener and each connection accepted until the close that follows its pass
// completes.
const (
	acceptorSQEntries = 256
	acceptorCQEntries = 16 * acceptorSQEntries
	acceptorSlots     = 1024
)

func (a *acceptor) setup() error {
	r, err := poller.NewLoopRing(acceptorSQEntries, acceptorCQEntries)
	if err != nil {
		return fmt.Errorf("ringset: acceptor: %w", err)
	}
	a.slots = acceptorSlots
	if a.set.cfg.acceptorTable != 0 {
		a.slots = a.set.cfg.acceptorTable
	}
	err = r.RegisterSparseFiles(a.slots)
	if err == nil {
		err = r.SetFileAllocRange(listenerSlot+1, a.slots-1)
	}
	if err == nil {
		if a.set.direct {
			a.set.addr, a.listenFd, err = listenDirect(r, &a.set.cfg, a.set.cfg.Address, false)
		} else {
			_, err = r.UpdateFiles(listenerSlot, []int32{int32(a.listenFd)})
		}
	}
	if err == nil {
		// Stop's wake-up may be sent after the acceptor has ended and closed its ring; the set
		// closes this duplicate only once the acceptor has exited (Set.release), so the wake-up
		// never meets a closed descriptor, or another file that took its number.
		a.fd, err = fdbridge.DupFd(r.Fd())
	}
	if err != nil {
		r.Close()
		return fmt.Errorf("ringset: acceptor: %w", err)
	}
	a.ring = r
	a.cqes = make([]poller.CQE, 4096)
	return nil
}

// armAccepts arms accepts up to acceptsInFlight, as many as the table has slots free for.
func (a *acceptor) armAccepts() {
	for !a.stopped() && a.armed < acceptsInFlight && a.freeSlots() > 0 {
		i := a.addrs.take()
		prepAcceptWithAddr(a.sqe(), a.addrs.entry(i), acceptUserData(a.epoch, true, i))
		a.armed++
	}
}

// freeSlots is how many of the table's connection slots no connection holds and no armed
// accept may take.
func (a *acceptor) freeSlots() int { return int(a.slots) - 1 - a.occupied - a.armed }

// stopped reports whether the acceptor is to accept no more: it is stopping, or its set is.
func (a *acceptor) stopped() bool { return a.stop.Load() || a.set.stopping.Load() }

// wake ends the acceptor's current wait so that it sees stop.
func (a *acceptor) wake() error { return a.set.waker.wake(a.fd) }

// prepAcceptWithAddr arms a single-shot accept into a direct descriptor on the listener slot,
// the peer's address to be written into p, for the acceptor and for a loop accepting on its
// own listener (ReusePort).
func prepAcceptWithAddr(s *poller.SQE, p *peerAddr, userData uint64) {
	p.len = uint32(unix.SizeofSockaddrAny)
	s.PrepAcceptDirect(listenerSlot, &p.sa, &p.len, 0, poller.AllocSlot)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(userData)
}

func (a *acceptor) sqe() *poller.SQE {
	s, err := a.ring.GetSQE()
	if err != nil {
		panic(fmt.Errorf("ringset: acceptor: %w", err))
	}
	return s
}

func (a *acceptor) dispatch(c *poller.CQE) {
	kind, gen, slot := splitUserData(c.UserData)
	switch kind {
	case opAccept:
		epoch, _ := splitAccept(gen)
		if epoch == a.epoch {
			a.armed-- // armed again at the top of the loop
		}
		if c.Res >= 0 {
			a.occupied++
			peer := a.addrs.entry(slot).tcpAddr()
			a.handed.publish(uint32(c.Res), peer)
			var target *loop
			if a.set.cfg.Balancer == SourceAddrHash {
				target = a.pickByAddr(peer)
			} else {
				target = a.set.pick(&a.next)
			}
			a.handOff(uint32(c.Res), target, 0, epochTag(a.epoch))
		} else {
			logAcceptError(unix.Errno(-c.Res), a.stopped())
			a.hold.hold(unix.Errno(-c.Res))
		}
		a.addrs.give(slot)
	case opHandOff:
		// The target refused the descriptor (its table is full, or it is gone); the linked close
		// of our copy was cancelled with it, so the connection is still ours: the next loop
		// gets it.
		target, tried, tag := splitHandOff(gen)
		failed := a.set.loops[target]
		failed.inbound.Add(-1)
		a.handOff(slot, a.set.loops[(failed.idx+1)%len(a.set.loops)], tried+1, tag)
	case opHandOffClose:
		switch {
		case c.Res == -int32(unix.ECANCELED): // the pass failed: the connection is still ours
		case c.Res < 0:
			log.Printf("uringnet: acceptor: closing a passed connection: %v", unix.Errno(-c.Res))
			fallthrough
		default:
			if gen == epochTag(a.epoch) { // one counted before an audit is not counted now
				a.occupied--
			}
		}
	}
}

// logAcceptError reports an accept error. The accept is armed again, after a hold when the
// error is running out of descriptors, slots or memory, which is temporary.
func logAcceptError(errno unix.Errno, stopping bool) {
	switch errno {
	case unix.ECANCELED:
	case unix.ENFILE, unix.EMFILE, unix.ENOBUFS, unix.ENOMEM:
		failureLog.printf("uringnet: accept: %v; connection refused, accepting again shortly", errno)
	default:
		if !stopping {
			log.Printf("uringnet: accept: %v", errno)
		}
	}
}

// pickByAddr is gnet's source-address hash: crc32 of the peer's "ip:port" string.
func (a *acceptor) pickByAddr(peer *net.TCPAddr) *loop {
	if peer == nil { // a unix socket's peer has no address: every such connection hashes alike
		return a.set.loops[0]
	}
	return a.set.loopByAddr(peer.String())
}

// handOff passes the connection in slot to target, or, when target's table is full or target
// has stopped, to the next loop with room; tried is how many loops were tried before. When every
// loop is full the connection is refused (closed): the process serves as many connections as its
// tables hold.
func (a *acceptor) handOff(slot uint32, target *loop, tried int, tag uint32) {
	loops := a.set.loops
	for ; tried < len(loops) && (target.stopped.Load() || !target.hasRoom()); tried++ {
		target = loops[(target.idx+1)%len(loops)]
	}
	if tried >= len(loops) {
		failureLog.printf("uringnet: every loop's table is full (%d connections each): connection refused", a.set.cfg.MaxConnsPerLoop)
		a.closeSlot(a.sqe(), slot, tag)
		return
	}
	target.inbound.Add(1)
	// The pass's tag says the loop and the number of loops tried, to undo inbound and try the
	// next loop if the pass fails; the close of our copy completes (see closeSlot), or is
	// cancelled with a pass that failed.
	if err := prepPass(a.ring, target.fd, slot, userData(opNewConn, a.handed.seqOf(slot), slot), handOffUserData(target.idx, tried, tag, slot),
		userData(opHandOffClose, tag, slot), 0); err != nil {
		panic(fmt.Errorf("ringset: acceptor: %w", err))
	}
}

// closeSlot prepares the close of the acceptor's copy of a connection; its completion
// (opHandOffClose) frees the slot in the count.
func (a *acceptor) closeSlot(s *poller.SQE, slot, tag uint32) {
	s.PrepCloseDirect(slot)
	s.SetUserData(userData(opHandOffClose, tag, slot))
}
