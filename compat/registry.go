package compat

import (
	"context"
	"reflect"
	"sync"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/internal/goroutine"
)

// A running engine is found by the handler it runs (EngineOf) or by an address it serves
// (EngineFor, Stop), from the handler's OnBoot until Run returns.

var (
	// engines maps each protoAddr being served to its engine (*engine, or fallbackEngine for
	// one gnet serves).
	engines sync.Map
	// handles maps each handler being run to its engine.
	handles sync.Map
)

type fallbackEngine struct{}

// handlerKey is h as a map key; a handler whose type cannot be compared (a struct value holding
// a slice, say) has none, and no engine is found by it.
func handlerKey(h gnet.EventHandler) (any, bool) {
	if h == nil || !reflect.TypeOf(h).Comparable() {
		return nil, false
	}
	return h, true
}

// register makes e findable by its handler and its addresses.
func register(h gnet.EventHandler, addrs []string, e *engine) {
	if k, ok := handlerKey(h); ok {
		handles.Store(k, e)
	}
	for _, a := range addrs {
		engines.Store(a, e)
	}
}

// unregister undoes register, unless another engine took the handler or an address since.
func unregister(h gnet.EventHandler, addrs []string, e *engine) {
	if k, ok := handlerKey(h); ok {
		handles.CompareAndDelete(k, e)
	}
	for _, a := range addrs {
		engines.CompareAndDelete(a, e)
	}
}

// EngineOf returns the engine running h, from h's OnBoot until Run (or Rotate) returns: what
// OnBoot's gnet.Engine is under gnet. A copy kept past that goes on reporting gnet's
// ErrEngineInShutdown. It reports false when no io_uring engine runs h (gnet's own engine serves
// it, or h's type cannot be compared).
func EngineOf(h gnet.EventHandler) (Engine, bool) {
	k, ok := handlerKey(h)
	if !ok {
		return Engine{}, false
	}
	if v, ok := handles.Load(k); ok {
		return Engine{e: v.(*engine)}, true
	}
	return Engine{}, false
}

// BootEngine returns the engine a handler's OnBoot or OnShutdown is given e for, for the handler
// to keep (for Stop on a signal, CountConnections in OnTick): under gnet's own engine (the
// fallback) that is e itself; on io_uring, where e is gnet.Engine{}, it is the engine running h
// (EngineOf), or else the one whose OnBoot or OnShutdown is running on the calling goroutine (a
// handler with a value receiver is a copy that EngineOf cannot find). It is what uringnet-migrate
// puts at the top of OnBoot and OnShutdown.
func BootEngine(h gnet.EventHandler, e gnet.Engine) Engine {
	if e != (gnet.Engine{}) {
		return Engine{g: e}
	}
	if eng, ok := EngineOf(h); ok {
		return eng
	}
	if v, ok := inCallback.Load(goroutine.ID()); ok {
		return Engine{e: v.(*engine)}
	}
	return Engine{}
}

// inCallback maps the goroutine running a handler's OnBoot or OnShutdown to its engine, while it
// runs (see BootEngine).
var inCallback sync.Map

// withinCallback runs f, one of the handler's OnBoot or OnShutdown, as e's (a client's engine is
// nobody's: gnet's answers ErrEmptyEngine there).
func (e *engine) withinCallback(f func()) {
	if e.client {
		f()
		return
	}
	id := goroutine.ID()
	inCallback.Store(id, e)
	defer inCallback.Delete(id)
	f()
}

// EngineFor returns the engine serving protoAddr (from OnBoot on). When gnet's own engine
// serves protoAddr (the fallback), or nothing does, it returns gnet's ErrEmptyEngine. Two
// engines serving one address (WithReusePort) are told apart only by EngineOf.
func EngineFor(protoAddr string) (Engine, error) {
	if v, ok := engines.Load(protoAddr); ok {
		if e, ok := v.(*engine); ok {
			return Engine{e: e}, nil
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
	if e.down.Load() {
		return errorx.ErrEngineInShutdown
	}
	return e.stopAndWait(ctx)
}
