package conn

import (
	"errors"
	"net"
)

// ErrNotDatagram is returned by SendTo on a stream connection.
var ErrNotDatagram = errors.New("conn: SendTo on a stream connection")

// ErrNotStream is returned by Writev on a datagram connection: a datagram is sent whole, by
// Write or SendTo (gnet refuses Writev on UDP too).
var ErrNotStream = errors.New("conn: Writev on a datagram connection")

// NewDatagram returns the connection one received datagram is handled through, as gnet does
// for UDP: it lives for one OnTraffic, its inbound bytes are the datagram, and Write sends one
// datagram back to from. There is no OnOpen or OnClose for it.
func NewDatagram(loop Loop, local, from net.Addr, payload []byte) *Conn {
	c := newConn(loop)
	c.local, c.remote, c.datagram = local, from, true
	c.in.receive(payload)
	return c
}

// IsDatagram reports whether c is a datagram (UDP) connection.
func (c *Conn) IsDatagram() bool { return c.datagram }

// SendTo sends p as one datagram to addr (a datagram connection only).
func (c *Conn) SendTo(p []byte, addr net.Addr) (int, error) {
	if !c.datagram {
		return 0, ErrNotDatagram
	}
	if err := c.loop.SendTo(c, p, addr); err != nil {
		return 0, err
	}
	return len(p), nil
}
