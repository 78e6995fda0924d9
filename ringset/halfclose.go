package ringset

import (
	"io"

	"github.com/uringnet/uringnet/conn"
)

// HalfCloser is what a Handler also implements to keep a connection open when its peer shuts
// down its sending side (a receive of zero bytes), as a net.Conn must: the peer may still read
// what is written to it. Instead of closing with io.EOF, the loop stops receiving for that
// connection and calls OnReadEOF, on the loop; writing goes on until the handler closes the
// connection (or a send fails). Without it, the peer's EOF closes the connection, as gnet does.
type HalfCloser interface {
	OnReadEOF(c *conn.Conn) Action
}

// readEOF handles a receive of zero bytes: the close, or, for a HalfCloser, the end of
// receiving only.
func (l *loop) readEOF(c *conn.Conn) {
	hc, ok := l.set.handler.(HalfCloser)
	if !ok || c.State() != conn.Open {
		l.CloseConn(c, io.EOF)
		return
	}
	c.Ops.ReadEOF = true
	action := None
	if err := l.set.guard(func() { action = hc.OnReadEOF(c) }); err != nil {
		l.CloseConn(c, err)
		return
	}
	l.act(c, action)
}
