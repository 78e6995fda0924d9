package compat

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// gconn is a connection as gnet.Conn: a uringnet connection and the gnet-only state (the user's
// context lives here; the uringnet connection's context points back at this).
type gconn struct {
	c       *conn.Conn
	b       *bridge // its set's bridge: the engine, the set and its loops
	ctx     any
	safeCtx atomic.Pointer[any]
	// action is what the handler's latest OnTraffic or OnClose for it returned (see post), in
	// 32 bits beside released: the gconn fits the 48-byte size class (TestGconnSize).
	action action32
	// released: OnClose has returned; any goroutine may read it.
	released atomic.Bool
}

var _ gnet.Conn = (*gconn)(nil)

// action32 is a gnet.Action (gnet's are 0 to 2) in 32 bits.
type action32 int32

// wrap returns the gnet face of c, one of the connections of b's set, making it on first use.
func wrap(c *conn.Conn, b *bridge) *gconn {
	if g, ok := c.Context().(*gconn); ok {
		return g
	}
	g := &gconn{c: c, b: b}
	c.SetContext(g)
	return g
}

func (g *gconn) isDatagram() bool { return g.c.IsDatagram() }

// isTCP is gnet's proto == "tcp", told from the address: a unix connection Registered on a TCP
// engine is still unix.
func (g *gconn) isTCP() bool { _, ok := g.c.LocalAddr().(*net.TCPAddr); return ok }

// Reader.

func (g *gconn) Read(p []byte) (int, error) {
	n := g.c.Read(p)
	if n == 0 && len(p) > 0 {
		return 0, io.ErrShortBuffer
	}
	return n, nil
}

func (g *gconn) WriteTo(w io.Writer) (int64, error) {
	b, _ := g.c.Peek(-1)
	n, err := w.Write(b)
	if n > 0 { // conn's Discard takes n <= 0 as "all"; what w did not take stays, as in gnet
		g.c.Discard(n)
	}
	return int64(n), err
}

// Next and Peek: as in gnet, n <= 0 means everything buffered, and more than is buffered is
// io.ErrShortBuffer.
func (g *gconn) Next(n int) ([]byte, error) { return g.c.Next(n) }
func (g *gconn) Peek(n int) ([]byte, error) { return g.c.Peek(n) }

func (g *gconn) Discard(n int) (int, error) { return g.c.Discard(n), nil }
func (g *gconn) InboundBuffered() int       { return g.c.InboundBuffered() }

// Writer.
//
// Write, Writev and SendTo belong on the loop (a callback, or work queued for it), where the
// bytes join the connection's outbound buffer. gnet lets other goroutines call them too (there
// they are plain system calls), and real programs do; from elsewhere the bytes are copied and
// handed to the loop, in order with the caller's other writes, and reported taken.

func (g *gconn) Write(p []byte) (int, error) {
	if !g.c.OnOwnerThread() {
		b := append([]byte(nil), p...)
		return g.fromElsewhere(len(p), func() { g.c.Write(b) })
	}
	return writeResult(g.c.Write(p))
}

// fromElsewhere hands a write of n bytes, made on another goroutine than the loop's, to the
// loop. As with gnet's write(2), a connection that is gone answers EBADF.
func (g *gconn) fromElsewhere(n int, write func()) (int, error) {
	if g.released.Load() || g.c.Exec(write) != nil {
		return 0, unix.EBADF
	}
	return n, nil
}

// writeResult is what gnet's Write answers: writing to a connection that is gone is its
// write(2) on a closed descriptor.
func writeResult(n int, err error) (int, error) {
	if err == conn.ErrClosed {
		return 0, unix.EBADF
	}
	return n, err
}

// copyBufs are ReadFrom's buffers: one handed to r.Read escapes, so it is pooled rather than
// allocated per call.
var copyBufs = sync.Pool{New: func() any { return new([16 << 10]byte) }}

func (g *gconn) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[16 << 10]byte)
	defer copyBufs.Put(buf)
	var total int64
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if _, werr := g.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (g *gconn) SendTo(p []byte, addr net.Addr) (int, error) {
	if !g.isDatagram() {
		return 0, errorx.ErrUnsupportedOp
	}
	if addr == nil {
		return 0, errorx.ErrInvalidNetworkAddress
	}
	if !g.c.OnOwnerThread() {
		b := append([]byte(nil), p...)
		return g.fromElsewhere(len(p), func() { g.c.SendTo(b, addr) })
	}
	return writeResult(g.c.SendTo(p, addr))
}

func (g *gconn) Writev(bs [][]byte) (int, error) {
	if g.isDatagram() {
		return 0, errorx.ErrUnsupportedOp // gnet's word for Writev on a datagram
	}
	if !g.c.OnOwnerThread() {
		var b []byte
		for _, p := range bs {
			b = append(b, p...)
		}
		return g.fromElsewhere(len(b), func() { g.c.Write(b) })
	}
	return writeResult(g.c.Writev(bs))
}

// Flush: written bytes go to the kernel at the end of the loop's current batch, before it
// waits again, so there is nothing to push early.
func (g *gconn) Flush() error {
	if g.c.State() != conn.Open && !g.isDatagram() {
		return net.ErrClosed
	}
	return nil
}

func (g *gconn) OutboundBuffered() int { return g.c.OutboundBuffered() }

func (g *gconn) AsyncWrite(p []byte, cb gnet.AsyncCallback) error {
	if g.isDatagram() {
		// gnet sends a datagram at once and calls back with no connection.
		_, err := g.Write(p)
		if cb != nil {
			_ = cb(nil, nil)
		}
		return err
	}
	return g.c.AsyncWrite(p, g.callback(cb))
}

func (g *gconn) AsyncWritev(bs [][]byte, cb gnet.AsyncCallback) error {
	if g.isDatagram() {
		return errorx.ErrUnsupportedOp
	}
	return g.c.AsyncWritev(bs, g.callback(cb))
}

// callback adapts a gnet callback; nil stays nil so that nothing is called.
func (g *gconn) callback(cb gnet.AsyncCallback) conn.Callback {
	if cb == nil {
		return nil
	}
	return func(_ *conn.Conn, err error) { _ = cb(g, err) }
}

// Socket: any goroutine may call these, as gnet allows. A connection's socket calls need its
// regular descriptor, which only its loop can install, so they run there (conn.Conn.Call: a
// loop that waits for one answers the calls made of it meanwhile); a datagram received on the
// loop's socket has that socket's descriptor, valid as long as the engine. The calls themselves
// are gnet's own (its pkg/socket), for gnet's results and errors.

// onSocket runs call with the connection's descriptor.
func (g *gconn) onSocket(call func(fd int) error) error {
	if g.c.SharesSocket() {
		fd, _ := g.c.Fd()
		return call(fd)
	}
	err := error(net.ErrClosed)
	if cerr := g.c.Call(func() {
		if g.c.State() == conn.Closed {
			return
		}
		fd, ferr := g.c.Fd()
		if ferr != nil {
			err = ferr
			return
		}
		err = call(fd)
	}); cerr != nil {
		return net.ErrClosed
	}
	return err
}

// Fd is the connection's descriptor (installed once, closed with the connection), or -1.
func (g *gconn) Fd() int {
	fd := -1
	g.onSocket(func(sock int) error { fd = sock; return nil })
	return fd
}

func (g *gconn) Dup() (int, error) {
	fd := -1
	err := g.onSocket(func(sock int) (err error) { fd, err = socket.Dup(sock); return err })
	return fd, err
}

func (g *gconn) SetReadBuffer(bytes int) error {
	return g.onSocket(func(fd int) error { return socket.SetRecvBuffer(fd, bytes) })
}

func (g *gconn) SetWriteBuffer(bytes int) error {
	return g.onSocket(func(fd int) error { return socket.SetSendBuffer(fd, bytes) })
}

func (g *gconn) SetLinger(sec int) error {
	return g.onSocket(func(fd int) error { return socket.SetLinger(fd, sec) })
}

func (g *gconn) SetNoDelay(noDelay bool) error {
	on := 0
	if noDelay {
		on = 1
	}
	return g.onSocket(func(fd int) error { return socket.SetNoDelay(fd, on) })
}

func (g *gconn) SetKeepAlivePeriod(d time.Duration) error {
	if !g.isTCP() {
		return errorx.ErrUnsupportedOp
	}
	return g.onSocket(func(fd int) error { return socket.SetKeepAlivePeriod(fd, int(d.Seconds())) })
}

func (g *gconn) SetKeepAlive(enabled bool, idle, intvl time.Duration, cnt int) error {
	if !g.isTCP() {
		return errorx.ErrUnsupportedOp
	}
	return g.onSocket(func(fd int) error {
		return socket.SetKeepAlive(fd, enabled, int(idle.Seconds()), int(intvl.Seconds()), cnt)
	})
}

// Conn.

func (g *gconn) Context() any       { return g.ctx }
func (g *gconn) SetContext(ctx any) { g.ctx = ctx }

func (g *gconn) SafeContext() any {
	if p := g.safeCtx.Load(); p != nil {
		return *p
	}
	return nil
}

func (g *gconn) SetSafeContext(ctx any) { g.safeCtx.Store(&ctx) }

// EventLoop is the loop the connection lives on now: after a move, the one it moved to.
func (g *gconn) EventLoop() gnet.EventLoop { return g.b.loops[g.c.Loop().Index()] }

// LocalAddr and RemoteAddr: the handler bridge looks both up on the loop before OnOpen (a direct
// descriptor has no fd to ask; see conn.Conn.LocalAddr), before anyone else has the
// connection, so from then on they are cached values any goroutine may read, in every callback,
// OnClose included.
func (g *gconn) LocalAddr() net.Addr  { return g.c.LocalAddr() }
func (g *gconn) RemoteAddr() net.Addr { return g.c.RemoteAddr() }

// Wake calls OnTraffic on the loop; cb hears what came of it as gnet reports it (see
// actionError).
func (g *gconn) Wake(cb gnet.AsyncCallback) error {
	return g.post(func() { g.c.Loop().Wake(g.c) }, cb)
}

func (g *gconn) CloseWithCallback(cb gnet.AsyncCallback) error {
	return g.post(func() { g.c.Close() }, cb)
}

// Close closes the connection once the loop runs its queued work (after the current callback,
// when called from one), as gnet's Close does.
func (g *gconn) Close() error { return g.post(func() { g.c.Close() }, nil) }

// post queues op for the loop, then calls cb with the connection (as gnet does, even when it
// had already closed, or stands for one datagram of the loop's socket: op then does nothing) and
// the error gnet would give for what the handler's callbacks during op asked for.
func (g *gconn) post(op func(), cb gnet.AsyncCallback) error {
	return loopError(g.c.Exec(func() {
		var err error
		if g.c.State() == conn.Open && !g.c.SharesSocket() {
			g.action = action32(gnet.None)
			op()
			err = actionError(gnet.Action(g.action))
		}
		if cb != nil {
			_ = cb(g, err)
		}
	}))
}

// actionError is the error gnet's Wake, Close and CloseWithCallback report for the action the
// handler returned from the callbacks they caused (OnTraffic, OnClose): ErrEngineShutdown for
// Shutdown.
func actionError(a gnet.Action) error {
	if a == gnet.Shutdown {
		return errorx.ErrEngineShutdown
	}
	return nil
}

// loopError is what a caller is told when work cannot be queued for a loop: the loop has
// stopped, so the engine is shut down.
func loopError(err error) error {
	if err != nil {
		return errorx.ErrEngineInShutdown
	}
	return nil
}

// release forgets both contexts once OnClose has returned, as gnet releases a connection.
func (g *gconn) release() {
	g.ctx = nil
	g.safeCtx.Store(nil)
	g.released.Store(true)
}

func (g *gconn) SetDeadline(time.Time) error      { return errorx.ErrUnsupportedOp }
func (g *gconn) SetReadDeadline(time.Time) error  { return errorx.ErrUnsupportedOp }
func (g *gconn) SetWriteDeadline(time.Time) error { return errorx.ErrUnsupportedOp }

// MoveTo moves the connection, live, to loop i of its engine (see ringset.Set.Move): the peer
// notices nothing and no byte is lost. done, if not nil, runs once: on loop i with nil when the
// connection serves there, or on its loop with the reason it stayed. Afterwards EventLoop
// reports loop i, and the connection's callbacks run there.
func (g *gconn) MoveTo(i int, done func(error)) error {
	if g.isDatagram() {
		return errorx.ErrUnsupportedOp
	}
	return g.b.set.Move(g.c, i, done)
}
