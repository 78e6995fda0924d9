//go:build !poll_opt

package netpoll_test

import (
	"strings"
	"testing"

	"github.com/uringnet/uringnet/compat/netpoll"
)

// URINGNET_DISABLE=1 gives gnet's epoll Poller from OpenPoller itself, and Backend says so
// and why; without it, the ring serves.
func TestOpenPollerFallsBackWhenDisabled(t *testing.T) {
	if backend, err := netpoll.Backend(); backend != "io_uring" {
		t.Fatalf("Backend() = %q (%v) on a kernel with io_uring", backend, err)
	}
	t.Setenv("URINGNET_DISABLE", "1")
	backend, err := netpoll.Backend()
	if backend != "epoll" || err == nil || !strings.Contains(err.Error(), "URINGNET_DISABLE=1") {
		t.Fatalf("Backend() = %q, %v; want epoll and the reason", backend, err)
	}
	p, err := netpoll.OpenPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Serving() != "epoll" {
		t.Fatalf("OpenPoller with URINGNET_DISABLE=1 serves on %q", p.Serving())
	}
}
