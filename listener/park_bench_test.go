package listener

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uringnet/uringnet/internal/loopback"
)

// How a goroutine blocked in Read or Write waits for the loop: the alternatives measured, as a
// hand-off from a "loop" goroutine to a parked one and back (one wake-up each way).

// BenchmarkParkChannel: a one-token channel each way, what Conn uses (the deadline's timer,
// Close and the loop's close put a token in it too, so nothing else is waited on).
func BenchmarkParkChannel(b *testing.B) {
	ping, pong := make(chan struct{}, 1), make(chan struct{}, 1)
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	for i := 0; i < b.N; i++ {
		ping <- struct{}{}
		<-pong
	}
	close(ping)
}

// BenchmarkParkChannelSelect: the same with the select Conn did before (wake-up, deadline,
// Close, connection closed).
func BenchmarkParkChannelSelect(b *testing.B) {
	ping, pong := make(chan struct{}, 1), make(chan struct{}, 1)
	dl, closed, dead := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	for i := 0; i < b.N; i++ {
		ping <- struct{}{}
		select {
		case <-pong:
		case <-dl:
		case <-closed:
		case <-dead:
		}
	}
	close(ping)
}

// BenchmarkParkCond: a mutex and a condition variable each way.
func BenchmarkParkCond(b *testing.B) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	turn := 0 // 1: the other goroutine's turn
	done := false
	go func() {
		mu.Lock()
		for {
			for turn != 1 && !done {
				cond.Wait()
			}
			if done {
				mu.Unlock()
				return
			}
			turn = 0
			cond.Broadcast()
		}
	}()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		turn = 1
		cond.Broadcast()
		for turn != 0 {
			cond.Wait()
		}
		mu.Unlock()
	}
	mu.Lock()
	done = true
	cond.Broadcast()
	mu.Unlock()
}

// BenchmarkParkMutexHandoff: a locked mutex each way, unlocked by the waker (sync's semaphore).
func BenchmarkParkMutexHandoff(b *testing.B) {
	var ping, pong sync.Mutex
	ping.Lock()
	pong.Lock()
	var stop atomic.Bool
	go func() {
		for {
			ping.Lock()
			if stop.Load() {
				return
			}
			pong.Unlock()
		}
	}()
	for i := 0; i < b.N; i++ {
		ping.Unlock()
		pong.Lock()
	}
	stop.Store(true)
	ping.Unlock()
}

// The whole path, 64-byte round trips over loopback: Conn on each of its paths (the ring's
// parked Read and batched Write; the poller's, which is net's), against net's own.

func roundTrips(b *testing.B, c net.Conn, write func([]byte) error) {
	msg, got := make([]byte, 64), make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
}

// echoPeer echoes on a standard connection until it ends.
func echoPeer(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		c.Write(buf[:n])
	}
}

func BenchmarkRoundTripConn(b *testing.B) {
	for _, m := range []struct {
		name string
		mode int32
	}{{"poller", pathsPoller}, {"ring", pathsRing}} {
		b.Run(m.name, func(b *testing.B) {
			forcePath(b, m.mode)
			c, peer := connPair(b)
			go echoPeer(peer)
			roundTrips(b, c, func(p []byte) error { _, err := c.Write(p); return err })
		})
	}
}

func BenchmarkRoundTripNet(b *testing.B) {
	c, peer := loopback.TCPPair(b)
	go echoPeer(peer)
	roundTrips(b, c, func(p []byte) error { _, err := c.Write(p); return err })
}
