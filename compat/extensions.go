package compat

import (
	"sync"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/ringset"
)

// uringnet's own options travel in the caller's list of gnet.Option, so that adding one is the
// same edit as adding any gnet option. An extension, applied to a gnet.Options, records itself
// under that Options' address; splitOptions applies each option to a scratch Options to tell
// ours from gnet's, and gnet (in the fallback) never sees ours.

// extensions are the settings gnet has no option for.
type extensions struct {
	rebalance *ringset.Rebalance
	neverPoll bool
}

// recorded holds an extension between its application to a scratch Options and splitOptions
// taking it back, by the scratch Options' address.
var recorded sync.Map // *gnet.Options → func(*extensions)

// extension makes a gnet.Option that sets part of the extensions.
func extension(set func(*extensions)) gnet.Option {
	return func(o *gnet.Options) { recorded.Store(o, set) }
}

// WithRebalance turns on the rebalancer (ringset.Rebalance): connections move, live, from a loop
// that stays busier than the others to the less busy ones. The zero Rebalance takes the
// defaults. gnet has no such option; under the epoll fallback it is left out.
func WithRebalance(r ringset.Rebalance) gnet.Option {
	return extension(func(x *extensions) { x.rebalance = &r })
}

// WithPacing(false) turns the loops' pacing off (ringset.Config.NeverPoll): a loop then waits
// in the kernel whenever its completion queue is empty, instead of polling for a moment after
// a busy batch. Pacing, on by default, saves wake-ups when the loops have CPUs to themselves;
// off suits loops that share their CPUs with CPU-bound threads, or whose handlers hand the
// work to goroutines. gnet has no such option; under the epoll fallback it is left out.
func WithPacing(on bool) gnet.Option {
	return extension(func(x *extensions) { x.neverPoll = !on })
}

// splitOptions separates uringnet's options from gnet's.
func splitOptions(opts []gnet.Option) ([]gnet.Option, extensions) {
	var x extensions
	var gnetOpts []gnet.Option
	for _, opt := range opts {
		scratch := new(gnet.Options)
		opt(scratch)
		if set, ok := recorded.LoadAndDelete(scratch); ok {
			set.(func(*extensions))(&x)
			continue
		}
		gnetOpts = append(gnetOpts, opt)
	}
	return gnetOpts, x
}
