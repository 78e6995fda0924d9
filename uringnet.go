// Package uringnet runs gnet v2 applications on io_uring: change gnet.Run to uringnet.Run and
// the same gnet.EventHandler is served by io_uring event loops (one ring on one locked OS
// thread each; connections are direct descriptors handed between rings by MSG_RING). Where
// io_uring cannot serve (an old kernel, a seccomp profile or sysctl that refuses it, or
// URINGNET_DISABLE=1), Run says why once and runs gnet.Run itself.
//
// For net.Listener programs, see the listener package.
//
// The one difference from gnet: OnBoot receives gnet.Engine{} (gnet's Engine cannot be made
// elsewhere), so reach the running engine with EngineOf(handler), which answers as gnet's
// Engine would.
package uringnet

import (
	"context"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/compat"
	"github.com/uringnet/uringnet/ringset"
)

// Engine is a running engine: Stop, CountConnections, Dup, Register, as gnet.Engine has.
type Engine = compat.Engine

// Client is gnet's Client on io_uring loops.
type Client = compat.Client

// Run serves protoAddr ("tcp://:9000", "udp://:9000", "unix:///tmp/s.sock", …) with h, as
// gnet.Run does, honouring every gnet.Option; it returns when the engine stops.
func Run(h gnet.EventHandler, protoAddr string, opts ...gnet.Option) error {
	return compat.Run(h, protoAddr, opts...)
}

// Rotate serves several addresses with one handler, as gnet.Rotate does.
func Rotate(h gnet.EventHandler, addrs []string, opts ...gnet.Option) error {
	return compat.Rotate(h, addrs, opts...)
}

// Stop stops the engine serving protoAddr and waits for it, as gnet.Stop does.
func Stop(ctx context.Context, protoAddr string) error { return compat.Stop(ctx, protoAddr) }

// EngineOf returns the engine running h, from h's OnBoot until Run returns: what OnBoot's
// gnet.Engine is under gnet (Stop, CountConnections, Dup, DupListener, Register). A copy kept
// after Run returns reports gnet's ErrEngineInShutdown. False when no io_uring engine runs h.
func EngineOf(h gnet.EventHandler) (Engine, bool) { return compat.EngineOf(h) }

// BootEngine returns the engine a handler's OnBoot (or OnShutdown) is given e for, for the
// handler to keep: on io_uring, where e is gnet.Engine{}, the engine running h; under gnet's own
// engine (the fallback), e. uringnet-migrate puts it at the top of OnBoot.
func BootEngine(h gnet.EventHandler, e gnet.Engine) Engine { return compat.BootEngine(h, e) }

// EngineFor returns the engine serving protoAddr, from OnBoot on; with several engines on one
// address (WithReusePort), EngineOf tells them apart.
func EngineFor(protoAddr string) (Engine, error) { return compat.EngineFor(protoAddr) }

// NewClient creates a client whose connections h serves on io_uring loops, as gnet.NewClient.
func NewClient(h gnet.EventHandler, opts ...gnet.Option) (*Client, error) {
	return compat.NewClient(h, opts...)
}

// Rebalance says how the rebalancer spreads load over the loops (see WithRebalance).
type Rebalance = ringset.Rebalance

// WithRebalance is a gnet.Option of uringnet's own: connections move, live, from a loop that
// stays busier than the others (in CPU time and bytes) to the less busy ones. The zero
// Rebalance takes the defaults. Under the epoll fallback it is left out.
func WithRebalance(r Rebalance) gnet.Option { return compat.WithRebalance(r) }

// WithPacing is a gnet.Option of uringnet's own. Pacing (on by default) lets a loop poll for a
// moment after a busy batch rather than wait in the kernel at once, which saves wake-ups when
// the loops have CPUs to themselves; WithPacing(false) makes every loop wait whenever it has
// nothing to do, which suits loops that share their CPUs with CPU-bound threads or whose
// handlers hand the work to goroutines. Under the epoll fallback it is left out.
func WithPacing(on bool) gnet.Option { return compat.WithPacing(on) }

// Mover is what uringnet's connections implement besides gnet.Conn: moving, live, to another
// of the engine's loops, by passing the connection's direct descriptor ring to ring.
type Mover interface {
	MoveTo(loop int, done func(error)) error
}

// Move moves c to loop i of its engine; done, if not nil, runs once on the loop the connection
// ends up on: i, with nil, or its own with the reason it stayed. A connection of gnet's own
// engine (the fallback) does not move: gnet's ErrUnsupportedOp.
func Move(c gnet.Conn, i int, done func(error)) error {
	m, ok := c.(Mover)
	if !ok {
		return errorx.ErrUnsupportedOp
	}
	return m.MoveTo(i, done)
}

// Backend names the engine Run uses in this process: "io_uring", or "epoll" and why not
// io_uring.
func Backend() (string, error) { return compat.Backend() }
