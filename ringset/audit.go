package ringset

import (
	"errors"
	"log"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// When the kernel drops completions (its CQ full and no memory for the overflow backlog), it
// does not say whose, and a lost completion cannot always be found afterwards: a multishot
// receive that lost one completion, and the bytes it carried, goes on as if nothing happened. So
// no connection of the loop can be trusted with a byte stream any more: the loop closes every
// one, with errCompletionsLost, and lives on. The close protocol copes with what was lost: from
// then on a cancel that finds nothing in flight ends the operations the loop still counts (see
// loop.onCancel; receives are into provided buffers and a send found nowhere has ended, so no
// memory the kernel reads is released early), and a close whose completion was lost is found
// done by its empty slot. The loop's own accept or datagram receive is cancelled and armed
// again.
//
// Not recovered: adoptions and dials in flight (a dial's context still ends it), and the passes
// of connections moving between loops.

// errCompletionsLost is what the connections of a loop whose completions the kernel dropped
// fail with.
var errCompletionsLost = errors.New("the kernel dropped completions")

// audit recovers the loop after the kernel dropped completions, once the batch that reported it
// has been dispatched.
func (l *loop) audit() {
	if !l.dropped {
		l.dropped = true
		log.Printf("uringnet: loop %d: the kernel dropped completions (no memory for its overflow backlog); the loop's connections are closed", l.idx)
	}
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		// A cancel's completion, or the completions of what it found, may be the lost ones:
		// the next cancel is made afresh, and one that finds nothing ends what the loop counts.
		c.Ops.CancelSent, c.Ops.OpsCancelled, c.Ops.RecvCancelSent = false, false, false
		c.Ops.Audited = true
		switch {
		case c.State() == conn.Open:
			l.CloseConn(c, c.OpError("read", errCompletionsLost))
		case c.Ops.CloseSent:
			l.auditClose(c)
		case c.Ops.Flushing && c.SendBusy():
			l.auditFlush(c)
		default:
			l.advance(c)
		}
	}
	switch {
	case l.accepting:
		l.cancelOwn(l.ownAcceptUserData(), opAccept)
	case l.udp != nil && l.udp.armed:
		l.cancelOwn(recordUserData(opRecvFrom, 0), opRecvFrom)
	}
}

// cancelOwn cancels the loop's own operation of kind (its accept or multishot datagram
// receive), armed with userData, to arm it again.
func (l *loop) cancelOwn(userData uint64, kind opKind) {
	s := l.sqe()
	s.PrepCancel(userData, 0)
	s.SetUserData(recordUserData(opAuditOwn, uint32(kind)))
}

// onAuditOwn: found, the operation completes as cancelled and is armed again there; not found,
// its completion was lost, and it is armed again now.
func (l *loop) onAuditOwn(kind opKind, res int32) {
	if res != -int32(unix.ENOENT) {
		return
	}
	switch kind {
	case opAccept:
		l.accepting = false
	case opRecvFrom:
		l.udp.armed = false
	}
	l.rearm()
}

// auditFlush learns whether the completion of c's final-flush send was lost: that send does not
// wait for room (MSG_DONTWAIT), so it completes when the kernel issues it, before a cancel of
// the descriptor made after it. If the cancel finds nothing and the send still counts as in
// flight, its completion was lost, and the send failed.
func (l *loop) auditFlush(c *conn.Conn) {
	s := l.sqe()
	s.PrepCancelFixedFd(c.Slot, poller.CancelAll)
	s.SetUserData(connUserData(opAuditFlush, c))
}

// onAuditFlush ends auditFlush's cancel (res: how many it found).
func (l *loop) onAuditFlush(c *conn.Conn, res int32) {
	if res <= 0 && c.Ops.Flushing && c.SendBusy() {
		c.FailSend()
	}
	l.advance(c)
}

// auditClose finishes the close of c if its slot is empty: the close ran (a close of a direct
// descriptor runs when it is submitted), and only its completion was lost.
func (l *loop) auditClose(c *conn.Conn) {
	fd, err := fdbridge.Install(l.ring, c.Slot, connUserData(opInstall, c), l.stash)
	if err == nil {
		unix.Close(fd) // still there: the close's completion is to come
		return
	}
	if errors.Is(err, unix.EBADF) {
		l.finishClose(c, 0)
	}
}
