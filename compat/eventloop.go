package compat

import (
	"context"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/ringset"
)

// eventLoop is one of a set's loops as gnet.EventLoop.
type eventLoop struct {
	b   *bridge // the set's bridge: the engine, the set and this loop's siblings
	idx int
}

var _ gnet.EventLoop = (*eventLoop)(nil)

// Register dials addr from this loop (SOCKET and CONNECT on its ring; a UDP socket is connected
// by the standard library) and serves the connection here; the context's gnet.FromContext value
// becomes the connection's context.
func (el *eventLoop) Register(ctx context.Context, addr net.Addr) (<-chan gnet.RegisteredResult, error) {
	if err := el.b.eng.inShutdown(); err != nil {
		return nil, err
	}
	if addr == nil {
		return nil, errorx.ErrInvalidNetworkAddress
	}
	network := addr.Network()
	if !ringset.Serves(network) {
		return nil, errorx.ErrUnsupportedProtocol
	}
	return el.dial(ctx, network, addr.String(), gnet.FromContext(ctx)), nil
}

// Enroll serves an existing connection on this loop: a duplicate of its descriptor is placed in
// the loop's table and c itself is closed, as gnet does.
func (el *eventLoop) Enroll(ctx context.Context, c net.Conn) (<-chan gnet.RegisteredResult, error) {
	if err := el.b.eng.inShutdown(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errorx.ErrInvalidNetConn
	}
	return el.enroll(c, gnet.FromContext(ctx))
}

// dial connects to address from this loop's ring and serves the connection here, starting
// with value as its context; the outcome arrives on the channel.
func (el *eventLoop) dial(ctx context.Context, network, address string, value any) <-chan gnet.RegisteredResult {
	res, o := el.opening(value)
	go func() {
		if err := el.b.set.Dial(ctx, el.idx, network, address, o); err != nil {
			o.Opened(nil, err)
		}
	}()
	return res
}

// enroll serves a duplicate of c's descriptor here, starting with value as its context, and
// closes c; the outcome arrives on the channel.
func (el *eventLoop) enroll(c net.Conn, value any) (<-chan gnet.RegisteredResult, error) {
	res, o := el.opening(value)
	err := el.b.set.AdoptConn(el.idx, c, o)
	c.Close()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// opening returns the channel a registration's outcome arrives on and the hooks that send it:
// the connection gets ctx (as Context and SafeContext) before OnOpen, and is delivered after it.
func (el *eventLoop) opening(ctx any) (<-chan gnet.RegisteredResult, ringset.Opening) {
	res := make(chan gnet.RegisteredResult, 1)
	return res, ringset.Opening{
		Prepare: func(c *conn.Conn) {
			g := wrap(c, el.b)
			g.SetContext(ctx)
			g.SetSafeContext(ctx)
		},
		Opened: func(c *conn.Conn, err error) {
			if err != nil {
				res <- gnet.RegisteredResult{Err: err}
			} else {
				res <- gnet.RegisteredResult{Conn: wrap(c, el.b)}
			}
			close(res)
		},
	}
}

// Execute runs runnable on the loop.
func (el *eventLoop) Execute(ctx context.Context, runnable gnet.Runnable) error {
	if err := el.b.eng.inShutdown(); err != nil {
		return err
	}
	if runnable == nil {
		return errorx.ErrNilRunnable
	}
	return loopError(el.b.set.Post(el.idx, func() { _ = runnable.Run(ctx) }))
}

// Schedule is gnet v2.10.0's: not supported (ErrUnsupportedOp), whatever it is given.
func (el *eventLoop) Schedule(context.Context, gnet.Runnable, time.Duration) error {
	return errorx.ErrUnsupportedOp
}

// Close closes c, which must be one of this loop's connections, at once when called on the
// loop (gnet's EventLoop.Close is synchronous there: OnClose has run when it returns, and its
// Shutdown is reported as gnet's ErrEngineShutdown) and as queued work otherwise.
func (el *eventLoop) Close(c gnet.Conn) error {
	g, ok := c.(*gconn)
	if !ok {
		return errorx.ErrUnsupportedOp
	}
	if !g.c.OnOwnerThread() {
		return g.Close()
	}
	if g.c.State() != conn.Open {
		return nil
	}
	g.action = action32(gnet.None)
	g.c.Close()
	return actionError(gnet.Action(g.action))
}
