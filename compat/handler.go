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
	set   *ringset.Set // from OnBoot on
	loops []*eventLoop
	// first: this set's OnBoot and OnShutdown are the engine's (with Rotate, the other sets'
	// are not passed on, so the handler hears of each once).
	first bool
	// bootShutdown: OnBoot returned Shutdown, which ends Run without an error.
	bootShutdown bool
}

// OnBoot records the set with the engine before the handler's OnBoot runs, so that the engine
// (EngineFor) can Register connections from the handler's OnBoot on.
func (b *bridge) OnBoot(s *ringset.Set) ringset.Action {
	b.set = s
	for i := 0; i < s.NumLoops(); i++ {
		b.loops = append(b.loops, &eventLoop{b: b, idx: i})
	}
	b.eng.add(b)
	if !b.first {
		return ringset.None
	}
	action := b.eng.handler.OnBoot(gnet.Engine{})
	b.bootShutdown = action == gnet.Shutdown
	return ringset.Action(action)
}

func (b *bridge) OnShutdown(*ringset.Set) {
	if b.first {
		b.eng.handler.OnShutdown(gnet.Engine{})
	}
	b.eng.stop() // one address stopping stops them all
}

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

func (b *bridge) OnClose(c *conn.Conn, err error) ringset.Action {
	return ringset.Action(b.eng.handler.OnClose(b.conn(c), closeError(err)))
}

func (b *bridge) OnTraffic(c *conn.Conn) ringset.Action {
	return ringset.Action(b.eng.handler.OnTraffic(b.conn(c)))
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
