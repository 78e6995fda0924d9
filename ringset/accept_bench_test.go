package ringset

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// closer closes every connection as soon as it opens.
type closer struct{ echo }

func (*closer) OnOpen(*conn.Conn) ([]byte, Action) { return nil, Close }

// BenchmarkAccept measures connections accepted and served (opened, closed) per second, with
// 4 loops: the acceptor ring passing each connection's descriptor by MSG_RING, against every
// loop accepting on its own SO_REUSEPORT listener. Clients dial from 8 goroutines and wait for
// the server's close.
func BenchmarkAccept(b *testing.B) {
	for _, mode := range []struct {
		name      string
		reusePort bool
	}{{"msg-ring-hand-off", false}, {"reuseport", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := startSet(b, Config{Loops: 4, ReusePort: mode.reusePort, Backlog: 4096}, &closer{})
			addr := s.Addr().String()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + 7) / 8
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 1)
					for i := 0; i < per; i++ {
						c, err := net.Dial("tcp", addr)
						if err != nil {
							b.Error(err)
							return
						}
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						c.Read(buf) // EOF once the server has served and closed it
						c.Close()
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*8)/time.Since(start).Seconds(), "conns/s")
		})
	}
}
