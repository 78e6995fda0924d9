package compat

import (
	"context"
	"errors"
	"log"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/poller"
	"github.com/uringnet/uringnet/ringset"
)

// engine is one Run or Rotate on io_uring: a ringset.Set per address, all calling one handler.
type engine struct {
	handler  gnet.EventHandler
	mu       sync.Mutex  // guards bridges, which each set's OnBoot adds to
	bridges  []*bridge   // one per booted set, in address order
	down     atomic.Bool // shutting down or shut down
	stopOnce sync.Once
	stopped  chan struct{} // closed when every set has stopped
	tickDone chan struct{} // closed to end the ticker
}

// Engine is a running uringnet engine, as gnet.Engine is for gnet's (which cannot be made
// outside gnet). Get one with EngineFor. The zero Engine reports gnet's ErrEmptyEngine.
type Engine struct{ e *engine }

// Validate reports whether the engine is running: gnet's ErrEmptyEngine or
// ErrEngineInShutdown when it is not.
func (e Engine) Validate() error {
	if e.e == nil {
		return errorx.ErrEmptyEngine
	}
	return e.e.running()
}

// CountConnections is how many connections the engine serves, or -1 once it has stopped.
func (e Engine) CountConnections() int {
	if e.Validate() != nil {
		return -1
	}
	n := 0
	for _, b := range e.e.started() {
		n += b.set.CountConnections()
	}
	return n
}

// Dup returns a new descriptor for the engine's listener, which the caller must close; with
// several addresses (Rotate) it is gnet's ErrUnsupportedOp.
func (e Engine) Dup() (int, error) {
	if err := e.Validate(); err != nil {
		return -1, err
	}
	bs := e.e.started()
	if len(bs) != 1 {
		return -1, errorx.ErrUnsupportedOp
	}
	return bs[0].set.DupListener()
}

// Register serves a connection on the loop the engine's balancer picks, as gnet's
// Engine.Register does: ctx carries either a net.Conn (gnet.NewNetConnContext), which is adopted,
// or a net.Addr (gnet.NewNetAddrContext), which is dialed.
func (e Engine) Register(ctx context.Context) (<-chan gnet.RegisteredResult, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	// From OnBoot on (see bridge.OnBoot) there is at least the first address's set.
	b := e.e.started()[0]
	el := b.loops[b.set.PickLoop()]
	if c, ok := gnet.FromNetConnContext(ctx); ok {
		return el.Enroll(ctx, c)
	}
	if a, ok := gnet.FromNetAddrContext(ctx); ok {
		return el.Register(ctx, a)
	}
	return nil, errorx.ErrInvalidNetworkAddress
}

// Move moves c, one of the engine's connections, live to loop i of its address (see
// gconn.MoveTo); gnet's ErrUnsupportedOp for a connection that is not the engine's.
func (e Engine) Move(c gnet.Conn, i int, done func(error)) error {
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
	if err := e.Validate(); err != nil {
		return err
	}
	return e.e.stopAndWait(ctx)
}

func (e *engine) isShutdown() bool { return e.down.Load() }

// running is nil, or gnet's ErrEngineInShutdown once the engine is stopping.
func (e *engine) running() error {
	if e.isShutdown() {
		return errorx.ErrEngineInShutdown
	}
	return nil
}

// started returns the bridges of the sets booted so far.
func (e *engine) started() []*bridge {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bridges
}

// add records a booted set's bridge; one booted after the engine began stopping is stopped too.
func (e *engine) add(b *bridge) {
	e.mu.Lock()
	e.bridges = append(e.bridges, b)
	e.mu.Unlock()
	if e.isShutdown() {
		b.set.Stop()
	}
}

// stop begins shutting every set down; it returns at once.
func (e *engine) stop() {
	e.stopOnce.Do(func() {
		e.down.Store(true)
		close(e.tickDone)
		for _, b := range e.started() {
			b.set.Stop()
		}
	})
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

// engines maps each protoAddr being served to its engine (*engine, or fallbackEngine for one
// gnet serves), for Stop and EngineFor.
var engines sync.Map

type fallbackEngine struct{}

// EngineFor returns the engine serving protoAddr (from OnBoot on): what OnBoot's gnet.Engine
// would give under gnet. When gnet's own engine serves protoAddr (the fallback), or nothing
// does, it returns gnet's ErrEmptyEngine.
func EngineFor(protoAddr string) (Engine, error) {
	if v, ok := engines.Load(protoAddr); ok {
		if e, ok := v.(*engine); ok {
			return Engine{e}, nil
		}
	}
	return Engine{}, errorx.ErrEmptyEngine
}

// Stop stops the engine serving protoAddr, as gnet.Stop does (and through gnet.Stop when gnet's
// engine serves it): it returns once the engine has stopped, or ctx's error.
func Stop(ctx context.Context, protoAddr string) error {
	v, ok := engines.Load(protoAddr)
	if !ok {
		return errorx.ErrEngineInShutdown
	}
	if _, fallback := v.(fallbackEngine); fallback {
		return gnet.Stop(ctx, protoAddr)
	}
	e := v.(*engine)
	if e.isShutdown() {
		return errorx.ErrEngineInShutdown
	}
	return e.stopAndWait(ctx)
}

// Run serves protoAddr with h on io_uring, exactly as gnet.Run would serve it on epoll; it
// returns when the engine stops. Where io_uring cannot serve, it says why once and runs
// gnet.Run.
func Run(h gnet.EventHandler, protoAddr string, opts ...gnet.Option) error {
	return Rotate(h, []string{protoAddr}, opts...)
}

// Rotate serves several addresses with one handler, as gnet.Rotate does.
func Rotate(h gnet.EventHandler, addrs []string, opts ...gnet.Option) error {
	var networks, hosts []string
	for _, a := range addrs {
		n, host, err := parseProtoAddr(a)
		if err != nil {
			return err
		}
		networks, hosts = append(networks, n), append(hosts, host)
	}
	opts, x := splitOptions(opts)
	o := loadOptions(networks, opts)
	if slices.ContainsFunc(networks, func(n string) bool { return strings.HasPrefix(n, "tcp") }) {
		if err := keepAliveOption(o); err != nil {
			return err // gnet's Run fails on its TCP listener
		}
	}
	if err := fallbackReason(o); err != nil {
		return runFallback(h, addrs, o, opts, err)
	}
	e := &engine{handler: h, stopped: make(chan struct{}), tickDone: make(chan struct{})}
	for _, a := range addrs {
		engines.Store(a, e)
	}
	defer func() {
		for _, a := range addrs {
			engines.CompareAndDelete(a, e)
		}
	}()
	for i := range addrs {
		b := &bridge{eng: e, first: i == 0}
		if _, err := ringset.Start(config(networks[i], hosts[i], o, x), b); err != nil {
			e.stop()
			for _, b := range e.started() {
				b.set.Wait()
			}
			switch {
			case i == 0 && b.bootShutdown:
				return nil // OnBoot said Shutdown: gnet returns at once, without error
			case i == 0 && errors.Is(err, poller.ErrUnavailable):
				// The probe passed but a ring could not be set up (memory lock limit, say).
				return runFallback(h, addrs, o, opts, err)
			}
			return err
		}
	}
	logf(o, "uringnet: io_uring engine with %d event loops, listening on %s", numLoops(o), strings.Join(addrs, " | "))
	if o.Ticker {
		go e.tick()
	}
	var first error
	for _, b := range e.started() {
		if err := b.set.Wait(); err != nil && first == nil {
			first = err
		}
	}
	e.stop()
	close(e.stopped)
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

// fallbackReason says why gnet's own engine must serve (nil when io_uring can).
func fallbackReason(o *gnet.Options) error {
	if err := ringset.Available(nil); err != nil {
		return err
	}
	return unsupported(o)
}

// runFallback serves with gnet's epoll engine, saying why once.
func runFallback(h gnet.EventHandler, addrs []string, o *gnet.Options, opts []gnet.Option, why error) error {
	noteFallback(o, why)
	for _, a := range addrs {
		engines.Store(a, fallbackEngine{})
	}
	defer func() {
		for _, a := range addrs {
			engines.CompareAndDelete(a, fallbackEngine{})
		}
	}()
	return gnet.Rotate(h, addrs, opts...)
}

var fallbackOnce sync.Once

// noteFallback logs, once per process, that gnet's epoll engine serves instead and why.
func noteFallback(o *gnet.Options, why error) {
	fallbackOnce.Do(func() {
		logf(o, "uringnet: io_uring cannot serve (%v); running gnet's epoll engine", why)
	})
}

// logf logs through the application's gnet logger when it set one, else the standard logger.
func logf(o *gnet.Options, format string, args ...any) {
	if o.Logger != nil {
		o.Logger.Infof(format, args...)
		return
	}
	log.Printf(format, args...)
}

// Backend names the engine Run would use in this process: "io_uring", or "epoll" with the
// reason io_uring cannot serve.
func Backend() (string, error) {
	if err := ringset.Available(nil); err != nil {
		return "epoll", err
	}
	return "io_uring", nil
}
