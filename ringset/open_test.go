package ringset

import (
	"context"
	"errors"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// startClientSet starts a set that listens nowhere, stopped when the test ends.
func startClientSet(t testing.TB, cfg Config, h Handler) *Set {
	t.Helper()
	cfg.Network, cfg.Address = "", ""
	s, err := Start(cfg, h)
	if err != nil {
		t.Fatalf("Start client set: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if err := s.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	return s
}

// opened waits for an Opening's outcome.
func openWaiter() (Opening, chan *conn.Conn, chan error) {
	conns, errs := make(chan *conn.Conn, 1), make(chan error, 1)
	return Opening{
		Prepare: func(c *conn.Conn) { c.SetContext("prepared") },
		Opened: func(c *conn.Conn, err error) {
			if err != nil {
				errs <- err
				return
			}
			conns <- c
		},
	}, conns, errs
}

func waitOpened(t *testing.T, conns chan *conn.Conn, errs chan error) *conn.Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case err := <-errs:
		t.Fatalf("open failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("open never reported")
	}
	return nil
}

// stdEchoServer serves echo with the standard library, for the loop's dialed connections.
func stdEchoServer(t testing.TB, network, addr string) *echoListener {
	t.Helper()
	std, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	ln := &echoListener{Listener: std}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ln.accepted.Add(1)
			// A plain copy: io.Copy would splice through pooled pipes that outlive the
			// test's descriptor count.
			go func() { io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096)); c.Close() }()
		}
	}()
	return ln
}

// echoListener is stdEchoServer's listener, with the count of connections it has accepted: a
// dial returns before the server's Accept, and a test that counts descriptors waits for it.
type echoListener struct {
	net.Listener
	accepted atomic.Int32
}

// pinger is a client handler: each connection writes a message on open and records what the
// server echoes back.
type pinger struct {
	echo
	got chan string
}

func (h *pinger) OnOpen(c *conn.Conn) ([]byte, Action) {
	if c.Context() != "prepared" {
		h.got <- "context not set before OnOpen"
	}
	return []byte("ping"), None
}

func (h *pinger) OnTraffic(c *conn.Conn) Action {
	b, err := c.Peek(4)
	if err != nil {
		return None
	}
	h.got <- string(b)
	c.Discard(4)
	return Close
}

// The loop dials over TCP and unix sockets (SOCKET + CONNECT on the ring, and the standard
// library's connect adopted where the kernel lacks direct sockets), runs Prepare before OnOpen
// and Opened after it, and serves the connection like an accepted one.
func TestDialFromTheRing(t *testing.T) {
	full, err := poller.Probe()
	if err != nil {
		t.Skip(err)
	}
	noDirect := full.Without(poller.CapSocketDirect)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, network, addr string
		features            *poller.Features
	}{
		{"tcp4-ring", "tcp", "127.0.0.1:0", nil},
		{"tcp6-ring", "tcp6", "[::1]:0", nil},
		{"unix-ring", "unix", filepath.Join(dir, "ring.sock"), nil},
		{"tcp-adopted", "tcp", "127.0.0.1:0", &noDirect},
		{"unix-adopted", "unix", filepath.Join(dir, "adopted.sock"), &noDirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.features == nil {
				requireCap(t, full, poller.CapSocketDirect)
				requireCap(t, full, poller.CapSockCmd)
			}
			ln := stdEchoServer(t, tc.network, tc.addr)
			h := &pinger{got: make(chan string, 8)}
			s := startClientSet(t, Config{Loops: 2, Features: tc.features}, h)
			for i := 0; i < 4; i++ {
				o, conns, errs := openWaiter()
				if err := s.Dial(context.Background(), i%2, ln.Addr().Network(), ln.Addr().String(), o); err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c := waitOpened(t, conns, errs)
				if c.Loop().Index() != i%2 {
					t.Fatalf("dialed on loop %d, served by loop %d", i%2, c.Loop().Index())
				}
				select {
				case got := <-h.got:
					if got != "ping" {
						t.Fatalf("echo: %q", got)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no echo")
				}
			}
		})
	}
}

// A dial that fails reports a *net.OpError with the connect's errno, and leaves nothing behind.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	g, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	s := startClientSet(t, Config{}, &echo{})
	o, conns, errs := openWaiter()
	if err := s.Dial(context.Background(), 0, "tcp", addr, o); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case c := <-conns:
		t.Fatalf("dial to a closed port opened %v", c)
	case err := <-errs:
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial error %v (%T): want *net.OpError dial ECONNREFUSED", err, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dial never reported")
	}
	if err := s.Dial(context.Background(), 0, "sctp", addr, o); err == nil {
		t.Fatal("dial over an unknown network succeeded")
	}
	if err := s.Dial(context.Background(), 0, "tcp", "no-port", o); err == nil {
		t.Fatal("dial to an address without a port succeeded")
	}
	s.Stop()
	s.Wait()
	leakcheck.Settle(t, g, fds)
}

// Adopting a standard library connection (gnet's Enroll) serves it on the loop; the original
// stays the caller's and closing it does not end the adopted copy. Descriptors come back to
// where they were.
func TestAdoptConn(t *testing.T) {
	ln := stdEchoServer(t, "tcp", "127.0.0.1:0")
	g, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	h := &pinger{got: make(chan string, 8)}
	s := startClientSet(t, Config{Loops: 2}, h)
	for i := 0; i < 20; i++ {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		o, conns, errs := openWaiter()
		if err := s.AdoptConn(i%2, nc, o); err != nil {
			t.Fatalf("AdoptConn: %v", err)
		}
		nc.Close()
		waitOpened(t, conns, errs)
		if got := <-h.got; got != "ping" {
			t.Fatalf("echo through adopted connection: %q", got)
		}
	}
	// Only stream sockets can be adopted.
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AdoptConn(0, pc, Opening{}); err == nil {
		t.Fatal("adopting a UDP socket succeeded")
	}
	pc.Close()
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	// Adopting on a stopped set fails and closes the descriptor it was given.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AdoptConn(0, nc, Opening{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("adopt after stop: %v, want ErrStopped", err)
	}
	nc.Close()
	leakcheck.Settle(t, g, fds)
}

// A server set's loops can dial too, and its Stop fails dials still connecting with ErrStopped
// instead of leaving their callers waiting.
func TestDialPendingAtStop(t *testing.T) {
	// A listener whose backlog is full leaves further connects pending (SYNs dropped).
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0"}, &echo{})
	if err != nil {
		t.Fatal(err)
	}
	var waiters []chan error
	for i := 0; i < 300; i++ {
		o, _, errs := openWaiter()
		o.Opened = func(c *conn.Conn, err error) { errs <- err }
		if err := s.Dial(context.Background(), 0, "tcp", ln.Addr().String(), o); err != nil {
			t.Fatal(err)
		}
		waiters = append(waiters, errs)
	}
	time.Sleep(200 * time.Millisecond)
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, w := range waiters {
		select {
		case <-w: // opened (and closed at stop) or failed: either way the caller heard
		case <-time.After(5 * time.Second):
			t.Fatalf("dial %d never reported after Stop", i)
		}
	}
}

// URINGNET_DISABLE=1 makes Start refuse with an error that the entry points fall back on.
func TestDisableEnvRefusesStart(t *testing.T) {
	t.Setenv(DisableEnv, "1")
	if err := Available(nil); !errors.Is(err, poller.ErrUnavailable) {
		t.Fatalf("Available with %s=1: %v", DisableEnv, err)
	}
	_, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0"}, &echo{})
	if !errors.Is(err, poller.ErrUnavailable) || !errors.Is(err, ErrDisabled) {
		t.Fatalf("Start with %s=1: %v, want ErrDisabled", DisableEnv, err)
	}
}

// optionReader records, in OnOpen, the keep-alive options each connection has.
type optionReader struct {
	echo
	got chan [2]int
}

func (h *optionReader) OnOpen(c *conn.Conn) ([]byte, Action) {
	fd, err := c.Fd()
	if err != nil {
		h.got <- [2]int{-1, -1}
		return nil, Close
	}
	ka, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	h.got <- [2]int{ka, idle}
	return nil, None
}

// SocketOptions reach accepted connections (through the listener, regular or born direct) and
// dialed ones (linked before the connect).
func TestSocketOptionsReachConnections(t *testing.T) {
	full, err := poller.Probe()
	if err != nil {
		t.Skip(err)
	}
	regular := full.Without(poller.CapSocketDirect)
	opts := []SocketOption{{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 77}}
	for _, f := range []*poller.Features{nil, &regular} {
		h := &optionReader{got: make(chan [2]int, 4)}
		s := startSet(t, Config{Network: "tcp", Address: "127.0.0.1:0", SocketOptions: opts, Features: f}, h)
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if got := <-h.got; got != [2]int{1, 77} {
			t.Fatalf("%s listener: accepted connection has keep-alive %d idle %d, want 1 77", s.ListenerKind(), got[0], got[1])
		}
		c.Close()
		// The same set dials its own listener: the dialed end has the options too.
		o, _, errs := openWaiter()
		if err := s.Dial(context.Background(), 0, "tcp", s.Addr().String(), o); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // the dialed end and the accepted end
			select {
			case got := <-h.got:
				if got != [2]int{1, 77} {
					t.Fatalf("dial: connection has keep-alive %d idle %d, want 1 77", got[0], got[1])
				}
			case err := <-errs:
				t.Fatal(err)
			}
		}
	}
	// A unix set ignores the TCP-level ones instead of failing.
	h := &echo{}
	dir := t.TempDir()
	s := startSet(t, Config{Network: "unix", Address: filepath.Join(dir, "s"), SocketOptions: opts}, h)
	if err := echoDial(s); err != nil {
		t.Fatal(err)
	}
}

func echoDial(s *Set) error {
	c, err := net.Dial(s.Addr().Network(), s.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	return echoRoundTrip(c, 1000, 1)
}
