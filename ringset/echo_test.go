package ringset

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

func TestEchoLoopsAndBalancers(t *testing.T) {
	for _, tc := range []struct {
		loops     int
		lb        Balancer
		reusePort bool
	}{{1, RoundRobin, false}, {4, RoundRobin, false}, {4, LeastConnections, false}, {1, RoundRobin, true}, {4, RoundRobin, true}} {
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
