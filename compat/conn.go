package compat

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/conn"
)

// gconn is a connection as gnet.Conn: a uringnet connection and the gnet-only state (the user's
// context lives here; the uringnet connection's context points back at this).
type gconn struct {
	c       *conn.Conn
	b       *bridge // its set's bridge: the engine, the set and its loops
	ctx     any
	safeCtx atomic.Pointer[any]
}

var _ gnet.Conn = (*gconn)(nil)

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

// onLoop runs f on the connection's loop and waits for it: at once when called there,
// otherwise as the connection's queued work. It reports net.ErrClosed when the loop has stopped.
func (g *gconn) onLoop(f func()) error {
	if g.c.OnOwnerThread() {
		f()
		return nil
	}
	done := make(chan struct{})
	if err := g.c.Exec(func() { defer close(done); f() }); err != nil {
		return net.ErrClosed
	}
	<-done
	return nil
}

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

func (g *gconn) Write(p []byte) (int, error) { return g.c.Write(p) }

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
	return g.c.SendTo(p, addr)
}

func (g *gconn) Writev(bs [][]byte) (int, error) {
	n, err := g.c.Writev(bs)
	if errors.Is(err, conn.ErrNotStream) {
		return 0, errorx.ErrUnsupportedOp // gnet's word for Writev on a datagram
	}
	return n, err
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

// Socket: any goroutine may call these, as gnet allows; the connection's own socket calls
// run on its loop (they need its descriptor, which only the loop may install).

// onSocket runs one of the connection's socket calls on its loop.
func (g *gconn) onSocket(call func() error) error {
	if g.isDatagram() {
		return errorx.ErrUnsupportedOp
	}
	err := error(net.ErrClosed)
	if lerr := g.onLoop(func() { err = call() }); lerr != nil {
		return lerr
	}
	return err
}

// Fd is the connection's descriptor (installed once, closed with the connection), or -1.
func (g *gconn) Fd() int {
	fd := -1
	g.onSocket(func() (err error) { fd, err = g.c.Fd(); return err })
	return fd
}

func (g *gconn) Dup() (int, error) {
	fd := -1
	err := g.onSocket(func() (err error) { fd, err = g.c.Dup(); return err })
	return fd, err
}

func (g *gconn) SetReadBuffer(bytes int) error {
	return g.onSocket(func() error { return g.c.SetReadBuffer(bytes) })
}

func (g *gconn) SetWriteBuffer(bytes int) error {
	return g.onSocket(func() error { return g.c.SetWriteBuffer(bytes) })
}

func (g *gconn) SetLinger(sec int) error {
	return g.onSocket(func() error { return g.c.SetLinger(sec) })
}

func (g *gconn) SetNoDelay(noDelay bool) error {
	return g.onSocket(func() error { return g.c.SetNoDelay(noDelay) })
}

func (g *gconn) SetKeepAlivePeriod(d time.Duration) error {
	if !g.isTCP() {
		return errorx.ErrUnsupportedOp
	}
	idle, intvl, cnt, err := keepAlive(d, 0, 0)
	if err != nil {
		return err
	}
	return g.onSocket(func() error { return g.c.SetKeepAliveProbes(true, idle, intvl, cnt) })
}

func (g *gconn) SetKeepAlive(enabled bool, idle, intvl time.Duration, cnt int) error {
	if !g.isTCP() {
		return errorx.ErrUnsupportedOp
	}
	// As in gnet, the durations are truncated to seconds and not defaulted: the probe count and
	// both times must be at least 1 when enabling.
	return g.onSocket(func() error {
		return g.c.SetKeepAliveProbes(enabled, int(idle/time.Second), int(intvl/time.Second), cnt)
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

func (g *gconn) Wake(cb gnet.AsyncCallback) error {
	return g.post(func() error { g.c.Loop().Wake(g.c); return nil }, cb)
}

func (g *gconn) CloseWithCallback(cb gnet.AsyncCallback) error {
	return g.post(g.c.Close, cb)
}

// Close closes the connection once the loop runs its queued work (after the current callback,
// when called from one), as gnet's Close does.
func (g *gconn) Close() error { return g.post(g.c.Close, nil) }

// post queues op for the loop, calling cb after it (with the connection, as gnet does, even
// when it had already closed: op then does nothing).
func (g *gconn) post(op func() error, cb gnet.AsyncCallback) error {
	if g.isDatagram() {
		return errorx.ErrUnsupportedOp
	}
	return g.c.Exec(func() {
		var err error
		if g.c.State() == conn.Open {
			err = op()
		}
		if cb != nil {
			_ = cb(g, err)
		}
	})
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
