package compat_test

// Tests of what only uringnet has: the Engine reached through EngineFor, socket calls from other
// goroutines on a direct descriptor, gnet options turned into socket options, and the fallback.

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/compat"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"github.com/uringnet/uringnet/poller"
	"github.com/uringnet/uringnet/ringset"
	"golang.org/x/sys/unix"
)

// sockets hands each opened connection to the test.
type sockets struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	opened chan gnet.Conn
}

func (h *sockets) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *sockets) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	h.opened <- c
	return nil, gnet.None
}

var uring = engines[1]

// servedTCPConn serves a sockets handler with e on a new TCP address, dials it and returns the
// server's side of that connection.
func servedTCPConn(t *testing.T, e engineUnderTest) gnet.Conn {
	h := &sockets{booted: make(chan struct{}), opened: make(chan gnet.Conn, 4)}
	addr := freeAddr(t, "tcp")
	serve(t, e, h, h.booted, []string{addr})
	dialT(t, addr)
	return <-h.opened
}

// EngineFor reaches the running engine: CountConnections, Dup of the listener, Register, Stop.
func TestEngineFor(t *testing.T) {
	h := &sockets{booted: make(chan struct{}), opened: make(chan gnet.Conn, 8)}
	addr := freeAddr(t, "tcp")
	done := make(chan error, 1)
	go func() {
		done <- compat.Run(h, addr, quiet, gnet.WithNumEventLoop(2), gnet.WithTCPKeepAlive(90*time.Second))
	}()
	<-h.booted
	e, err := compat.EngineFor(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := dialT(t, addr)
	gc := <-h.opened
	if n := e.CountConnections(); n != 1 {
		t.Fatalf("CountConnections: %d, want 1", n)
	}

	// Socket calls from this goroutine (not the loop) on the direct descriptor.
	fd, err := gc.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); idle != 90 {
		t.Fatalf("WithTCPKeepAlive(90s): accepted socket has TCP_KEEPIDLE %d", idle)
	}
	if cnt, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT); cnt != 5 {
		t.Fatalf("keep-alive count %d, want gnet's default 5", cnt)
	}
	if err := gc.SetKeepAlive(true, 7*time.Second, 3*time.Second, 4); err != nil {
		t.Fatal(err)
	}
	if idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); idle != 7 {
		t.Fatalf("after SetKeepAlive(7s): TCP_KEEPIDLE %d", idle)
	}
	if err := gc.SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	if nd, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); nd != 0 {
		t.Fatalf("after SetNoDelay(false): TCP_NODELAY %d", nd)
	}
	if gc.Fd() < 0 || gc.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("Fd %d, RemoteAddr %v (want %v)", gc.Fd(), gc.RemoteAddr(), c.LocalAddr())
	}
	if err := gc.SetDeadline(time.Now()); !errors.Is(err, errorx.ErrUnsupportedOp) {
		t.Fatalf("SetDeadline: %v, want ErrUnsupportedOp", err)
	}

	lfd, err := e.Dup()
	if err != nil {
		t.Fatal(err)
	}
	if sa, err := unix.Getsockname(lfd); err != nil || sa.(*unix.SockaddrInet4).Port != c.RemoteAddr().(*net.TCPAddr).Port {
		t.Fatalf("Dup'd listener: %v, %v", sa, err)
	}
	unix.Close(lfd)

	// Register: the engine dials its own listener; both ends are its connections.
	res, err := e.Register(gnet.NewNetAddrContext(gnet.NewContext(context.Background(), "mine"), c.RemoteAddr()))
	if err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.Err != nil || r.Conn.Context() != "mine" {
		t.Fatalf("Register: %v, context %v", r.Err, r.Conn)
	}
	<-h.opened // the dialed end
	<-h.opened // the accepted end
	if n := e.CountConnections(); n != 3 {
		t.Fatalf("CountConnections after Register: %d, want 3", n)
	}

	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.CountConnections(); n != -1 {
		t.Fatalf("CountConnections after Stop: %d, want -1", n)
	}
	if _, err := compat.EngineFor(addr); !errors.Is(err, errorx.ErrEmptyEngine) {
		t.Fatalf("EngineFor after Stop: %v", err)
	}
}

// URINGNET_DISABLE=1: Backend says epoll and why, Run serves through gnet.Run, EngineFor has no
// engine to give and Stop reaches gnet's.
func TestFallbackDisabled(t *testing.T) {
	t.Setenv(ringset.DisableEnv, "1")
	if name, why := compat.Backend(); name != "epoll" || !errors.Is(why, poller.ErrUnavailable) {
		t.Fatalf("Backend: %s, %v", name, why)
	}
	h := &echoServer{booted: make(chan struct{})}
	addr := freeAddr(t, "tcp")
	// uringnet's own options are left out of what gnet is given.
	serve(t, uring, h, h.booted, []string{addr}, compat.WithRebalance(ringset.Rebalance{}))
	echoClients(t, addr, 2)
	if _, err := compat.EngineFor(addr); !errors.Is(err, errorx.ErrEmptyEngine) {
		t.Fatalf("EngineFor under the fallback: %v", err)
	}
	cli, err := compat.NewClient(&pingClient{got: make(chan string, 1)}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	network, a := dialAddr(addr)
	if _, err := cli.Dial(network, a); err != nil {
		t.Fatalf("fallback client Dial: %v", err)
	}
	cli.Stop()
}

// Options only gnet's engine serves send Run to the fallback instead of being ignored.
func TestFallbackForUnsupportedOption(t *testing.T) {
	if name, _ := compat.Backend(); name != "io_uring" {
		t.Skip("io_uring unavailable here")
	}
	h := &echoServer{booted: make(chan struct{})}
	addr := freeAddr(t, "tcp")
	serve(t, uring, h, h.booted, []string{addr}, gnet.WithBindToDevice("lo"))
	echoClients(t, addr, 2)
	if _, err := compat.EngineFor(addr); !errors.Is(err, errorx.ErrEmptyEngine) {
		t.Fatal("BindToDevice was served by io_uring")
	}
}

// Two thousand connections opened and closed, then Stop: descriptors and goroutines come back
// to where they started.
func TestOpenCloseLeavesNothing(t *testing.T) {
	g0, fd0 := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	h := &echoServer{booted: make(chan struct{})}
	addr := freeAddr(t, "tcp")
	done := make(chan error, 1)
	go func() { done <- compat.Run(h, addr, quiet, gnet.WithNumEventLoop(2)) }()
	<-h.booted
	network, a := dialAddr(addr)
	for i := 0; i < 2000; i++ {
		c, err := net.Dial(network, a)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.Read(make([]byte, 1))
		c.Close()
	}
	if err := compat.Stop(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h.opened.Load() != 2000 || h.closed.Load() != 2000 {
		t.Fatalf("OnOpen %d, OnClose %d; want 2000 each", h.opened.Load(), h.closed.Load())
	}
	leakcheck.Settle(t, g0, fd0)
}

// keepAliveProbes reads back a socket's keep-alive idle time, interval and probe count.
func keepAliveProbes(t *testing.T, fd int) [3]int {
	t.Helper()
	var got [3]int
	for i, opt := range []int{unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL, unix.TCP_KEEPCNT} {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt)
		if err != nil {
			t.Fatalf("getsockopt on fd %d: %v", fd, err)
		}
		got[i] = v
	}
	return got
}

// SetKeepAlivePeriod and SetKeepAlive set the socket as gnet's do: the period is the idle time,
// the interval a fifth of it (at least 1 s), 5 probes; under a second is an error.
func TestKeepAlivePeriod(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		gc := servedTCPConn(t, e)
		for _, tc := range []struct {
			period time.Duration
			want   [3]int
		}{
			{10 * time.Second, [3]int{10, 2, 5}},
			{3 * time.Second, [3]int{3, 1, 5}},
			{90*time.Second + 900*time.Millisecond, [3]int{90, 18, 5}},
		} {
			if err := gc.SetKeepAlivePeriod(tc.period); err != nil {
				t.Fatalf("SetKeepAlivePeriod(%v): %v", tc.period, err)
			}
			if got := keepAliveProbes(t, gc.Fd()); got != tc.want {
				t.Fatalf("SetKeepAlivePeriod(%v): idle, interval, count %v; want %v", tc.period, got, tc.want)
			}
		}
		if err := gc.SetKeepAlivePeriod(500 * time.Millisecond); err == nil {
			t.Fatal("SetKeepAlivePeriod(500ms): no error")
		}
		if err := gc.SetKeepAlive(true, 500*time.Millisecond, time.Second, 3); err == nil {
			t.Fatal("SetKeepAlive with a 500ms idle time: no error")
		}
		if err := gc.SetKeepAlive(true, 7*time.Second, 3*time.Second, 4); err != nil {
			t.Fatal(err)
		}
		if got := keepAliveProbes(t, gc.Fd()); got != [3]int{7, 3, 4} {
			t.Fatalf("SetKeepAlive(7s, 3s, 4): %v", got)
		}
	})
}

// A keep-alive option under a second makes Run fail on a TCP address, as gnet's does.
func TestKeepAliveOptionUnderASecond(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() {
			done <- e.run(&gnet.BuiltinEventEngine{}, addr, quiet, gnet.WithTCPKeepAlive(500*time.Millisecond))
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Run with WithTCPKeepAlive(500ms): no error")
			}
		case <-time.After(5 * time.Second):
			stopServing(context.Background(), e, addr, done)
			<-done
			t.Fatal("Run with WithTCPKeepAlive(500ms) served")
		}
	})
}

// A unix connection Registered on a TCP engine is unix: the keep-alive calls are gnet's
// ErrUnsupportedOp, not a socket error.
func TestKeepAliveOnRegisteredUnixConn(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		gc := servedTCPConn(t, e)
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "peer.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		res, err := gc.EventLoop().Register(context.Background(), ln.Addr())
		if err != nil {
			t.Fatal(err)
		}
		r := <-res
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if err := r.Conn.SetKeepAlivePeriod(10 * time.Second); !errors.Is(err, errorx.ErrUnsupportedOp) {
			t.Fatalf("SetKeepAlivePeriod on a unix connection: %v, want ErrUnsupportedOp", err)
		}
		if err := r.Conn.SetKeepAlive(true, 10*time.Second, time.Second, 3); !errors.Is(err, errorx.ErrUnsupportedOp) {
			t.Fatalf("SetKeepAlive on a unix connection: %v, want ErrUnsupportedOp", err)
		}
	})
}

// shutdownGate asks to shut down on the first bytes it gets, and holds OnShutdown until the
// test lets it go.
type shutdownGate struct {
	gnet.BuiltinEventEngine
	booted, inShutdown, release chan struct{}
}

func (h *shutdownGate) OnBoot(gnet.Engine) gnet.Action  { close(h.booted); return gnet.None }
func (h *shutdownGate) OnTraffic(gnet.Conn) gnet.Action { return gnet.Shutdown }
func (h *shutdownGate) OnShutdown(gnet.Engine) {
	close(h.inShutdown)
	<-h.release
}

// From the moment a handler asks to shut down, the listener refuses new connections: none is
// accepted only to be reset, even while OnShutdown runs.
func TestShutdownRefusesNewConnections(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			h := &shutdownGate{booted: make(chan struct{}), inShutdown: make(chan struct{}), release: make(chan struct{})}
			addr := freeAddr(t, network)
			done := make(chan error, 1)
			go func() { done <- compat.Run(h, addr, quiet) }()
			<-h.booted
			dialT(t, addr).Write([]byte("stop"))
			<-h.inShutdown
			n, a := dialAddr(addr)
			if c, err := net.Dial(n, a); err == nil {
				c.Close()
				t.Fatal("a connection was accepted after the handler asked to shut down")
			} else if !errors.Is(err, unix.ECONNREFUSED) {
				t.Fatalf("dial after Shutdown: %v, want ECONNREFUSED", err)
			}
			close(h.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A client that is stopping or stopped dials nothing: gnet's ErrEngineInShutdown (gnet's own
// client fails on its closed poller instead).
func TestClientDialAfterStop(t *testing.T) {
	cli, err := compat.NewClient(&gnet.BuiltinEventEngine{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cli.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Dial("tcp", freeAddr(t, "tcp")[len("tcp://"):]); !errors.Is(err, errorx.ErrEngineInShutdown) {
		t.Fatalf("Dial after Stop: %v", err)
	}
}

// keepsEngine keeps the gnet.Engine its OnBoot gets, in an embedded struct: on uringnet that is
// gnet.Engine{}.
type keepsEngine struct {
	gnet.BuiltinEventEngine
	engineHolder
}

type engineHolder struct{ eng gnet.Engine }

func (h *keepsEngine) OnBoot(e gnet.Engine) gnet.Action { h.eng = e; return gnet.Shutdown }

// A handler that keeps a gnet.Engine hears, once per type, that it will hold gnet.Engine{}, and
// what to keep instead.
func TestWarnsOfAKeptGnetEngine(t *testing.T) {
	logger := &recordingLogger{}
	for range 2 {
		if err := compat.Run(&keepsEngine{}, freeAddr(t, "tcp"), gnet.WithLogger(logger)); err != nil {
			t.Fatal(err)
		}
	}
	warnings := 0
	for _, line := range logger.lines {
		if strings.Contains(line, "keeps a gnet.Engine (engineHolder.eng)") && strings.Contains(line, "uringnet.BootEngine") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d warnings in %q, want one", warnings, logger.lines)
	}
}
