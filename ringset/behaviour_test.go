package ringset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// hooks is a handler whose callbacks tests fill in; the unset ones echo or do nothing.
type hooks struct {
	echo
	open    func(c *conn.Conn) ([]byte, Action)
	traffic func(c *conn.Conn) Action
	close   func(c *conn.Conn, err error)
}

func (h *hooks) OnOpen(c *conn.Conn) ([]byte, Action) {
	h.opened.Add(1)
	if h.open != nil {
		return h.open(c)
	}
	return nil, None
}
func (h *hooks) OnTraffic(c *conn.Conn) Action {
	if h.traffic != nil {
		return h.traffic(c)
	}
	return h.echo.OnTraffic(c)
}
func (h *hooks) OnClose(c *conn.Conn, err error) Action {
	h.closed.Add(1)
	if h.close != nil {
		h.close(c, err)
	}
	return None
}

func dial(t testing.TB, s *Set) net.Conn {
	t.Helper()
	c, err := net.Dial(s.Addr().Network(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A thousand concurrent connections each send 1 MiB in random-sized writes and get every byte
// back in order. Under the race detector (slower by an order of magnitude) each sends 128 KiB;
// `make test` also runs this test without it, at full size.
func TestThousandConnectionsOneMiBEach(t *testing.T) {
	s := startSet(t, Config{Loops: 4}, &echo{})
	const conns = 1000
	size := 1 << 20
	if raceEnabled {
		size = 128 << 10
	}
	failed, first := eachClient(s, conns, conns, func(i int, c net.Conn) error {
		defer c.Close()
		return echoRoundTrip(c, size, uint64(i))
	})
	if failed > 0 {
		t.Fatalf("%d of %d connections failed; first: %v", failed, conns, first)
	}
}

// 64 goroutines AsyncWrite into one connection: each call's bytes stay contiguous.
func TestAsyncWriteFromManyGoroutinesStaysContiguous(t *testing.T) {
	conns := make(chan *conn.Conn, 1)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None }}
	s := startSet(t, Config{}, h)
	client := dial(t, s)
	c := <-conns

	const writers, perWriter, block = 64, 50, 512
	var wg sync.WaitGroup
	var cbErrs atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				b := make([]byte, block)
				binary.LittleEndian.PutUint32(b, uint32(w))
				binary.LittleEndian.PutUint32(b[4:], uint32(i))
				copy(b[8:], bytes.Repeat([]byte{byte(w)}, block-8))
				if err := c.AsyncWrite(b, func(_ *conn.Conn, err error) {
					if err != nil {
						cbErrs.Add(1)
					}
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	next := make([]uint32, writers)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, block)
	for n := 0; n < writers*perWriter; n++ {
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatalf("after %d blocks: %v", n, err)
		}
		w, i := binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint32(buf[4:])
		if w >= writers || !bytes.Equal(buf[8:], bytes.Repeat([]byte{byte(w)}, block-8)) {
			t.Fatalf("block %d is not one writer's contiguous bytes", n)
		}
		if i != next[w] {
			t.Fatalf("writer %d: block %d arrived where %d was due", w, i, next[w])
		}
		next[w]++
	}
	if cbErrs.Load() != 0 {
		t.Fatalf("%d AsyncWrite callbacks reported errors", cbErrs.Load())
	}
}

func TestWakeAndCloseFromOtherGoroutines(t *testing.T) {
	conns := make(chan *conn.Conn, 1)
	closeErrs := make(chan error, 1)
	h := &hooks{
		open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None },
		traffic: func(c *conn.Conn) Action {
			if c.InboundBuffered() == 0 {
				c.Write([]byte("woken\n")) // called by Wake, with nothing received
			}
			return None
		},
		close: func(_ *conn.Conn, err error) { closeErrs <- err },
	}
	s := startSet(t, Config{}, h)
	client := dial(t, s)
	c := <-conns
	woke := make(chan error, 1)
	go func() { wakeAsync(c, func(_ *conn.Conn, err error) { woke <- err }) }()
	if err := <-woke; err != nil {
		t.Fatalf("wake callback: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := make([]byte, 6)
	if _, err := io.ReadFull(client, line); err != nil || string(line) != "woken\n" {
		t.Fatalf("after Wake the client read %q, %v", line, err)
	}
	go closeAsync(c, nil)
	if n, err := client.Read(line); n != 0 || err != io.EOF {
		t.Fatalf("after closeAsync: %d, %v; want EOF", n, err)
	}
	if err := <-closeErrs; err != nil {
		t.Fatalf("OnClose after a local close: %v, want nil", err)
	}
	// Once closed, asynchronous calls report net.ErrClosed.
	done := make(chan error, 2)
	c.AsyncWrite([]byte("late"), func(_ *conn.Conn, err error) { done <- err })
	wakeAsync(c, func(_ *conn.Conn, err error) { done <- err })
	for i := 0; i < 2; i++ {
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("async call on a closed connection: %v, want net.ErrClosed", err)
		}
	}
}

// A peer that half-closes gets every byte it sent echoed before the connection closes, and the
// close reports io.EOF.
func TestPeerHalfClose(t *testing.T) {
	closeErrs := make(chan error, 1)
	s := startSet(t, Config{}, &hooks{close: func(_ *conn.Conn, err error) { closeErrs <- err }})
	client := dial(t, s).(*net.TCPConn)
	if _, err := client.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	client.CloseWrite()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the echo then EOF", got, err)
	}
	if err := <-closeErrs; err != io.EOF {
		t.Fatalf("OnClose: %v, want io.EOF", err)
	}
}

// A peer that resets while the server streams to it: the close reports the socket error as a
// *net.OpError, and the loop goes on serving others.
func TestPeerResetMidStream(t *testing.T) {
	closeErrs := make(chan error, 1)
	big := bytes.Repeat([]byte("x"), 1<<20)
	h := &hooks{
		traffic: func(c *conn.Conn) Action {
			if b, _ := c.Peek(-1); string(b) != "stream" {
				b, _ = c.Next(-1)
				c.Write(b) // echo
				return None
			}
			c.Discard(-1)
			for i := 0; i < 8; i++ {
				c.Write(big)
			}
			return None
		},
		close: func(_ *conn.Conn, err error) {
			select {
			case closeErrs <- err:
			default:
			}
		},
	}
	s := startSet(t, Config{}, h)
	client := dial(t, s).(*net.TCPConn)
	client.Write([]byte("stream"))
	io.ReadFull(client, make([]byte, 1000)) // the stream has started
	client.SetLinger(0)
	client.Close() // RST
	err := <-closeErrs
	var opErr *net.OpError
	var sysErr *os.SyscallError
	if !errors.As(err, &opErr) || !errors.As(err, &sysErr) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("OnClose after a reset: %v, want a *net.OpError around an *os.SyscallError with ECONNRESET or EPIPE", err)
	}
	if err := echoRoundTrip(dial(t, s), 4096, 1); err != nil {
		t.Fatalf("serving another connection after the reset: %v", err)
	}
}

// A peer that connects and sends nothing is opened, kept, and closed (with nil) at shutdown.
func TestSilentPeerClosedAtShutdown(t *testing.T) {
	h := &hooks{}
	closeErrs := make(chan error, 1)
	h.close = func(_ *conn.Conn, err error) { closeErrs <- err }
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0"}, h)
	if err != nil {
		t.Fatal(err)
	}
	client := dial(t, s)
	waitUntil(t, 10*time.Second, func() bool { return h.opened.Load() != 0 })
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-closeErrs; err != nil {
		t.Fatalf("OnClose at shutdown: %v, want nil", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after shutdown: %v, want EOF", err)
	}
	if h.shut.Load() != 1 || h.boot.Load() != 1 {
		t.Fatalf("OnBoot ran %d times, OnShutdown %d; want once each", h.boot.Load(), h.shut.Load())
	}
}

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

// A panic in a handler closes that connection, with the panic as its error; the loop serves on.
func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	closeErrs := make(chan error, 4)
	h := &hooks{
		traffic: func(c *conn.Conn) Action {
			if b, _ := c.Peek(-1); string(b) == "panic" {
				panic("handler bug")
			}
			b, _ := c.Next(-1)
			c.Write(b)
			return None
		},
		close: func(_ *conn.Conn, err error) { closeErrs <- err },
	}
	s := startSet(t, Config{}, h)
	bad := dial(t, s)
	bad.Write([]byte("panic"))
	if err := <-closeErrs; err == nil || !strings.Contains(err.Error(), "handler bug") {
		t.Fatalf("OnClose after a panic: %v, want the panic", err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the panicking connection: %v, want EOF", err)
	}
	if err := echoRoundTrip(dial(t, s), 1000, 2); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

// With a full fixed-file table the extra connections are refused (closed), the loop keeps
// serving those it has, and accepts again once a slot frees.
func TestFullFixedFileTable(t *testing.T) {
	s := startSet(t, Config{MaxConnsPerLoop: 4}, &echo{})
	var kept []net.Conn
	for i := 0; i < 4; i++ {
		c := dial(t, s)
		if err := echoRoundTrip(c, 100, uint64(i)); err != nil {
			t.Fatalf("connection %d of 4: %v", i, err)
		}
		kept = append(kept, c)
	}
	extra := dial(t, s)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	extra.Write([]byte("hello?"))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a fifth connection was served by a loop with four slots")
	}
	if err := echoRoundTrip(kept[0], 100, 9); err != nil {
		t.Fatalf("an existing connection after the refusal: %v", err)
	}
	kept[1].Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 3 })
	if err := echoRoundTrip(dial(t, s), 100, 10); err != nil {
		t.Fatalf("a new connection once a slot freed: %v", err)
	}
}

// A connection whose loop (the balancer's pick) has a full table goes to another loop with
// room, rather than being refused.
func TestFullTablePassesToAnotherLoop(t *testing.T) {
	s := startSet(t, Config{Loops: 2, MaxConnsPerLoop: 2}, &echo{})
	served := func(c net.Conn, seed uint64) {
		t.Helper()
		if err := echoRoundTrip(c, 100, seed); err != nil {
			t.Fatalf("connection %d: %v", seed, err)
		}
	}
	c1, c2 := dial(t, s), dial(t, s) // round-robin: loop 0, loop 1
	served(c1, 1)
	served(c2, 2)
	c2.Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 1 })
	c3, c4 := dial(t, s), dial(t, s) // loop 0 (now full), loop 1
	served(c3, 3)
	served(c4, 4)
	served(dial(t, s), 5) // the pick is loop 0, full: loop 1 takes it
	if n := s.CountConnections(); n != 4 {
		t.Fatalf("%d connections served, want 4 in two tables of two", n)
	}
}

// A loop accepting on its own listener (ReusePort) whose table is full refuses the connection
// (the kernel accepts it, finds no slot, and closes it) and holds its accept back rather than
// re-arming it against the same failure as fast as the ring turns; once a slot frees, a new
// connection is served.
func TestFullTableHoldsTheAcceptBack(t *testing.T) {
	s := startSet(t, Config{ReusePort: true, MaxConnsPerLoop: 2}, &echo{})
	c1, c2 := dial(t, s), dial(t, s)
	for i, c := range []net.Conn{c1, c2} {
		if err := echoRoundTrip(c, 100, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	cpu0 := loopsCPU(t, s)
	for range 5 {
		refused := dial(t, s)
		refused.Write([]byte("x"))
		refused.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := refused.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatal("a connection was served beyond a full table")
		}
	}
	time.Sleep(300 * time.Millisecond)
	if used := loopsCPU(t, s) - cpu0; used > 100*time.Millisecond {
		t.Fatalf("the loop used %v of CPU refusing 5 connections and waiting 300ms", used)
	}
	c1.Close()
	waitUntil(t, 5*time.Second, func() bool { return s.CountConnections() <= 1 })
	if err := echoRoundTrip(dial(t, s), 100, 3); err != nil {
		t.Fatalf("a new connection once a slot freed: %v", err)
	}
}

func TestBadAddresses(t *testing.T) {
	for _, cfg := range []Config{
		{Network: "tcp", Address: "not an address"},
		{Network: "tcp", Address: "127.0.0.1:99999"},
		{Network: "bogus", Address: ":0"},
		{Network: "unix", Address: strings.Repeat("x", 200)},
		{Network: "tcp", Address: ":0", Loops: MaxLoops + 1},
		{Network: "unix", Address: "/tmp/x.sock", ReusePort: true, Loops: 2},
	} {
		if s, err := Start(cfg, &echo{}); err == nil {
			s.Stop()
			s.Wait()
			t.Errorf("Start(%q, %q, %d loops) succeeded", cfg.Network, cfg.Address, cfg.Loops)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.sock")
	s, err := Start(Config{Network: "unix", Address: path, Loops: 2}, &echo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := echoRoundTrip(dial(t, s), 256<<10, 3); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind: %v", err)
	}
}

func TestTCP6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
	s := startSet(t, Config{Network: "tcp6", Address: "[::1]:0"}, &echo{})
	if err := echoRoundTrip(dial(t, s), 64<<10, 4); err != nil {
		t.Fatal(err)
	}
}

// Below Linux 6.13 other goroutines wake loops through the messenger ring: forced here.
func TestMessengerWakerWithoutSyncMsgRing(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	f = f.Without(poller.CapSyncMsgRing)
	conns := make(chan *conn.Conn, 1)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None }}
	s := startSet(t, Config{Features: &f}, h)
	if s.Waker() != "messenger-ring" {
		t.Fatalf("waker %q without the sync message, want messenger-ring", s.Waker())
	}
	client := dial(t, s)
	c := <-conns
	for i := 0; i < 100; i++ {
		c.AsyncWrite([]byte{byte(i)}, nil)
	}
	got := make([]byte, 100)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d is %d", i, b)
		}
	}
}

func TestMissingRequiredFeatureIsUnavailable(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	f = f.Without(poller.CapMsgRingFd)
	_, err = Start(Config{Network: "tcp", Address: "127.0.0.1:0", Features: &f}, &echo{})
	if !errors.Is(err, poller.ErrUnavailable) {
		t.Fatalf("Start without MSG_RING fd passing: %v, want ErrUnavailable", err)
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

// ticker counts OnTick calls and asks for the next one after 10ms.
type ticker struct {
	echo
	ticks atomic.Int64
	mu    sync.Mutex
	at    []time.Time
}

func (h *ticker) OnTick() (time.Duration, Action) {
	h.mu.Lock()
	h.at = append(h.at, time.Now())
	h.mu.Unlock()
	if h.ticks.Add(1) == 5 {
		return 10 * time.Millisecond, Shutdown
	}
	return 10 * time.Millisecond, None
}

// OnTick runs, driven by the loop's wait timeout, at the delay it returns; its Shutdown stops
// the set.
func TestTickerDrivesOnTickAndCanShutDown(t *testing.T) {
	h := &ticker{}
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Ticker: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		s.Stop()
		t.Fatalf("OnTick ran %d times in 5s; its Shutdown after 5 did not stop the set", h.ticks.Load())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.at) != 5 {
		t.Fatalf("%d ticks, want 5", len(h.at))
	}
	for i := 1; i < len(h.at); i++ {
		// The loop's wait times out at the tick; allow for the clocks' granularity.
		if gap := h.at[i].Sub(h.at[i-1]); gap < 9*time.Millisecond || gap > time.Second {
			t.Fatalf("tick %d came %v after the one before, want about 10ms", i+1, gap)
		}
	}
	if h.shut.Load() != 1 {
		t.Fatalf("OnShutdown ran %d times", h.shut.Load())
	}
}

func TestTickerOffByDefault(t *testing.T) {
	h := &ticker{}
	startSet(t, Config{}, h)
	time.Sleep(50 * time.Millisecond)
	if h.ticks.Load() != 0 {
		t.Fatalf("OnTick ran %d times without Ticker", h.ticks.Load())
	}
}
