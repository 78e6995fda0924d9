package ringset

import (
	"fmt"
	"hash/crc32"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialHashedTo dials s from a local port that gnet's source-address hash places on loop k of
// loops, so that a test can put every connection on one loop.
func dialHashedTo(t testing.TB, s *Set, loops, k int, port *int) net.Conn {
	t.Helper()
	for ; *port < 65000; *port++ {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port}
		if int(crc32.ChecksumIEEE([]byte(local.String()))%uint32(loops)) != k {
			continue
		}
		d := net.Dialer{LocalAddr: local}
		c, err := d.Dial("tcp", s.Addr().String())
		if err != nil {
			continue // the port is in use
		}
		*port++
		return c
	}
	t.Fatal("no free local port hashes to the loop")
	return nil
}

// echoLoad runs echoStream on every client until stop closes; wait returns the errors.
func echoLoad(clients []net.Conn, stop <-chan struct{}) (wait func() []error, verified *atomic.Int64) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	verified = new(atomic.Int64)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echoStream(c, uint64(i), stop, verified); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("client %d: %w", i, err))
				mu.Unlock()
			}
		}()
	}
	return func() []error { wg.Wait(); return errs }, verified
}

// loopShares is the share of the set's connections each loop holds.
func loopShares(s *Set) []float64 {
	total := float64(s.CountConnections())
	shares := make([]float64, s.NumLoops())
	for i, l := range s.loops {
		shares[i] = float64(l.count.Load()) / total
	}
	return shares
}

// With source-address hash putting every connection on one of four loops, the rebalancer
// spreads them under load, without losing a byte, until no loop holds more than its threshold
// over the mean (1.5 × a quarter). The first shed has to land near even: a loop left with
// well over its share of the connections can be within the threshold in CPU time (a loop with
// more connections spends less CPU on each) and is not shed from again (docs/engine.md, "The
// rebalancer").
func TestRebalanceSpreadsHashedLoad(t *testing.T) {
	const loops, conns = 4, 200
	s := startSet(t, Config{Loops: loops, Balancer: SourceAddrHash, Rebalance: &Rebalance{Interval: 100 * time.Millisecond}}, &echo{})
	clients := make([]net.Conn, conns)
	port := 20000
	for i := range clients {
		clients[i] = dialHashedTo(t, s, loops, 0, &port)
		defer clients[i].Close()
	}
	waitUntil(t, 10*time.Second, func() bool { return s.CountConnections() >= conns })
	if n := s.loops[0].count.Load(); n != conns {
		t.Fatalf("loop 0 holds %d of %d connections before the load", n, conns)
	}
	bound := (1 + s.rebal.cfg.Threshold) / loops
	stop := make(chan struct{})
	wait, verified := echoLoad(clients, stop)
	start := time.Now()
	var shares []float64
	for time.Since(start) < 15*time.Second {
		time.Sleep(50 * time.Millisecond)
		shares = loopShares(s)
		if max(shares[0], shares[1], shares[2], shares[3]) <= bound {
			break
		}
	}
	spread := time.Since(start)
	close(stop)
	for _, err := range wait() {
		t.Error(err)
	}
	t.Logf("after %v: shares %.2f, %d moves, %d bytes verified", spread.Round(time.Millisecond), shares, s.Moves(), verified.Load())
	if max(shares[0], shares[1], shares[2], shares[3]) > bound {
		t.Fatalf("a loop still holds more than %.1f%% of the connections after %v: %.2f", 100*bound, spread, shares)
	}
}

// Under a load that is already even, the rebalancer moves nothing.
func TestRebalanceLeavesEvenLoadAlone(t *testing.T) {
	const loops, conns = 4, 200
	s := startSet(t, Config{Loops: loops, Rebalance: &Rebalance{}}, &echo{})
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial(t, s)
	}
	stop := make(chan struct{})
	wait, verified := echoLoad(clients, stop)
	time.Sleep(4 * time.Second) // sixteen intervals of the default 250 ms
	close(stop)
	for _, err := range wait() {
		t.Error(err)
	}
	if verified.Load() == 0 {
		t.Fatal("no load ran")
	}
	if n := s.Moves(); n != 0 {
		t.Fatalf("the rebalancer moved %d connections of an even load; shares %.2f", n, loopShares(s))
	}
}
