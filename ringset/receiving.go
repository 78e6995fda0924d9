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
	l.stopReceiving(c)
}

// stopReceiving carries a stop of c's receiving on: the armed receive is cancelled (again, if
// the last cancel found it busy delivering), and once none is armed the handler hears of it.
func (l *loop) stopReceiving(c *conn.Conn) {
	switch {
	case c.State() != conn.Open:
		c.Ops.RecvStopping = false // closing: the close protocol ends the receive, OnClose follows
	case c.Ops.RecvArmed:
		if !c.Ops.RecvCancelSent {
			c.Ops.RecvCancelSent = true
			s := l.sqe()
			s.PrepCancel(connUserData(opRecv, c), 0)
			s.SetUserData(connUserData(opRecvCancel, c))
		}
	default:
		c.Ops.RecvStopping = false
		if o, ok := l.set.handler.(ReceiveObserver); ok {
			if err := l.set.guard(func() { o.OnReceiveStopped(c) }); err != nil {
				l.CloseConn(c, err)
			}
		}
	}
}
