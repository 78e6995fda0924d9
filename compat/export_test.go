package compat

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/ringset"
)

// ConfigFor is the ringset configuration Run would serve tcp://127.0.0.1:0 with under opts.
func ConfigFor(opts ...gnet.Option) ringset.Config {
	opts, x := splitOptions(opts)
	return config("tcp", "127.0.0.1:0", loadOptions([]string{"tcp"}, opts), x)
}
