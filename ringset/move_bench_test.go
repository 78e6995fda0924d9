package ringset

import (
	"crypto/sha256"
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
		var arrive, first time.Duration
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
			t := time.Now()
			roundTrip()
			first += time.Since(t)
		}
		b.ReportMetric(float64(arrive.Nanoseconds())/float64(b.N), "arrive-ns/op")
		b.ReportMetric(float64(first.Nanoseconds())/float64(b.N), "first-rt-ns/op")
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

// workingEcho echoes after working on each message (hashing it rounds times), as a server
// with real work per request does: that work, not the socket calls, is what a loop holding too
// many busy connections runs out of CPU for.
type workingEcho struct {
	echo
	rounds int
}

func (w *workingEcho) OnTraffic(c *conn.Conn) Action {
	b, _ := c.Next(-1)
	for m := b; len(m) >= 64; m = m[64:] {
		sum := sha256.Sum256(m[:64])
		for i := 1; i < w.rounds; i++ {
			sum = sha256.Sum256(sum[:])
		}
		if sum[0] == 0 && sum[1] == 0 && sum[2] == 0 && sum[3] == 0 {
			c.Close() // never, in practice: keeps the work from being optimised away
		}
	}
	c.Write(b)
	return None
}

// BenchmarkRebalance measures echo throughput (64-byte messages, each hashed 200 times by the
// server, 128 connections with 4 messages in flight each, from an io_uring client in the same
// process) when source-address hash puts every connection on one of four loops, without and
// with the rebalancer. Each run loads for 1.5 s (the rebalancer's turn), then measures for 3 s.
// For alternating samples, run it several times with -benchtime 1x -count 1: each run does
// "off" then "on".
func BenchmarkRebalance(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		var r *Rebalance
		if on {
			name, r = "on", &Rebalance{Interval: 100 * time.Millisecond}
		}
		b.Run(name, func(b *testing.B) {
			s := startSet(b, Config{Loops: 4, Balancer: SourceAddrHash, Rebalance: r}, &workingEcho{rounds: 200})
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
