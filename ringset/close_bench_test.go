package ringset

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// BenchmarkCloseAtOnce closes n idle connections of one loop at once, as when every client
// leaves together, and reports the time from the first close to the last OnClose over n:
// constant in n when each close finds its operations without walking the ring.
func BenchmarkCloseAtOnce(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			o := &opened{ch: make(chan *conn.Conn, n)}
			s := startSet(b, Config{}, &hooks{open: o.add})
			var took time.Duration
			for range b.N {
				b.StopTimer()
				peers := make([]net.Conn, 0, n)
				conns := make([]*conn.Conn, 0, n)
				for range n {
					c, err := net.Dial("tcp", s.Addr().String())
					if err != nil {
						b.Fatal(err)
					}
					peers = append(peers, c)
					conns = append(conns, <-o.ch)
				}
				start := time.Now()
				b.StartTimer()
				if err := s.Post(0, func() {
					for _, c := range conns {
						s.loops[0].CloseConn(c, nil)
					}
				}); err != nil {
					b.Fatal(err)
				}
				waitUntil(b, time.Minute, func() bool { return s.CountConnections() == 0 })
				b.StopTimer()
				took += time.Since(start)
				for _, p := range peers {
					p.Close()
				}
			}
			b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*n), "ns/close")
		})
	}
}
