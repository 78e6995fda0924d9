package ringset

import (
	"hash/crc32"
	"path/filepath"

	"fmt"
	"github.com/uringnet/uringnet/conn"
	"net"
	"testing"
)

// Echo over every stream network, with one loop and four, under each way of spreading
// connections: the acceptor's balancers (every connection reaches its loop as a fixed
// descriptor passed by MSG_RING) and SO_REUSEPORT (each loop accepts its own; nothing passed).
func TestEchoMatrix(t *testing.T) {
	networks := []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}, {"unix", ""}}
	modes := []struct {
		name      string
		lb        Balancer
		reusePort bool
	}{{"round-robin", RoundRobin, false}, {"least-connections", LeastConnections, false},
		{"source-addr-hash", SourceAddrHash, false}, {"reuseport", RoundRobin, true}}
	for _, nw := range networks {
		for _, loops := range []int{1, 4} {
			for _, m := range modes {
				if nw.network == "unix" && m.reusePort {
					continue // SO_REUSEPORT is for TCP; Start refuses it (TestBadAddresses)
				}
				t.Run(fmt.Sprintf("%s/%d-loops/%s", nw.network, loops, m.name), func(t *testing.T) {
					addr := nw.addr
					if nw.network == "unix" {
						addr = filepath.Join(t.TempDir(), "s")
					}
					if nw.network == "tcp6" {
						if ln, err := net.Listen("tcp6", addr); err != nil {
							t.Skipf("no IPv6 loopback on this machine: %v", err)
						} else {
							ln.Close()
						}
					}
					h := &echo{}
					s := startSet(t, Config{Network: nw.network, Address: addr, Loops: loops,
						Balancer: m.lb, ReusePort: m.reusePort}, h)
					echoMatrixPoint(t, s, h, loops, m.reusePort)
				})
			}
		}
	}
}

func echoMatrixPoint(t *testing.T, s *Set, h *echo, loops int, reusePort bool) {
	const conns = 16
	if failed, first := eachClient(s, conns, conns, func(i int, c net.Conn) error {
		defer c.Close()
		return echoRoundTrip(c, 32<<10, uint64(i))
	}); failed > 0 {
		t.Fatalf("%d of %d connections failed; first: %v", failed, conns, first)
	}
	passed := int64(0)
	for i := 0; i < s.NumLoops(); i++ {
		passed += s.PassedDescriptors(i)
	}
	want := int64(conns)
	if reusePort {
		want = 0
	}
	if passed != want {
		t.Errorf("loops received %d descriptors by MSG_RING, want %d", passed, want)
	}
	if h.opened.Load() != conns {
		t.Errorf("%d connections opened, want %d", h.opened.Load(), conns)
	}
}

// With round-robin over four loops, every loop gets its share of passed descriptors.
func TestRoundRobinPassesToEveryLoop(t *testing.T) {
	s := startSet(t, Config{Loops: 4}, &echo{})
	for i := 0; i < 8; i++ {
		if err := echoRoundTrip(dial(t, s), 100, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if n := s.PassedDescriptors(i); n != 2 {
			t.Errorf("loop %d received %d descriptors, want 2 of 8", i, n)
		}
	}
}

// With SourceAddrHash a connection goes to the loop gnet's hash names: crc32 of the peer's
// "ip:port", modulo the loops.
func TestSourceAddrHashPlacesLikeGnet(t *testing.T) {
	type placed struct {
		remote string
		loop   int
	}
	got := make(chan placed, 64)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) {
		got <- placed{c.RemoteAddr().String(), c.Loop().Index()}
		return nil, None
	}}
	s := startSet(t, Config{Loops: 4, Balancer: SourceAddrHash}, h)
	used := map[int]bool{}
	for i := 0; i < 32; i++ {
		c := dial(t, s)
		p := <-got
		if p.remote != c.LocalAddr().String() {
			t.Fatalf("connection reported peer %s, the client is %s", p.remote, c.LocalAddr())
		}
		if want := int(crc32.ChecksumIEEE([]byte(p.remote)) % 4); p.loop != want {
			t.Fatalf("peer %s on loop %d, gnet's hash says %d", p.remote, p.loop, want)
		}
		used[p.loop] = true
	}
	if len(used) < 2 {
		t.Fatalf("32 connections all hashed to one loop: %v", used)
	}
}
