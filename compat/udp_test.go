package compat_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
)

// udpLoopUser answers each datagram after asking for its loop and closing it through the loop,
// as a gnet UDP handler may: EventLoop works, and EventLoop.Close of a datagram does nothing.
type udpLoopUser struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	closes chan error
	writev chan error
}

func (h *udpLoopUser) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *udpLoopUser) OnTraffic(c gnet.Conn) gnet.Action {
	el := c.EventLoop()
	if el == nil {
		h.closes <- net.ErrClosed
		return gnet.None
	}
	h.closes <- el.Close(c)
	_, err := c.Writev([][]byte{[]byte("no")})
	h.writev <- err
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

// A UDP handler may use its connection's loop; closing a datagram through it leaves the socket
// serving the next one. Writev on a datagram is refused as unsupported.
func TestUDPEventLoop(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &udpLoopUser{booted: make(chan struct{}), closes: make(chan error, 2), writev: make(chan error, 2)}
		addr := freeAddr(t, "udp")
		serve(t, e, h, h.booted, []string{addr})
		network, address := dialAddr(addr)
		c, err := net.Dial(network, address)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		for _, msg := range []string{"first", "second"} {
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != msg {
				t.Fatalf("echo of %q: %q, %v", msg, buf[:n], err)
			}
			if err := <-h.closes; err != nil {
				t.Fatalf("EventLoop().Close of a datagram: %v, want nil", err)
			}
			if err := <-h.writev; !errors.Is(err, errorx.ErrUnsupportedOp) {
				t.Fatalf("Writev on a datagram: %v, want ErrUnsupportedOp", err)
			}
		}
	})
}
