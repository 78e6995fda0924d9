package listener

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// What net/http, crypto/tls and others probe a connection for.

// CloseWrite shuts down the writing side once everything written is sent; the peer reads
// io.EOF after it. Later Writes fail.
func (lc *Conn) CloseWrite() error {
	if isClosed(lc.closed) {
		return lc.opError("close", net.ErrClosed)
	}
	lc.writeShut.Store(true)
	if err := lc.onLoop(lc.closeWrite); err != nil {
		return lc.opError("close", err)
	}
	return nil
}

// CloseRead shuts down the reading side: Reads return io.EOF from now on.
func (lc *Conn) CloseRead() error {
	lc.readShut.Store(true)
	lc.rouseReader()
	err := lc.onLoop(func(c *conn.Conn) error {
		lc.readDiscard = true
		c.Discard(-1)
		return lc.shutdown(c, unix.SHUT_RD)
	})
	if err != nil {
		return lc.opError("close", err)
	}
	return nil
}

// setOption runs a socket option setter on the loop and wraps its error as net does.
func (lc *Conn) setOption(f func(c *conn.Conn) error) error {
	if err := lc.onLoop(f); err != nil {
		return lc.opError("set", err)
	}
	return nil
}

// SetNoDelay turns Nagle's algorithm off (true, the default) or on.
func (lc *Conn) SetNoDelay(noDelay bool) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetNoDelay(noDelay) })
}

// SetKeepAlive turns keep-alive probes on or off.
func (lc *Conn) SetKeepAlive(on bool) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetKeepAlive(on, 0) })
}

// SetKeepAlivePeriod sets the idle time before the first probe and between probes.
func (lc *Conn) SetKeepAlivePeriod(d time.Duration) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetKeepAlive(true, d) })
}

// SetLinger sets what closing does with unsent data, as (*net.TCPConn).SetLinger.
func (lc *Conn) SetLinger(sec int) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetLinger(sec) })
}

// SetReadBuffer sets the socket's receive buffer size.
func (lc *Conn) SetReadBuffer(bytes int) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetReadBuffer(bytes) })
}

// SetWriteBuffer sets the socket's send buffer size.
func (lc *Conn) SetWriteBuffer(bytes int) error {
	return lc.setOption(func(c *conn.Conn) error { return c.SetWriteBuffer(bytes) })
}

// ReadFrom writes everything r yields until io.EOF (io.ReaderFrom).
func (lc *Conn) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(writerOnly{lc}, r, *bp)
	if err != nil && !isOpError(err) {
		err = lc.opError("readfrom", err)
	}
	return n, err
}

// WriteTo writes everything read from the connection to w until io.EOF (io.WriterTo).
func (lc *Conn) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(w, readerOnly{lc}, *bp)
	if err != nil && !isOpError(err) {
		err = lc.opError("writeto", err)
	}
	return n, err
}

func isOpError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// writerOnly and readerOnly hide the connection's ReadFrom and WriteTo from io.CopyBuffer,
// which would otherwise call them back.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// SyscallConn returns the connection's descriptor for use by f (syscall.Conn): a regular
// descriptor the loop installs (FIXED_FD_INSTALL) on first use and closes with the connection.
func (lc *Conn) SyscallConn() (syscall.RawConn, error) {
	if isClosed(lc.closed) {
		return nil, syscall.EINVAL
	}
	return rawConn{lc}, nil
}

type rawConn struct{ lc *Conn }

// Control calls f with the descriptor, which stays valid while the connection is open.
func (r rawConn) Control(f func(fd uintptr)) error {
	fd := -1
	if err := r.lc.onLoop(func(c *conn.Conn) (err error) { fd, err = c.Fd(); return err }); err != nil {
		return r.lc.opError("raw-control", err)
	}
	f(uintptr(fd))
	return nil
}

// Read is not supported: the loop, not the descriptor's readiness, drives reading.
func (r rawConn) Read(func(fd uintptr) bool) error {
	return r.lc.opError("raw-read", errors.ErrUnsupported)
}

// Write is not supported: the loop drives writing.
func (r rawConn) Write(func(fd uintptr) bool) error {
	return r.lc.opError("raw-write", errors.ErrUnsupported)
}
