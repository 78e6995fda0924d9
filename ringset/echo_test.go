package ringset

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

func TestEchoLoopsAndBalancers(t *testing.T) {
	for _, tc := range []struct {
		loops int
		lb    Balancer
	}{{1, RoundRobin}, {4, RoundRobin}, {4, LeastConnections}} {
		t.Run(fmt.Sprintf("%d-loops-%v", tc.loops, tc.lb), func(t *testing.T) {
			h := &echo{}
			s := startSet(t, Config{Loops: tc.loops, Balancer: tc.lb}, h)
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
			// Every connection reached its loop as a passed fixed descriptor.
			total := int64(0)
			for i := 0; i < s.NumLoops(); i++ {
				n := s.PassedDescriptors(i)
				if tc.loops > 1 && n == 0 {
					t.Errorf("loop %d received no descriptor", i)
				}
				total += n
			}
			if total != conns {
				t.Errorf("loops received %d descriptors by MSG_RING, want %d", total, conns)
			}
		})
	}
}
