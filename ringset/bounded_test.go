package ringset

// Bounded memory: a connection whose application does not consume stops being read, and a
// shutdown under load leaves nothing behind.

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/leakcheck"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// A handler that never consumes: receiving stops at the inbound limit, so a connection holds at
// most the limit plus one read buffer however long its peer floods, and when the handler drains,
// receiving resumes and every byte arrives. With CapRecvLimit receives are multishot, limited to
// the connection's budget; without (forced here, as on kernels before it) they are single-shot.
func TestBackPressure(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("multishot-limited", func(t *testing.T) {
		requireCap(t, f, poller.CapRecvLimit)
		backPressure(t, &f)
	})
	t.Run("single-shot", func(t *testing.T) {
		without := f.Without(poller.CapRecvLimit)
		backPressure(t, &without)
	})
}

// backPressure floods a handler that does not consume and checks that no connection holds more
// than the inbound limit plus slack, that a paused connection takes nothing more, and that
// every byte arrives once the handler drains.
func backPressure(t *testing.T, f *poller.Features) {
	const limit, bufSize = 64 << 10, 16 << 10
	const slack = bufSize // the receive that reaches the limit may carry one more buffer
	var draining atomic.Bool
	var received atomic.Int64
	var mu sync.Mutex
	held := map[*conn.Conn]int{}
	conns := make(chan *conn.Conn, 256)
	h := &hooks{
		open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None },
		traffic: func(c *conn.Conn) Action {
			if draining.Load() {
				received.Add(int64(c.Discard(-1)))
			}
			mu.Lock()
			held[c] = c.InboundBuffered()
			mu.Unlock()
			return None
		},
	}
	s := startSet(t, Config{Loops: 2, InboundLimit: limit, ReadBufferSize: bufSize, Features: f}, h)
	const clients = 200
	var sent atomic.Int64
	flood := func(c net.Conn, d time.Duration, wg *sync.WaitGroup) {
		defer wg.Done()
		c.SetWriteDeadline(time.Now().Add(d))
		chunk := make([]byte, 64<<10)
		for {
			n, err := c.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	var cs []net.Conn
	for i := 0; i < clients; i++ {
		cs = append(cs, dial(t, s))
	}
	snapshot := func() map[*conn.Conn]int {
		mu.Lock()
		defer mu.Unlock()
		m := make(map[*conn.Conn]int, len(held))
		for c, n := range held {
			m[c] = n
		}
		return m
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go flood(c, 300*time.Millisecond, &wg)
	}
	wg.Wait()
	first := snapshot()
	most, total, paused := 0, 0, 0
	for _, n := range first {
		most, total = max(most, n), total+n
		if n >= limit {
			paused++
		}
	}
	if most < limit || most > limit+slack {
		t.Fatalf("a connection held %d bytes; want between the limit %d and %d", most, limit, limit+slack)
	}
	// A paused connection receives nothing more, however long its peer floods.
	for _, c := range cs {
		wg.Add(1)
		go flood(c, 200*time.Millisecond, &wg)
	}
	wg.Wait()
	for c, n := range snapshot() {
		if before := first[c]; before >= limit && n != before {
			t.Fatalf("a paused connection's held bytes grew from %d to %d", before, n)
		}
		if n > limit+slack {
			t.Fatalf("a connection held %d bytes, over %d", n, limit+slack)
		}
	}
	t.Logf("%d flooding connections (%d paused after the first flood): at most %d bytes held by one, %d in all",
		clients, paused, most, total)

	// Drain: wake every connection; the handler consumes, receiving resumes, all bytes arrive.
	draining.Store(true)
	for i := 0; i < clients; i++ {
		wakeAsync(<-conns, nil)
	}
	waitUntil(t, 10*time.Second, func() bool { return received.Load() >= sent.Load() })
	if received.Load() != sent.Load() {
		t.Fatalf("peers sent %d bytes, the handler received %d", sent.Load(), received.Load())
	}
}

// Shutting down under load leaves no goroutine and no descriptor behind.
func TestShutdownUnderLoadLeaksNothing(t *testing.T) {
	time.Sleep(50 * time.Millisecond) // let earlier tests' goroutines finish
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 4}, &echo{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				return
			}
			defer c.Close()
			for j := 0; j < 1000; j++ {
				if echoRoundTrip(c, 4096, uint64(j)) != nil {
					return // the set went away mid-stream: expected
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	leakcheck.Settle(t, goroutines, fds)
}

// Ten thousand connections whose handler never consumes: each holds at most the inbound limit
// plus one read buffer, so the heap grows by about that times the connections, not by what the
// peers send.
func TestTenThousandNonConsumingConnectionsStayBounded(t *testing.T) {
	const conns, limit, bufSize, sendEach = 10000, 4 << 10, 4 << 10, 64 << 10
	var mu sync.Mutex
	most, opened := 0, 0
	h := &hooks{
		open: func(*conn.Conn) ([]byte, Action) { mu.Lock(); opened++; mu.Unlock(); return nil, None },
		traffic: func(c *conn.Conn) Action {
			mu.Lock()
			most = max(most, c.InboundBuffered())
			mu.Unlock()
			return None
		},
	}
	s := startSet(t, Config{Loops: 2, InboundLimit: limit, ReadBufferSize: bufSize, ReadBuffers: 1024, Backlog: 4096}, h)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	payload := make([]byte, sendEach)
	var cmu sync.Mutex
	clients := make([]net.Conn, 0, conns)
	failed, first := eachClient(s, conns, 128, func(_ int, c net.Conn) error {
		cmu.Lock()
		clients = append(clients, c)
		cmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.Write(payload) // blocks once the server stops reading; the deadline ends it
		return nil
	})
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if failed > 0 {
		t.Fatalf("%d of %d dials failed; first: %v", failed, conns, first)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	mu.Lock()
	defer mu.Unlock()
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	// Bound: what the connections may hold, plus the clients' own state (goroutines are gone;
	// net.Conns are ~1 KiB each) and the loops' per-connection records.
	bound := int64(conns) * (limit + bufSize + 2<<10)
	t.Logf("%d connections opened, each held at most %d bytes; heap grew %d MiB (bound %d MiB, peers sent %d MiB)",
		opened, most, growth>>20, bound>>20, int64(conns)*sendEach>>20)
	if most > limit+bufSize {
		t.Fatalf("a connection held %d bytes, over the limit %d plus one %d-byte buffer", most, limit, bufSize)
	}
	if growth > bound {
		t.Fatalf("heap grew by %d bytes with %d connections; bound %d", growth, conns, bound)
	}
}
