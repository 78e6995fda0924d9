package ringset

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// BenchmarkMove measures what moving a live connection costs: a one-byte echo round trip on
// its own, and after moving the connection to the other loop (ns/op of the second minus the
// first is the move, from Move to the first byte served on the target). arrive-ns is the part
// from Move to the connection serving on the target (the done callback).
func BenchmarkMove(b *testing.B) {
	o := opened{ch: make(chan *conn.Conn, 1)}
	s := startSet(b, Config{Loops: 2, Movable: true}, &hooks{open: o.add})
	client := dial(b, s)
	c := <-o.ch
	buf := []byte{1}
	roundTrip := func() {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := client.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("round-trip", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			roundTrip()
		}
	})
	b.Run("move+round-trip", func(b *testing.B) {
		done := make(chan time.Time, 1)
		var arrive time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if err := s.Move(c, (i+1)%2, func(err error) {
				if err != nil {
					b.Error(err)
				}
				done <- time.Now()
			}); err != nil {
				b.Fatal(err)
			}
			arrive += (<-done).Sub(start)
			roundTrip()
		}
		b.ReportMetric(float64(arrive.Nanoseconds())/float64(b.N), "arrive-ns/op")
	})
}

// pipeClient is an io_uring echo client: each connection keeps depth messages of 64 bytes in
// flight and checks every byte that comes back (each connection's messages repeat one byte).
type pipeClient struct {
	echo
	depth int
	msgs  atomic.Int64
	bad   atomic.Int64
}

func (p *pipeClient) message(c *conn.Conn) []byte {
	var m [64]byte
	for i := range m {
		m[i] = byte(c.Slot)
	}
	return m[:]
}

func (p *pipeClient) OnOpen(c *conn.Conn) ([]byte, Action) {
	for i := 0; i < p.depth; i++ {
		c.Write(p.message(c))
	}
	return nil, None
}

func (p *pipeClient) OnTraffic(c *conn.Conn) Action {
	n := c.InboundBuffered() / 64 * 64
	if n == 0 {
		return None
	}
	b, _ := c.Next(n)
	for i := range b {
		if b[i] != byte(c.Slot) {
			p.bad.Add(1)
			return Close
		}
	}
	for i := 0; i < n/64; i++ {
		c.Write(b[i*64 : i*64+64])
	}
	p.msgs.Add(int64(n / 64))
	return None
}

// BenchmarkRebalance measures echo throughput (64-byte messages, 128 connections, 4 in flight
// each, from an io_uring client in the same process) when source-address hash puts every
// connection on one of four loops, without and with the rebalancer. Run it with -benchtime 1x
// and -count N: the two alternate, and each run loads for 1.5 s (the rebalancer's turn) and
// then measures for 3 s.
func BenchmarkRebalance(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		var r *Rebalance
		if on {
			name, r = "on", &Rebalance{Interval: 100 * time.Millisecond}
		}
		b.Run(name, func(b *testing.B) {
			s := startSet(b, Config{Loops: 4, Balancer: SourceAddrHash, Rebalance: r}, &echo{})
			p := &pipeClient{depth: 4}
			cs := startSet(b, Config{Network: ""}, p)
			port := 22000 + int(time.Now().UnixNano()%20000)
			for i := 0; i < 128; i++ {
				nc := dialHashedTo(b, s, 4, 0, &port)
				if err := cs.AdoptConn(0, nc, Opening{}); err != nil {
					b.Fatal(err)
				}
				nc.Close()
			}
			time.Sleep(1500 * time.Millisecond)
			before, start := p.msgs.Load(), time.Now()
			time.Sleep(3 * time.Second)
			rate := float64(p.msgs.Load()-before) / time.Since(start).Seconds()
			if p.bad.Load() > 0 {
				b.Fatalf("%d connections echoed bytes they were not sent", p.bad.Load())
			}
			shares := loopShares(s)
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(100*max(shares[0], shares[1], shares[2], shares[3]), "max-loop-%")
			b.Logf("rebalancer %s: %.0f msgs/s, loop shares %.2f, %d moves", name, rate, shares, s.Moves())
		})
	}
}
