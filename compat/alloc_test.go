//go:build !race

// The race detector allocates on its own; `make test` runs this file in its pass without it.

package compat_test

import (
	"net"
	"testing"

	"github.com/uringnet/uringnet/compat"
	"github.com/uringnet/uringnet/internal/loopback"
)

// The echo steady state on the gnet face — a message arrives, the gnet.EventHandler's
// OnTraffic takes it with Next and writes it back, the loop sends it — allocates nothing, on
// the server or (with the standard library) on the client: what ringset's own test shows for
// the loop, with the gnet.Conn bridge in the path. AllocsPerRun counts every allocation in the
// process.
func TestGnetEchoSteadyStateAllocatesNothing(t *testing.T) {
	if name, _ := compat.Backend(); name != "io_uring" {
		t.Skip("io_uring unavailable here")
	}
	h := &echoServer{booted: make(chan struct{})}
	addr := freeAddr(t, "tcp")
	serve(t, uring, h, h.booted, []string{addr})
	network, a := dialAddr(addr)
	c, err := net.Dial(network, a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := loopback.EchoAllocs(t, c, 64, 2000); n > 0 {
		t.Fatalf("%v allocations per echoed message, want 0", n)
	}
}
