package conn

import (
	"errors"
	"net"
)

// A datagram connection carries datagrams (UDP), as gnet serves them: each receive is one
// datagram, handled in one OnTraffic (what the handler leaves of it is dropped, not kept for the
// next one), and each Write sends one datagram. It is one of two kinds:
//   - shared: it stands for one datagram received on the loop's own socket (a UDP set's); it
//     lives for one OnTraffic, has no OnOpen or OnClose, and its Write answers the sender;
//   - connected: a connected UDP socket of its own, in a slot of the loop's table (dialed or
//     enrolled), opened and closed like a stream connection.

// ErrNotDatagram is returned by SendTo on a stream connection.
var ErrNotDatagram = errors.New("SendTo on a stream connection")

// ErrNotStream is returned by Writev on a datagram connection: a datagram is sent whole, by
// Write or SendTo (gnet refuses Writev on UDP too).
var ErrNotStream = errors.New("Writev on a datagram connection")

// NewDatagram returns the shared connection one datagram received on the loop's socket sock
// (a regular descriptor, the loop's for as long as it runs) is handled through, with payload as
// its input; Write sends one datagram back to from.
func NewDatagram(loop Loop, sock int, local, from net.Addr, payload []byte) *Conn {
	c := newConn(loop)
	c.local, c.remote, c.datagram, c.shared = local, from, true, true
	c.fd = int32(sock) + 1
	c.in.receive(payload)
	return c
}

// SetDatagram marks a new connection, before it serves, as a connected datagram socket.
func (c *Conn) SetDatagram() { c.datagram = true }

// IsDatagram reports whether c carries datagrams (UDP).
func (c *Conn) IsDatagram() bool { return c.datagram }

// SharesSocket reports whether c stands for one datagram received on its loop's own socket;
// its descriptor (Fd) is that socket's, any goroutine may use it, and the connection does not
// close it.
func (c *Conn) SharesSocket() bool { return c.shared }

// SendTo sends p as one datagram to addr (a datagram connection only).
func (c *Conn) SendTo(p []byte, addr net.Addr) (int, error) {
	if !c.datagram {
		return 0, ErrNotDatagram
	}
	if !c.writable() {
		return 0, ErrClosed
	}
	if err := c.owner().SendTo(c, p, addr); err != nil {
		return 0, err
	}
	return len(p), nil
}

// DropInput ends the handling of a received datagram: what the handler left of it is gone.
func (c *Conn) DropInput() { c.in.release() }
