package ringset

import (
	"errors"
	"fmt"
	"log"
	"net"
	"sync"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// Moving a live connection to another loop:
//
//  1. On the source loop, the connection's receive and any send in flight are cancelled
//     (ASYNC_CANCEL by its fixed descriptor, all of them) and their completions awaited. Bytes
//     they deliver meanwhile are handled as usual (OnTraffic runs on the source); a send cut
//     short leaves its unsent bytes pending. No new receive or send starts.
//  2. The source passes the direct descriptor to the target with MSG_RING (IORING_MSG_SEND_FD
//     into a slot the target allocates), linked to the close of its own slot. The connection's
//     state (buffered input and output, context, cached descriptor and addresses) is the
//     conn.Conn itself, handed over through the set's handoff table under a mutex: the
//     mutex orders everything the source did before the pass before everything the target
//     does after it, so callbacks never run on two loops at once.
//  3. The target's completion carries the new slot: the connection arrives, runs the work
//     posted for it meanwhile, re-arms its receive and sends what is pending.
//
// If the pass fails (the target's table is full, or it is shutting down) the linked close is
// cancelled, the source still holds the descriptor, and the connection goes on there.
//
// A loop that is shutting down waits for the connections it is passing and the ones passed to
// it (see closeIncoming), so no connection is ever left in a ring that nobody serves.

// ErrNotMovable is returned by Move for a set whose Config does not allow moving.
var ErrNotMovable = errors.New("ringset: connections of this set do not move between loops")

// ErrMoving is reported for a move asked for a connection that is already moving.
var ErrMoving = errors.New("ringset: the connection is already moving")

// ErrNoSuchLoop is returned by Move for a loop index outside the set (wrapped, with the index).
var ErrNoSuchLoop = errors.New("ringset: no such loop")

// ErrDatagramMove is returned by Move for a datagram connection: it is served by the loop's
// socket, or its own connected one, and does not move.
var ErrDatagramMove = errors.New("ringset: a datagram does not move")

// ErrForeignConn is reported for a move asked of one set for another set's connection.
var ErrForeignConn = errors.New("ringset: the connection is not this set's")

// handoff is one move in progress.
type handoff struct {
	c    *conn.Conn
	to   *loop
	done func(error)
}

// handoffs hands a moving connection from one loop to another: completions carry a token,
// never a pointer.
type handoffs struct {
	mu   sync.Mutex
	m    map[uint32]*handoff
	next uint32
}

func (t *handoffs) put(h *handoff) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint32]*handoff)
	}
	for {
		t.next++
		if _, used := t.m[t.next]; !used {
			t.m[t.next] = h
			return t.next
		}
	}
}

func (t *handoffs) take(token uint32) *handoff {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[token]
	delete(t.m, token)
	return h
}

// Move moves c, one of the set's connections, to loop to while it serves: the peer notices
// nothing and no byte is lost, duplicated or reordered. Any goroutine may call it. It returns an
// error if the move cannot be asked for at all; otherwise done (if not nil) is called once, on
// loop to with nil when c serves there, or on c's loop with the reason it stayed.
//
// After a move, the connection's synchronous methods (Write, Next, Close, …) belong to its new
// loop; work from elsewhere goes through Exec, AsyncWrite and the like, which follow it.
func (s *Set) Move(c *conn.Conn, to int, done func(error)) error {
	if !s.cfg.Movable {
		return ErrNotMovable
	}
	if to < 0 || to >= len(s.loops) {
		return fmt.Errorf("move to loop %d of %d: %w", to, len(s.loops), ErrNoSuchLoop)
	}
	if c.IsDatagram() {
		return ErrDatagramMove
	}
	target := s.loops[to]
	return c.Exec(func() {
		l, ok := c.Loop().(*loop)
		if !ok || l.set != s {
			l.report(done, ErrForeignConn)
			return
		}
		l.beginMove(c, target, done)
	})
}

// beginMove starts moving c (on its loop) to target.
func (l *loop) beginMove(c *conn.Conn, target *loop, done func(error)) {
	switch {
	case c.State() != conn.Open:
		l.report(done, net.ErrClosed)
	case c.Ops.Moving:
		l.report(done, ErrMoving)
	case target == l:
		l.report(done, nil)
	case l.closing:
		l.report(done, ErrStopped)
	default:
		if l.moves == nil {
			l.moves = make(map[*conn.Conn]*handoff)
		}
		l.moves[c] = &handoff{c: c, to: target, done: done}
		c.Ops.Moving = true
		l.advanceMove(c)
	}
}

// advanceMove carries a move on as far as c's operations in flight allow; each of their
// completions calls it again.
func (l *loop) advanceMove(c *conn.Conn) {
	if c.Ops.RecvArmed || c.SendBusy() {
		l.cancelOps(c)
		return
	}
	c.Ops.OpsCancelled = false
	if c.Ops.CancelSent || c.Ops.RecvCancelSent {
		// Its completion (or that of a receive stop's cancel), still to come, names this slot
		// and generation: wait for it. Dropped as stale after the pass, it would leave a
		// connection whose pass failed waiting for a cancel that never ends.
		return
	}
	h := l.moves[c]
	delete(l.moves, c)
	if !h.to.reserveIncoming() {
		c.Ops.Moving = false
		l.resumeAfterMove(c)
		l.report(h.done, ErrStopped)
		return
	}
	l.depart(c, h)
}

// depart passes c's descriptor to h.to; from here the source does not touch c unless the pass
// fails.
func (l *loop) depart(c *conn.Conn, h *handoff) {
	if c.Ops.SendQueued {
		l.unqueueSend(c)
	}
	slot := c.Slot
	l.conns[slot] = nil
	l.open--
	l.count.Add(-1)
	l.departing++
	token := l.set.handoffs.put(h)
	c.Depart()
	// The close of our slot always reports: onMoveClose counts the departure done.
	if err := prepPass(l.ring, h.to.fd, slot, recordUserData(opMoveIn, token), recordUserData(opMoveOut, token),
		recordUserData(opMoveClose, slot), 0); err != nil {
		panic(fmt.Errorf("ringset: loop %d: %w", l.idx, err))
	}
}

// onMoveOut handles a pass that failed: the connection stays, in the slot it never left.
func (l *loop) onMoveOut(token uint32, res int32) {
	h := l.set.handoffs.take(token)
	if h == nil {
		l.set.fail(fmt.Errorf("ringset: loop %d: a failed move with no record (token %d)", l.idx, token))
		return
	}
	l.departing--
	h.to.incoming.Add(-1)
	c := h.c
	l.conns[c.Slot] = c
	l.open++
	l.count.Add(1)
	c.Stay()
	l.resumeAfterMove(c)
	l.report(h.done, fmt.Errorf("ringset: move to loop %d: %w", h.to.idx, unix.Errno(-res)))
}

// onMoveClose: the source's slot of a connection that moved is closed (or, when the pass
// failed, its close was cancelled with it; onMoveOut handles that).
func (l *loop) onMoveClose(slot uint32, res int32) {
	if res == -int32(unix.ECANCELED) {
		return
	}
	if res < 0 {
		log.Printf("uringnet: loop %d: close slot %d after a move: %v", l.idx, slot, unix.Errno(-res))
	}
	l.departing--
}

// onMoveIn serves a connection that arrived from another loop in slot res.
func (l *loop) onMoveIn(token uint32, res int32) {
	h := l.set.handoffs.take(token)
	gen, ok := uint32(0), false
	if h != nil && res >= 0 {
		gen, ok = l.claimSlot(uint32(res))
	}
	if !ok {
		l.set.fail(fmt.Errorf("ringset: loop %d: a moved connection arrived in slot %d with no record or in use (token %d)", l.idx, res, token))
		return
	}
	l.incoming.Add(-1)
	slot := uint32(res)
	c := h.c
	c.Arrive(l, slot, gen)
	c.Traffic.MovedAt = l.set.epoch.Load()
	l.conns[slot] = c
	l.open++
	l.count.Add(1)
	l.resumeAfterMove(c)
	l.report(h.done, nil)
}

// resumeAfterMove resumes c after a move, on the loop that has it now: the work posted meanwhile
// runs, then what is pending is sent and receiving resumes (or, when the loop is shutting
// down, c closes).
func (l *loop) resumeAfterMove(c *conn.Conn) {
	slot := c.Slot
	c.RunPosted()
	if l.conns[slot] != c {
		// The posted work sent it on, to another loop (a move asked while it moved): it is
		// that loop's now, and nothing of it may be touched here, its send queue least of all.
		return
	}
	if l.closing {
		l.CloseConn(c, nil)
		return
	}
	if c.State() == conn.Open && c.OutboundBuffered() > 0 {
		l.ScheduleSend(c)
	}
	l.resumeOrPause(c)
	if c.Ops.RecvStopping {
		l.stopReceiving(c) // turned off before or during the move: no receive is armed now
	}
}

// abortMove ends the move of c, which is closing.
func (l *loop) abortMove(c *conn.Conn) {
	h := l.moves[c]
	delete(l.moves, c)
	c.Ops.Moving = false
	if h != nil {
		l.report(h.done, net.ErrClosed)
	}
}

// reserveIncoming counts a connection about to be passed to l; it fails once l has decided to
// exit.
func (l *loop) reserveIncoming() bool {
	for {
		n := l.incoming.Load()
		if n < 0 {
			return false
		}
		if l.incoming.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// closeIncoming refuses connections passed to l from now on, unless some are on their way.
func (l *loop) closeIncoming() bool {
	return l.incoming.CompareAndSwap(0, -1) || l.incoming.Load() < 0
}

// unqueueSend takes c off the list of connections to send for.
func (l *loop) unqueueSend(c *conn.Conn) {
	for i, q := range l.sendq {
		if q == c {
			l.sendq = append(l.sendq[:i], l.sendq[i+1:]...)
			break
		}
	}
	c.Ops.SendQueued = false
}

// report tells a move's caller how it ended; a panic in done is logged.
func (l *loop) report(done func(error), err error) {
	if done == nil {
		return
	}
	if perr := l.set.guard(func() { done(err) }); perr != nil {
		log.Printf("uringnet: loop %d: move callback: %v", l.idx, perr)
	}
}
