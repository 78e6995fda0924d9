package server

import "github.com/panjf2000/gnet/v2"

// gnetHandler runs a Handler as a gnet.EventHandler, for uringnet.Run and gnet.Run alike.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	h      Handler
	booted chan struct{}
}

// OnOpen gives each connection its own reply scratch, reused for every reply.
func (g *gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(new([]byte))
	return nil, gnet.None
}

func (g *gnetHandler) OnBoot(gnet.Engine) gnet.Action {
	close(g.booted)
	return gnet.None
}

func (g *gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	scratch := c.Context().(*[]byte)
	n, reply := g.h(in, *scratch)
	if n < 0 {
		return gnet.Close
	}
	if len(reply) > 0 {
		c.Write(reply)
	}
	if !sameStart(reply, in) {
		*scratch = reply[:0] // keep what append grew
	}
	if n > 0 { // Discard(0) would discard everything
		c.Discard(n)
	}
	return gnet.None
}
