package ringset

import (
	"github.com/uringnet/uringnet/conn"
)

// ReceiveObserver is what a Handler also implements to hear, on the loop, that a connection's
// receiving, turned off by SetReceiving, has ended: no receive is armed and every byte it
// received was delivered to OnTraffic. From then on the owner may read the socket some other
// way without racing the loop for bytes.
type ReceiveObserver interface {
	OnReceiveStopped(c *conn.Conn)
}

// SetReceiving turns c's receiving on or off; only on c's loop. Off: no receive is armed from
// now on, and one that is armed is cancelled; once it has ended, the handler's
// OnReceiveStopped runs (a ReceiveObserver), at once if none was armed. On: receiving resumes,
// within back-pressure's budget. A connection that is not open is left alone.
func (s *Set) SetReceiving(c *conn.Conn, on bool) {
	l := c.Loop().(*loop)
	if c.State() != conn.Open {
		return
	}
	if on {
		c.Ops.RecvOff, c.Ops.RecvStopping = false, false
		l.resumeOrPause(c)
		return
	}
	if c.Ops.RecvOff {
		return
	}
	c.Ops.RecvOff, c.Ops.RecvStopping = true, true
	if c.Ops.RecvArmed {
		l.cancelRecv(c)
		return
	}
	l.stopReceiving(c)
}

// stopReceiving carries a stop of c's receiving on: while the receive is armed it waits for the
// receive's last completion (its cancel is in flight, or found it), then the handler hears of
// it.
func (l *loop) stopReceiving(c *conn.Conn) {
	switch {
	case c.State() != conn.Open:
		c.Ops.RecvStopping = false // closing: the close protocol ends the receive, OnClose follows
	case c.Ops.RecvArmed:
	default:
		c.Ops.RecvStopping = false
		if o, ok := l.set.handler.(ReceiveObserver); ok {
			if err := l.set.guard(func() { o.OnReceiveStopped(c) }); err != nil {
				l.CloseConn(c, err)
			}
		}
	}
}

// cancelRecv cancels c's armed receive, once at a time.
func (l *loop) cancelRecv(c *conn.Conn) {
	if c.Ops.RecvCancelSent {
		return
	}
	c.Ops.RecvCancelSent = true
	l.recvCancels.Add(1)
	s := l.sqe()
	s.PrepCancel(connUserData(opRecv, c), 0)
	s.SetUserData(connUserData(opRecvCancel, c))
}

// onRecvCancel ends the cancel of c's receive. Found (res 0), the receive ends with a
// completion of its own, which follows the cancel's: it is not cancelled again, for a cancel
// that finds nothing searches on through the io-wq's queues, and a listener moving thousands
// of connections off a ring at once paid that search for each.
// Not found, or found running on a worker (-EALREADY), while it is still armed: the receive's
// last completion may be on its way (it ended on its own; TestReceivingStopSurvivesAFailedMove
// has that order), or the cancel may not have reached it; it is cancelled again, which costs
// nothing but the cancel in the first case. (A receive whose last completion the kernel
// dropped belongs to a connection the audit closed: the close protocol ends it.)
func (l *loop) onRecvCancel(c *conn.Conn, res int32) {
	c.Ops.RecvCancelSent = false
	if res != 0 && c.Ops.RecvArmed && c.Ops.RecvStopping && c.State() == conn.Open {
		l.cancelRecv(c)
	}
	l.advance(c)
}
