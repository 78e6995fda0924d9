package compat_test

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/compat"
)

// WithPacing(false) reaches the loops as NeverPoll; pacing stays on by default, with
// WithPacing(true), and beside gnet's own options.
func TestWithPacing(t *testing.T) {
	for _, c := range []struct {
		name      string
		opts      []gnet.Option
		neverPoll bool
	}{
		{"default", nil, false},
		{"on", []gnet.Option{compat.WithPacing(true)}, false},
		{"off", []gnet.Option{compat.WithPacing(false)}, true},
		{"off among gnet's", []gnet.Option{gnet.WithNumEventLoop(3), compat.WithPacing(false), gnet.WithMulticore(true)}, true},
	} {
		cfg := compat.ConfigFor(c.opts...)
		if cfg.NeverPoll != c.neverPoll {
			t.Errorf("%s: NeverPoll %v, want %v", c.name, cfg.NeverPoll, c.neverPoll)
		}
		if c.name == "off among gnet's" && cfg.Loops != 3 {
			t.Errorf("%s: gnet's options were lost: %d loops", c.name, cfg.Loops)
		}
	}
}
