package compat

import (
	"context"
	"reflect"
	"sync"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
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
		return Engine{v.(*engine)}, true
	}
	return Engine{}, false
}

// EngineFor returns the engine serving protoAddr (from OnBoot on). When gnet's own engine
// serves protoAddr (the fallback), or nothing does, it returns gnet's ErrEmptyEngine. Two
// engines serving one address (WithReusePort) are told apart only by EngineOf.
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
	if e.down.Load() {
		return errorx.ErrEngineInShutdown
	}
	return e.stopAndWait(ctx)
}
