package ringset

import (
	"hash/crc32"

	"fmt"
	"github.com/uringnet/uringnet/conn"
	"net"
	"sync"
	"testing"
)

func TestEchoLoopsAndBalancers(t *testing.T) {
	for _, tc := range []struct {
		loops     int
		lb        Balancer
		reusePort bool
	}{{1, RoundRobin, false}, {4, RoundRobin, false}, {4, LeastConnections, false}, {4, SourceAddrHash, false}, {1, RoundRobin, true}, {4, RoundRobin, true}} {
		name := fmt.Sprintf("%d-loops-%v", tc.loops, tc.lb)
		if tc.reusePort {
			name = fmt.Sprintf("%d-loops-reuseport", tc.loops)
		}
		t.Run(name, func(t *testing.T) {
			h := &echo{}
			s := startSet(t, Config{Loops: tc.loops, Balancer: tc.lb, ReusePort: tc.reusePort}, h)
			const conns = 32
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := 0; i < conns; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", s.Addr().String())
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					errs <- echoRoundTrip(c, 64<<10, uint64(i))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// By default every connection reaches its loop as a passed fixed descriptor; with
			// ReusePort each loop accepts its own and nothing is passed.
			total := int64(0)
			for i := 0; i < s.NumLoops(); i++ {
				n := s.PassedDescriptors(i)
				if tc.loops > 1 && n == 0 && !tc.reusePort {
					t.Errorf("loop %d received no descriptor", i)
				}
				total += n
			}
			want := int64(conns)
			if tc.reusePort {
				want = 0
			}
			if total != want {
				t.Errorf("loops received %d descriptors by MSG_RING, want %d", total, want)
			}
			if h.opened.Load() != conns {
				t.Errorf("%d connections opened, want %d", h.opened.Load(), conns)
			}
		})
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
