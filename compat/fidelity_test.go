package compat_test

// Behaviours gnet's own tests and real gnet programs rely on, each run on gnet and on uringnet
// with the same assertions: UDP through the client, Register and Enroll; a datagram's socket
// calls; socket calls across loops; writes from other goroutines; a unix socket path left
// behind; gnet's error values.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"golang.org/x/sys/unix"
)

// udpEchoPeer answers every datagram on a plain UDP socket with the same bytes.
func udpEchoPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			pc.WriteToUDP(buf[:n], from)
		}
	}()
	return pc
}

// datagramClient collects, per connection, the datagrams its client connections receive, and
// sends a greeting from OnOpen.
type datagramClient struct {
	gnet.BuiltinEventEngine
	got    chan []byte
	closed chan error
}

func (h *datagramClient) OnOpen(gnet.Conn) ([]byte, gnet.Action) { return []byte("hello"), gnet.None }
func (h *datagramClient) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	h.got <- bytes.Clone(b)
	return gnet.None
}
func (h *datagramClient) OnClose(_ gnet.Conn, err error) gnet.Action {
	h.closed <- err
	return gnet.None
}

// The client dials UDP and enrolls a connected *net.UDPConn: each datagram is one OnTraffic,
// each Write and AsyncWrite one datagram (from any goroutine), Close reports OnClose.
func TestClientUDP(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		peer := udpEchoPeer(t)
		h := &datagramClient{got: make(chan []byte, 16), closed: make(chan error, 4)}
		cli, err := e.newClient(h, quiet)
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		defer cli.Stop()
		dial := func() (gnet.Conn, error) { return cli.Dial("udp", peer.LocalAddr().String()) }
		enroll := func() (gnet.Conn, error) {
			nc, err := net.Dial("udp", peer.LocalAddr().String())
			if err != nil {
				return nil, err
			}
			return cli.Enroll(nc)
		}
		for _, open := range []func() (gnet.Conn, error){dial, enroll} {
			c, err := open()
			if err != nil {
				t.Fatal(err)
			}
			if c.RemoteAddr().String() != peer.LocalAddr().String() {
				t.Fatalf("RemoteAddr %v, want %v", c.RemoteAddr(), peer.LocalAddr())
			}
			if g := <-h.got; string(g) != "hello" {
				t.Fatalf("the greeting came back as %q", g)
			}
			// From this goroutine, not the loop: one datagram each, every byte.
			big := bytes.Repeat([]byte("d"), 8000)
			if n, err := c.Write(big); n != len(big) || err != nil {
				t.Fatalf("Write: %d, %v", n, err)
			}
			if g := <-h.got; !bytes.Equal(g, big) {
				t.Fatalf("an 8000-byte datagram came back as %d bytes", len(g))
			}
			done := make(chan error, 1)
			if err := c.AsyncWrite([]byte("async"), func(_ gnet.Conn, err error) error { done <- err; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("AsyncWrite's callback: %v", err)
			}
			if g := <-h.got; string(g) != "async" {
				t.Fatalf("AsyncWrite came back as %q", g)
			}
			if _, err := c.Writev([][]byte{[]byte("x")}); !errors.Is(err, errorx.ErrUnsupportedOp) {
				t.Fatalf("Writev on UDP: %v, want ErrUnsupportedOp", err)
			}
			c.Close()
			select {
			case <-h.closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close of a UDP connection: no OnClose")
			}
		}
	})
}

// datagramSockets answers each datagram after trying the gnet.Socket calls on its connection,
// which act on the engine's UDP socket.
type datagramSockets struct {
	gnet.BuiltinEventEngine
	booted  chan struct{}
	results chan error
}

func (h *datagramSockets) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *datagramSockets) OnTraffic(c gnet.Conn) gnet.Action {
	err := func() error {
		fd, err := c.Dup()
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if sa, err := unix.Getsockname(fd); err != nil || sa.(*unix.SockaddrInet4).Port != c.LocalAddr().(*net.UDPAddr).Port {
			return errors.New("Dup of a datagram is not the engine's socket")
		}
		if c.Fd() <= 2 {
			return errors.New("no descriptor")
		}
		if err := c.SetReadBuffer(1 << 20); err != nil {
			return err
		}
		if err := c.SetKeepAlivePeriod(time.Minute); !errors.Is(err, errorx.ErrUnsupportedOp) {
			return errors.New("keep-alive on UDP did not say ErrUnsupportedOp")
		}
		return nil
	}()
	select {
	case h.results <- err:
	default:
	}
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

func TestDatagramSocketCalls(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &datagramSockets{booted: make(chan struct{}), results: make(chan error, 4)}
		addr := freeAddr(t, "udp")
		serve(t, e, h, h.booted, []string{addr})
		network, host := dialAddr(addr)
		if err := echoOnce(network, host, 1); err != nil {
			t.Fatal(err)
		}
		if err := <-h.results; err != nil {
			t.Fatal(err)
		}
	})
}

// udpRegistrar registers, from its TCP connection's loop, a connection to a UDP peer, and
// relays what the TCP peer sends through it.
type udpRegistrar struct {
	gnet.BuiltinEventEngine
	booted  chan struct{}
	peer    net.Addr
	results chan gnet.RegisteredResult
	backend chan gnet.Conn
}

func (h *udpRegistrar) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *udpRegistrar) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if _, udp := c.LocalAddr().(*net.UDPAddr); udp {
		return nil, gnet.None
	}
	res, err := c.EventLoop().Register(gnet.NewContext(context.Background(), c), h.peer)
	if err != nil {
		h.results <- gnet.RegisteredResult{Err: err}
		return nil, gnet.None
	}
	go func() { h.results <- <-res }()
	return nil, gnet.None
}
func (h *udpRegistrar) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	if front, ok := c.Context().(gnet.Conn); ok { // the UDP side: its replies go to the TCP peer
		front.Write(b)
		return gnet.None
	}
	(<-h.backend).Write(b)
	return gnet.None
}

// A TCP engine's loop registers a UDP connection (gnet's stream proxy with UDP backends).
func TestRegisterUDPFromTCPEngine(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		peer := udpEchoPeer(t)
		h := &udpRegistrar{booted: make(chan struct{}), peer: peer.LocalAddr(), results: make(chan gnet.RegisteredResult, 1), backend: make(chan gnet.Conn, 1)}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		r := <-h.results
		if r.Err != nil {
			t.Fatalf("Register of a UDP address: %v", r.Err)
		}
		if _, ok := r.Conn.RemoteAddr().(*net.UDPAddr); !ok {
			t.Fatalf("the registered connection's peer is %T", r.Conn.RemoteAddr())
		}
		h.backend <- r.Conn
		c.Write([]byte("through udp"))
		got := make([]byte, len("through udp"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "through udp" {
			t.Fatalf("relayed through UDP: %q, %v", got, err)
		}
	})
}

// crossSetter: on each loop, the first connection's OnTraffic sets an option on a connection
// of the other loop, from inside its callback, at the same moment as the other loop does.
type crossSetter struct {
	gnet.BuiltinEventEngine
	booted  chan struct{}
	mu      sync.Mutex
	conns   []gnet.Conn
	ready   sync.WaitGroup
	results chan error
}

func (h *crossSetter) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *crossSetter) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	return nil, gnet.None
}
func (h *crossSetter) OnTraffic(c gnet.Conn) gnet.Action {
	c.Discard(-1)
	h.mu.Lock()
	var other gnet.Conn
	for _, o := range h.conns {
		if o.EventLoop() != c.EventLoop() {
			other = o
		}
	}
	h.mu.Unlock()
	h.ready.Done()
	h.ready.Wait() // both loops are inside OnTraffic now
	start := time.Now()
	err := other.SetNoDelay(false)
	if err == nil && time.Since(start) > time.Second {
		err = errors.New("SetNoDelay on the other loop's connection took over a second")
	}
	if err == nil {
		_, err = other.Dup()
	}
	h.results <- err
	return gnet.None
}

// Two loops setting options on each other's connections inside callbacks both return at once.
func TestSocketCallsAcrossLoops(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &crossSetter{booted: make(chan struct{}), results: make(chan error, 2)}
		h.ready.Add(2)
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr}, gnet.WithNumEventLoop(2))
		a, b := dialT(t, addr), dialT(t, addr)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			h.mu.Lock()
			n := len(h.conns)
			h.mu.Unlock()
			if n == 2 || time.Now().After(deadline) {
				break
			}
		}
		a.Write([]byte("a"))
		b.Write([]byte("b"))
		for range 2 {
			select {
			case err := <-h.results:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a loop is stuck in a socket call on the other's connection")
			}
		}
	})
}

// Write from a goroutine that is not the loop's, as real gnet programs do: every byte arrives
// once, in order, without waiting for something else to wake the loop.
func TestWriteFromAnotherGoroutine(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &sockets{booted: make(chan struct{}), opened: make(chan gnet.Conn, 1)}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		gc := <-h.opened
		want := make([]byte, 1<<20)
		for i := range want {
			want[i] = byte(i * 7)
		}
		go func() {
			chunk := make([]byte, 4096)
			for rest := want; len(rest) > 0; {
				n := copy(chunk, rest)
				gc.Write(chunk[:n]) // the chunk is reused at once, as with write(2)
				rest = rest[n:]
			}
		}()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("1 MiB written from another goroutine: %v, equal %v", err, bytes.Equal(got, want))
		}
		// One small write, nothing else happening: it arrives at once, not after a tick.
		start := time.Now()
		gc.Write([]byte("!"))
		c.Read(got[:1])
		if d := time.Since(start); got[0] != '!' || d > 500*time.Millisecond {
			t.Fatalf("a lone write from another goroutine: %q after %v", got[:1], d)
		}
	})
}

// A unix socket left at the path (a crashed server's) is removed and the path served, as gnet
// does.
func TestStaleUnixSocketPath(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		path := filepath.Join(t.TempDir(), "stale.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
		h := &echoServer{booted: make(chan struct{})}
		serve(t, e, h, h.booted, []string{"unix://" + path})
		echoClients(t, "unix://"+path, 2)
	})
}

// gnet's errors where its tests compare them: keep-alive times under a second, a nil
// runnable, and the event loop's methods once the engine has stopped.
func TestGnetErrorValues(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &sockets{booted: make(chan struct{}), opened: make(chan gnet.Conn, 1)}
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() { done <- e.run(h, addr, quiet) }()
		<-h.booted
		dialT(t, addr)
		c := <-h.opened
		if err := c.SetKeepAlive(true, 0, 0, 0); err == nil || err.Error() != "invalid time duration" {
			t.Fatalf("SetKeepAlive(true, 0, 0, 0): %v", err)
		}
		if err := c.SetKeepAlivePeriod(0); err == nil || err.Error() != "invalid time duration" {
			t.Fatalf("SetKeepAlivePeriod(0): %v", err)
		}
		el := c.EventLoop()
		if err := el.Execute(context.Background(), nil); !errors.Is(err, errorx.ErrNilRunnable) {
			t.Fatalf("Execute(nil): %v", err)
		}
		if err := el.Schedule(context.Background(), gnet.RunnableFunc(func(context.Context) error { return nil }), time.Millisecond); !errors.Is(err, errorx.ErrUnsupportedOp) {
			t.Fatalf("Schedule: %v", err)
		}
		if err := stopServing(context.Background(), e, addr, done); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := el.Execute(context.Background(), nil); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Execute after the engine stopped: %v", err)
		}
		if _, err := el.Register(context.Background(), nil); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Register after the engine stopped: %v", err)
		}
		if _, err := el.Enroll(context.Background(), nil); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Enroll after the engine stopped: %v", err)
		}
	})
}
