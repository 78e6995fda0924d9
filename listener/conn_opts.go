package listener

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// What net/http, crypto/tls and others probe a connection for.

// CloseWrite shuts down the writing side once everything written is sent; the peer reads
// io.EOF after it. Later Writes fail.
func (lc *Conn) CloseWrite() error {
	if lc.isShut(closedBit) {
		return lc.opError("close", net.ErrClosed)
	}
	lc.shut.Or(writeShutBit) // no Write goes to the ring behind the FIN
	if r := lc.ringSide(); r != nil && !r.idle() && !isClosed(r.dead) {
		// The FIN follows what the loop still holds. (A loop side that failed, or fails
		// meanwhile, leaves the shutdown to the socket, which answers as net's: ENOTCONN after
		// a reset.)
		if r.onLoop(r.closeWrite) == nil {
			return nil
		}
	}
	if err := lc.nc.CloseWrite(); err != nil {
		lc.shut.And(^uint32(writeShutBit)) // a shutdown that failed shuts nothing: Writes ask the kernel, as net's
		return err
	}
	return nil
}

// CloseRead shuts down the reading side, as net's does on Linux: Reads return what has arrived,
// and io.EOF, at once, when nothing has. On the ring, the shutdown ends the loop's receive as
// the peer's end would, after what the socket held.
func (lc *Conn) CloseRead() error {
	if lc.isShut(closedBit) {
		return lc.opError("close", net.ErrClosed)
	}
	lc.shut.Or(readShutBit)
	return lc.nc.CloseRead()
}

// tcpOptions are the options only TCP has: net's *net.TCPConn's, and an accepted socket's.
type tcpOptions interface {
	SetNoDelay(noDelay bool) error
	SetKeepAlive(on bool) error
	SetKeepAlivePeriod(d time.Duration) error
	SetKeepAliveConfig(config net.KeepAliveConfig) error
	SetLinger(sec int) error
	MultipathTCP() (bool, error)
}

// tcp returns the connection's TCP options; an error when it is not TCP.
func (lc *Conn) tcp() (tcpOptions, error) {
	if tc, ok := lc.nc.(tcpOptions); ok {
		return tc, nil
	}
	return nil, lc.opError("set", os.NewSyscallError("setsockopt", syscall.ENOPROTOOPT))
}

// SetNoDelay turns Nagle's algorithm off (true, the default) or on.
func (lc *Conn) SetNoDelay(noDelay bool) error {
	tc, err := lc.tcp()
	if err != nil {
		return err
	}
	return tc.SetNoDelay(noDelay)
}

// SetKeepAlive turns keep-alive probes on or off.
func (lc *Conn) SetKeepAlive(on bool) error {
	tc, err := lc.tcp()
	if err != nil {
		return err
	}
	return tc.SetKeepAlive(on)
}

// SetKeepAlivePeriod sets the idle time before the first probe, as net's does (zero: 15 s).
func (lc *Conn) SetKeepAlivePeriod(d time.Duration) error {
	tc, err := lc.tcp()
	if err != nil {
		return err
	}
	return tc.SetKeepAlivePeriod(d)
}

// SetLinger sets what closing does with unsent data, as (*net.TCPConn).SetLinger.
func (lc *Conn) SetLinger(sec int) error {
	tc, err := lc.tcp()
	if err != nil {
		return err
	}
	return tc.SetLinger(sec)
}

// SetKeepAliveConfig turns keep-alive probes on or off and sets their idle time, interval and
// count, as (*net.TCPConn).SetKeepAliveConfig: zero is net's default, negative leaves it.
func (lc *Conn) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	tc, err := lc.tcp()
	if err != nil {
		return err
	}
	return tc.SetKeepAliveConfig(config)
}

// MultipathTCP reports whether the connection uses MPTCP, as (*net.TCPConn).MultipathTCP.
func (lc *Conn) MultipathTCP() (bool, error) {
	tc, err := lc.tcp()
	if err != nil {
		return false, err
	}
	return tc.MultipathTCP()
}

// File returns a duplicate of the connection's descriptor, as net's File does; closing one
// does not close the other. Reading or writing it alongside the connection interleaves with
// what the connection (and the ring, if it serves the connection) reads and writes.
func (lc *Conn) File() (*os.File, error) {
	if lc.isShut(closedBit) {
		return nil, lc.opError("file", net.ErrClosed)
	}
	return lc.nc.File()
}

// SetReadBuffer sets the socket's receive buffer size.
func (lc *Conn) SetReadBuffer(bytes int) error { return lc.nc.SetReadBuffer(bytes) }

// SetWriteBuffer sets the socket's send buffer size.
func (lc *Conn) SetWriteBuffer(bytes int) error { return lc.nc.SetWriteBuffer(bytes) }

// ReadFrom writes everything r yields until io.EOF (io.ReaderFrom). From a file, or from one of
// net's connections, it is the socket's (net's own for a dialed connection), which sends with
// sendfile(2) or splice(2) and copies nothing into the process, as net.TCPConn's does; unless
// the ring still holds bytes written before, which go first.
func (lc *Conn) ReadFrom(r io.Reader) (int64, error) {
	if n, err, handled := lc.readFromByKernel(r); handled {
		return n, err
	}
	n, err := copyThrough(writerOnly{lc}, r)
	return n, lc.nestError("readfrom", err)
}

// readFromByKernel hands r to the socket's ReadFrom when it would move r's bytes inside the kernel
// (r is, or limits, a descriptor's holder other than a connection of ours) and the poller may
// write now: nothing of the ring's is still to be sent, so the order of bytes holds. The
// write lock is held throughout, as net holds its own.
func (lc *Conn) readFromByKernel(r io.Reader) (n int64, err error, handled bool) {
	rf, ok := lc.nc.(io.ReaderFrom)
	if !ok {
		return 0, nil, false
	}
	src := r
	if lr, limited := r.(*io.LimitedReader); limited {
		src = lr.R
	}
	if _, ours := src.(*Conn); ours {
		return 0, nil, false
	}
	if _, byDescriptor := src.(syscall.Conn); !byDescriptor {
		return 0, nil, false
	}
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	if lc.shut.Load()&(writeShutBit|closedBit) != 0 {
		return 0, nil, false
	}
	if rs := lc.ringSide(); rs != nil && !rs.idle() {
		return 0, nil, false
	}
	if s, ok := rf.(*socket); ok {
		lc.enterFile(s, fileWrites) // sendfile and splice wait in the File
		defer lc.leaveFile(fileWrites)
	}
	n, err = rf.ReadFrom(r)
	paths.count(int(n), false)
	return n, err, true
}

// WriteTo writes everything read from the connection to w until io.EOF (io.WriterTo).
func (lc *Conn) WriteTo(w io.Writer) (int64, error) {
	n, err := copyThrough(w, readerOnly{lc})
	return n, lc.nestError("writeto", err)
}

// nestError is a copy's error as net's TCPConn reports it from ReadFrom and WriteTo: whatever
// it is (the reader's, or a Write's *net.OpError), inside an *net.OpError of op.
func (lc *Conn) nestError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: lc.network(), Source: lc.nc.LocalAddr(), Addr: lc.nc.RemoteAddr(), Err: err}
}

// copyThrough copies r to w through a pooled buffer.
func copyThrough(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(w, r, *bp)
}

// writerOnly and readerOnly hide the connection's ReadFrom and WriteTo from io.CopyBuffer,
// which would otherwise call them back.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// SyscallConn returns the connection's descriptor for use by f (syscall.Conn), with net's
// errors. Its Read and Write wait in the poller; a program that reads the descriptor itself
// should not also Read the connection, as with net.
func (lc *Conn) SyscallConn() (syscall.RawConn, error) {
	raw, err := lc.nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	lc.fileDeadlinesEager()
	s, _ := lc.nc.(*socket)
	return &rawConn{raw: raw, s: s}, nil
}

// rawConn is a connection's syscall.RawConn: its socket's, with net's errors, or net's own. It
// offers RawConn's three methods and no more: os.File.WriteTo looks for net's own raw
// connection (its PollFD) to sendfile into the socket past Conn.ReadFrom, which must send a
// file after what the ring still holds.
type rawConn struct {
	raw syscall.RawConn
	s   *socket // nil: net's connection, whose raw errors are net's already
}

func (c *rawConn) Control(f func(fd uintptr)) error    { return c.err("raw-control", c.raw.Control(f)) }
func (c *rawConn) Read(f func(fd uintptr) bool) error  { return c.err("raw-read", c.raw.Read(f)) }
func (c *rawConn) Write(f func(fd uintptr) bool) error { return c.err("raw-write", c.raw.Write(f)) }

func (c *rawConn) err(op string, err error) error {
	if err == nil || c.s == nil {
		return err
	}
	return c.s.rawError(op, err)
}
