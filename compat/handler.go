package compat

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/ringset"
)

// bridge is a ringset.Handler that calls a gnet.EventHandler: one per set (per address).
type bridge struct {
	eng   *engine
	set   *ringset.Set
	loops []*eventLoop
	// first: this set's OnBoot is the engine's (with Rotate, the other sets' are not passed
	// on, so the handler hears of it once, when every listener is bound).
	first bool
	// network ("tcp", "udp" or "unix") and address are the listener's, as gnet names them
	// for DupListener; both empty for a client's set.
	network, address string
}

// attach gives the bridge its set, once it is prepared and before it serves.
func (b *bridge) attach(s *ringset.Set) {
	b.set = s
	for i := 0; i < s.NumLoops(); i++ {
		b.loops = append(b.loops, &eventLoop{b: b, idx: i})
	}
}

func (b *bridge) OnBoot(*ringset.Set) ringset.Action {
	if !b.first {
		return ringset.None
	}
	var action gnet.Action
	b.eng.withinCallback(func() { action = b.eng.handler.OnBoot(gnet.Engine{}) })
	if b.eng.client {
		return ringset.None // gnet's client ignores it
	}
	return ringset.Action(action)
}

// OnShutdown runs, for whichever set begins shutting down first, the handler's OnShutdown and
// then stops every other set: one address stopping stops them all, and none closes anything
// before the handler's OnShutdown has returned, as in gnet.
func (b *bridge) OnShutdown(*ringset.Set) { b.eng.shutdown() }

func (b *bridge) conn(c *conn.Conn) *gconn { return wrap(c, b) }

func (b *bridge) OnOpen(c *conn.Conn) ([]byte, ringset.Action) {
	g := b.conn(c)
	// gnet knows both addresses from accept on; here they are looked up now, on the loop (this
	// caches both), so that every callback (OnClose included, after the descriptor is gone) and
	// any goroutine has them.
	c.LocalAddr()
	out, action := b.eng.handler.OnOpen(g)
	return out, ringset.Action(action)
}

// OnClose runs as the close begins (the set reports closes first, as gnet does); once the
// handler returns, the connection is released as gnet releases it: both contexts are gone.
func (b *bridge) OnClose(c *conn.Conn, err error) ringset.Action {
	g := b.conn(c)
	g.action = action32(b.eng.handler.OnClose(g, closeError(err)))
	g.release()
	return ringset.Action(g.action)
}

func (b *bridge) OnTraffic(c *conn.Conn) ringset.Action {
	g := b.conn(c)
	g.action = action32(b.eng.handler.OnTraffic(g))
	return ringset.Action(g.action)
}

// OnTick is not used: gnet ticks on a goroutine of its own (engine.tick).
func (b *bridge) OnTick() (time.Duration, ringset.Action) { return time.Second, ringset.None }

// closeError is the error gnet's OnClose reports for a close uringnet reports as err: the
// peer's EOF and socket errors as *os.SyscallError of the failing "read" or "write".
func closeError(err error) error {
	if err == io.EOF {
		return os.NewSyscallError("read", io.EOF)
	}
	var oe *net.OpError
	var errno syscall.Errno
	if errors.As(err, &oe) && errors.As(oe.Err, &errno) {
		return os.NewSyscallError(oe.Op, errno)
	}
	return err
}
