package compat

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// engine is one Run, Rotate or Client on io_uring: a ringset.Set per address (one that listens
// nowhere for a client), all calling one handler. Its life follows gnet's engine: its handle
// works from OnBoot on (Register only once OnBoot has returned and the loops serve), through
// OnShutdown, and reports gnet's ErrEngineInShutdown once every set has stopped.
type engine struct {
	handler gnet.EventHandler
	logger  logging.Logger
	// client: a Client's engine, which, like gnet's client engine, listens nowhere and answers
	// ErrEmptyEngine to everything (see withinCallback).
	client bool
	// bridges is one per address, in address order; every set is prepared (its listener
	// bound) before OnBoot runs, and the slice does not change after.
	bridges  []*bridge
	serving  atomic.Bool // OnBoot returned and the loops serve
	stopping atomic.Bool // stop was asked for
	down     atomic.Bool // every set has stopped
	stopOnce sync.Once
	// shutdownOnce runs the handler's OnShutdown once, before any set begins to close.
	shutdownOnce sync.Once
	downOnce     sync.Once
	stopped      chan struct{} // closed when every set has stopped
	tickDone     chan struct{} // closed to end the ticker
}

func newEngine(h gnet.EventHandler, logger logging.Logger) *engine {
	return &engine{handler: h, logger: logger, stopped: make(chan struct{}), tickDone: make(chan struct{})}
}

// Engine is a running uringnet engine, as gnet.Engine is for gnet's (which cannot be made
// outside gnet). Get one with EngineOf or EngineFor, or BootEngine, which also stands for
// gnet's own engine where it serves instead (the fallback). The zero Engine reports gnet's
// ErrEmptyEngine.
type Engine struct {
	e *engine
	// g is gnet's own engine, when it serves instead (BootEngine under the fallback): every
	// method is then its.
	g gnet.Engine
}

// Validate reports whether the engine can be used: gnet's ErrEmptyEngine for the zero Engine,
// ErrEngineInShutdown once it has stopped.
func (e Engine) Validate() error {
	if e.e == nil {
		return e.g.Validate()
	}
	if e.e.down.Load() {
		return errorx.ErrEngineInShutdown
	}
	return nil
}

// CountConnections is how many connections the engine serves (a connection counts from its
// OnOpen until its OnClose), or -1 once it has stopped.
func (e Engine) CountConnections() int {
	if e.e == nil {
		return e.g.CountConnections()
	}
	if e.Validate() != nil {
		return -1
	}
	n := 0
	for _, b := range e.e.bridges {
		n += b.set.CountConnections()
	}
	return n
}

// Dup returns a new descriptor for the engine's listener, which the caller must close; with
// several addresses (Rotate) it is gnet's ErrUnsupportedOp: use DupListener.
func (e Engine) Dup() (int, error) {
	if e.e == nil {
		return e.g.Dup()
	}
	if err := e.Validate(); err != nil {
		return -1, err
	}
	if len(e.e.bridges) != 1 {
		return -1, errorx.ErrUnsupportedOp
	}
	return e.e.bridges[0].set.DupListener()
}

// DupListener returns a new descriptor for the listener of network ("tcp", "udp" or "unix", as
// gnet names them) and address (as given to Run or Rotate), which the caller must close; gnet's
// ErrInvalidNetworkAddress when the engine has no such listener.
func (e Engine) DupListener(network, address string) (int, error) {
	if e.e == nil {
		return e.g.DupListener(network, address)
	}
	if err := e.Validate(); err != nil {
		return -1, err
	}
	for _, b := range e.e.bridges {
		if b.network == network && b.address == address {
			return b.set.DupListener()
		}
	}
	return -1, errorx.ErrInvalidNetworkAddress
}

// Register serves a connection on the loop the engine's balancer picks, as gnet's
// Engine.Register does: ctx carries either a net.Conn (gnet.NewNetConnContext), which is
// enrolled, or a net.Addr (gnet.NewNetAddrContext), which is dialed. As in gnet, there are no
// loops to register with until OnBoot has returned (ErrEmptyEngine).
func (e Engine) Register(ctx context.Context) (<-chan gnet.RegisteredResult, error) {
	if e.e == nil {
		return e.g.Register(ctx)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if !e.e.serving.Load() {
		return nil, errorx.ErrEmptyEngine
	}
	if c, ok := gnet.FromNetConnContext(ctx); ok {
		return e.e.loopFor(c.RemoteAddr()).Enroll(ctx, c)
	}
	if a, ok := gnet.FromNetAddrContext(ctx); ok {
		return e.e.loopFor(a).Register(ctx, a)
	}
	return nil, errorx.ErrInvalidNetworkAddress
}

// Move moves c, one of the engine's connections, live to loop i of its address (see
// gconn.MoveTo); gnet's ErrUnsupportedOp for a connection that is not the engine's.
func (e Engine) Move(c gnet.Conn, i int, done func(error)) error {
	if e.e == nil {
		return errorx.ErrUnsupportedOp // gnet's engine moves nothing
	}
	if err := e.Validate(); err != nil {
		return err
	}
	g, ok := c.(*gconn)
	if !ok || g.b.eng != e.e {
		return errorx.ErrUnsupportedOp
	}
	return g.MoveTo(i, done)
}

// Stop shuts the engine down and waits, until ctx ends, for it to finish.
func (e Engine) Stop(ctx context.Context) error {
	if e.e == nil {
		return e.g.Stop(ctx)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return e.e.stopAndWait(ctx)
}

// serve lets every prepared set serve, the first calling the handler's OnBoot. When OnBoot asks
// to shut down, or panics (the panic goes on to Run's caller, as from gnet.Run), every set is
// taken down and the engine has stopped when serve returns.
func (e *engine) serve() (err error) {
	served := 0
	defer func() {
		if served == len(e.bridges) {
			return
		}
		r := recover()
		for _, later := range e.bridges[served+1:] {
			later.set.Abandon()
		}
		e.stop()
		e.wait()
		if r != nil {
			panic(r)
		}
	}()
	for _, b := range e.bridges {
		if err := b.set.Serve(); err != nil {
			return err
		}
		served++
		e.serving.Store(true) // OnBoot has returned: the first set's loops take registrations
	}
	return nil
}

// loopFor is the loop of the first address's set that the balancer picks for a connection
// with peer addr.
func (e *engine) loopFor(addr net.Addr) *eventLoop {
	b := e.bridges[0]
	return b.loops[b.set.PickLoop(addr)]
}

// inShutdown is gnet's check before an event loop takes work: nil, or ErrEngineInShutdown once
// the engine has stopped.
func (e *engine) inShutdown() error {
	if e.down.Load() {
		return errorx.ErrEngineInShutdown
	}
	return nil
}

// stop begins shutting every set down; it returns at once. Each set, as it begins, has the
// handler's OnShutdown run first (see bridge.OnShutdown).
func (e *engine) stop() {
	e.stopOnce.Do(func() {
		e.stopping.Store(true)
		close(e.tickDone)
		for _, b := range e.bridges {
			b.set.Stop()
		}
	})
}

// shutdown runs the handler's OnShutdown once, and stops every set; every set that begins
// shutting down calls it first, so none closes anything before OnShutdown has returned.
func (e *engine) shutdown() {
	e.shutdownOnce.Do(func() { e.withinCallback(func() { e.handler.OnShutdown(gnet.Engine{}) }) })
	e.stop()
}

func (e *engine) stopAndWait(ctx context.Context) error {
	e.stop()
	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait waits for every set to stop, marks the engine down and returns the first error that
// stopped a set.
func (e *engine) wait() error {
	var first error
	for _, b := range e.bridges {
		if err := b.set.Wait(); err != nil && first == nil {
			first = err
		}
	}
	e.stop()
	e.downOnce.Do(func() {
		e.down.Store(true)
		close(e.stopped)
	})
	return first
}

// tick calls OnTick on a goroutine of its own, as gnet does: at once, then after each delay it
// returns, until the engine stops; Shutdown stops the engine.
func (e *engine) tick() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-e.tickDone:
			return
		case <-timer.C:
		}
		delay, action := e.handler.OnTick()
		if action == gnet.Shutdown {
			e.stop()
			return
		}
		timer.Reset(delay)
	}
}
