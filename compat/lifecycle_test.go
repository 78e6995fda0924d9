package compat_test

// The engine's life as gnet's tests see it (gnet_test.go's testServer, TestShutdown,
// TestCloseConnection, TestServerOptionsCheck, TestEngineStop, TestSafeContext): what the engine
// handle answers in OnBoot, while serving, in OnShutdown and after Run, and what a connection
// reports as it closes. Each runs on gnet and on uringnet with the same assertions.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/compat"
	"golang.org/x/sys/unix"
)

// engineHandle is what gnet.Engine and compat.Engine have in common.
type engineHandle interface {
	Validate() error
	CountConnections() int
	Dup() (int, error)
	DupListener(network, addr string) (int, error)
	Register(ctx context.Context) (<-chan gnet.RegisteredResult, error)
	Stop(ctx context.Context) error
}

// handleOf is the engine a handler reaches: the gnet.Engine its OnBoot got under gnet, EngineOf
// under uringnet (whose OnBoot gets gnet.Engine{}).
func handleOf(h gnet.EventHandler, eng gnet.Engine) engineHandle {
	if e, ok := compat.EngineOf(h); ok {
		return e
	}
	return eng
}

// checkDup duplicates a listener through dup and checks the descriptor is a socket bound where
// want is.
func checkDup(t *testing.T, what string, dup func() (int, error), want string) {
	t.Helper()
	fd, err := dup()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Errorf("%s: descriptor %d: %v", what, fd, err)
		return
	}
	if in4, ok := sa.(*unix.SockaddrInet4); ok {
		_, port, _ := net.SplitHostPort(want)
		if p := net.JoinHostPort("", itoa(in4.Port)); p != net.JoinHostPort("", port) {
			t.Errorf("%s: bound to port %d, want %s", what, in4.Port, port)
		}
	}
}

func itoa(n int) string { return (&net.TCPAddr{Port: n}).String()[1:] }

// lifecycle records what the engine handle answered at each stage of an engine on a TCP and a
// unix address (Rotate).
type lifecycle struct {
	gnet.BuiltinEventEngine
	t        *testing.T
	tcp      string // host:port
	unixPath string
	booted   chan struct{}
	eng      engineHandle
	opened   chan int // CountConnections in each OnOpen
	shutdown chan struct{}
}

func (h *lifecycle) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = handleOf(h, e)
	if _, err := h.eng.Register(gnet.NewNetAddrContext(context.Background(), &net.TCPAddr{Port: 1})); !errors.Is(err, errorx.ErrEmptyEngine) {
		h.t.Errorf("Register in OnBoot: %v, want ErrEmptyEngine (no loops yet)", err)
	}
	if fd, err := h.eng.Dup(); !errors.Is(err, errorx.ErrUnsupportedOp) || fd != -1 {
		h.t.Errorf("Dup with two listeners: %d, %v; want -1, ErrUnsupportedOp", fd, err)
	}
	checkDup(h.t, "DupListener(tcp) in OnBoot", func() (int, error) { return h.eng.DupListener("tcp", h.tcp) }, h.tcp)
	checkDup(h.t, "DupListener(unix) in OnBoot", func() (int, error) { return h.eng.DupListener("unix", h.unixPath) }, "")
	if fd, err := h.eng.DupListener("tcp", "abc"); !errors.Is(err, errorx.ErrInvalidNetworkAddress) || fd != -1 {
		h.t.Errorf("DupListener(tcp, abc): %d, %v; want -1, ErrInvalidNetworkAddress", fd, err)
	}
	if n := h.eng.CountConnections(); n != 0 {
		h.t.Errorf("CountConnections in OnBoot: %d", n)
	}
	close(h.booted)
	return gnet.None
}

func (h *lifecycle) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	h.opened <- h.eng.CountConnections()
	return nil, gnet.None
}

func (h *lifecycle) OnShutdown(gnet.Engine) {
	if err := h.eng.Validate(); err != nil {
		h.t.Errorf("Validate in OnShutdown: %v", err)
	}
	checkDup(h.t, "DupListener(tcp) in OnShutdown", func() (int, error) { return h.eng.DupListener("tcp", h.tcp) }, h.tcp)
	close(h.shutdown)
}

// The engine handle, as gnet's answers it: in OnBoot every listener is there but no loop
// (Register: ErrEmptyEngine); a connection counts from its OnOpen; OnShutdown still has a working
// engine; after Run, ErrEngineInShutdown.
func TestEngineHandleThroughItsLife(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		tcpAddr, unixAddr := freeAddr(t, "tcp"), freeAddr(t, "unix")
		_, host := dialAddr(tcpAddr)
		_, path := dialAddr(unixAddr)
		h := &lifecycle{t: t, tcp: host, unixPath: path, booted: make(chan struct{}), opened: make(chan int, 8), shutdown: make(chan struct{})}
		done := make(chan error, 1)
		// Least connections: gnet's round-robin balancer races with a Register from outside.
		go func() {
			done <- e.rotate(h, []string{tcpAddr, unixAddr}, quiet, gnet.WithNumEventLoop(2), gnet.WithLoadBalancing(gnet.LeastConnections))
		}()
		<-h.booted
		for i := 1; i <= 3; i++ {
			dialT(t, tcpAddr)
			if n := <-h.opened; n != i {
				t.Fatalf("CountConnections in OnOpen of connection %d: %d", i, n)
			}
		}
		res, err := h.eng.Register(gnet.NewNetAddrContext(context.Background(), &net.UnixAddr{Name: path, Net: "unix"}))
		if err != nil {
			t.Fatalf("Register while serving: %v", err)
		}
		if r := <-res; r.Err != nil {
			t.Fatalf("Register while serving: %v", r.Err)
		}
		<-h.opened
		<-h.opened
		if n := h.eng.CountConnections(); n != 5 {
			t.Fatalf("CountConnections: %d, want 5", n)
		}
		if err := h.eng.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		<-h.shutdown
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := h.eng.Validate(); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Validate after Run: %v", err)
		}
		if err := h.eng.Stop(context.Background()); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Stop after Run: %v", err)
		}
		if n := h.eng.CountConnections(); n != -1 {
			t.Fatalf("CountConnections after Run: %d", n)
		}
	})
}

// countingOpens checks, in each OnOpen, that CountConnections counts the connections opened so
// far (gnet's TestShutdown, with its 100 clients dialing at once).
type countingOpens struct {
	gnet.BuiltinEventEngine
	booted  chan struct{}
	eng     engineHandle
	clients atomic.Int32
	wrong   atomic.Int32
}

func (h *countingOpens) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = handleOf(h, e)
	close(h.booted)
	return gnet.None
}

func (h *countingOpens) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	if int(h.clients.Add(1)) != h.eng.CountConnections() {
		h.wrong.Add(1)
	}
	return nil, gnet.None
}

func (h *countingOpens) OnClose(gnet.Conn, error) gnet.Action {
	h.clients.Add(-1)
	return gnet.None
}

func TestCountConnectionsInOnOpen(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &countingOpens{booted: make(chan struct{})}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dialT(t, addr)
			}()
		}
		wg.Wait()
		for deadline := time.Now().Add(10 * time.Second); h.clients.Load() < 100 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := h.wrong.Load(); n != 0 || h.clients.Load() != 100 {
			t.Fatalf("%d of %d OnOpens saw another count than their own", n, h.clients.Load())
		}
	})
}

// closingShutdown closes its connection from another goroutine with CloseWithCallback; its
// OnClose asks to shut down, which the callback hears as gnet's ErrEngineShutdown. It also
// writes a last reply in OnClose, and checks both contexts are released after it.
type closingShutdown struct {
	gnet.BuiltinEventEngine
	booted   chan struct{}
	cbErr    chan error
	released chan gnet.Conn
}

func (h *closingShutdown) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *closingShutdown) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext("ctx")
	c.SetSafeContext("safe")
	return nil, gnet.None
}
func (h *closingShutdown) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	go func() {
		c.CloseWithCallback(func(_ gnet.Conn, err error) error { h.cbErr <- err; return nil })
	}()
	return gnet.None
}
func (h *closingShutdown) OnClose(c gnet.Conn, _ error) gnet.Action {
	if c.Context() != "ctx" || c.SafeContext() != "safe" {
		h.cbErr <- errors.New("the contexts were gone in OnClose")
	}
	c.Write([]byte(" bye"))
	h.released <- c
	return gnet.Shutdown
}

func TestCloseWithCallbackHearsShutdownAndOnCloseWrites(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &closingShutdown{booted: make(chan struct{}), cbErr: make(chan error, 2), released: make(chan gnet.Conn, 1)}
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() { done <- e.run(h, addr, quiet) }()
		<-h.booted
		c := dialT(t, addr)
		c.Write([]byte("hi"))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "hi bye" {
			t.Fatalf("read %q, %v; want the echo, OnClose's last words, then EOF", got, err)
		}
		if err := <-h.cbErr; !errors.Is(err, errorx.ErrEngineShutdown) {
			t.Fatalf("CloseWithCallback's callback: %v, want ErrEngineShutdown", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		gc := <-h.released
		if gc.Context() != nil || gc.SafeContext() != nil {
			t.Fatalf("after OnClose: Context %v, SafeContext %v; want both released", gc.Context(), gc.SafeContext())
		}
		if n, err := gc.Write([]byte("late")); n != 0 || !errors.Is(err, unix.EBADF) {
			t.Fatalf("Write after the close: %d, %v; want gnet's write(2) on a closed descriptor", n, err)
		}
	})
}

// More loops than threads a program may lock: gnet's ErrTooManyEventLoopThreads, at once.
func TestTooManyLockedLoops(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		done := make(chan error, 1)
		go func() {
			done <- e.run(&gnet.BuiltinEventEngine{}, freeAddr(t, "tcp"), quiet, gnet.WithNumEventLoop(10001), gnet.WithLockOSThread(true))
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errorx.ErrTooManyEventLoopThreads) {
				t.Fatalf("Run: %v, want ErrTooManyEventLoopThreads", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run with 10,001 locked loops did not return")
		}
	})
}

// selfStopper echoes and stops its own engine, through its own handle, after n echoes.
type selfStopper struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	eng    engineHandle
	n      atomic.Int32
	stops  chan error
}

func (h *selfStopper) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = handleOf(h, e)
	close(h.booted)
	return gnet.None
}
func (h *selfStopper) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	if h.n.Add(1) == 3 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h.stops <- h.eng.Stop(ctx)
		}()
	}
	return gnet.None
}

// Two engines on one address (WithReusePort), each stopping itself through its own handle, as
// gnet's TestEngineStop: each stops, the other serves on until it stops too.
func TestTwoEnginesOnOneAddressStopThemselves(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		addr := freeAddr(t, "tcp")
		network, host := dialAddr(addr)
		hs := []*selfStopper{{booted: make(chan struct{}), stops: make(chan error, 1)}, {booted: make(chan struct{}), stops: make(chan error, 1)}}
		done := make(chan error, 2)
		for _, h := range hs {
			go func() { done <- e.run(h, addr, quiet, gnet.WithReusePort(true), gnet.WithReuseAddr(true)) }()
			<-h.booted
		}
		deadline := time.Now().Add(20 * time.Second)
		for served := 0; served < 2; {
			if time.Now().After(deadline) {
				t.Fatalf("engines served %d and %d echoes; each should have stopped after 3", hs[0].n.Load(), hs[1].n.Load())
			}
			c, err := net.DialTimeout(network, host, time.Second)
			if err != nil {
				time.Sleep(10 * time.Millisecond) // both stopped their listeners; Run is returning
				continue
			}
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write([]byte("x"))
			c.Read(make([]byte, 1))
			c.Close()
			served = 0
			for _, h := range hs {
				if h.n.Load() >= 3 {
					served++
				}
			}
		}
		for _, h := range hs {
			if err := <-h.stops; err != nil {
				t.Fatalf("Stop through the handle: %v", err)
			}
		}
		for range hs {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("an engine did not stop")
			}
		}
		if err := hs[0].eng.Stop(context.Background()); !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Fatalf("Stop of a stopped engine: %v", err)
		}
	})
}

// recordingLogger keeps the lines logged through it.
type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}
func (l *recordingLogger) Debugf(format string, args ...any) { l.add(format, args...) }
func (l *recordingLogger) Infof(format string, args ...any)  { l.add(format, args...) }
func (l *recordingLogger) Warnf(format string, args ...any)  { l.add(format, args...) }
func (l *recordingLogger) Errorf(format string, args ...any) { l.add(format, args...) }
func (l *recordingLogger) Fatalf(format string, args ...any) { l.add(format, args...) }

func (l *recordingLogger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// loggedAtBoot records how many lines the logger had when OnBoot ran.
type loggedAtBoot struct {
	gnet.BuiltinEventEngine
	logger *recordingLogger
	atBoot chan int
}

func (h *loggedAtBoot) OnBoot(gnet.Engine) gnet.Action {
	h.atBoot <- h.logger.count()
	return gnet.Shutdown
}

// The engine's start line goes through the application's logger, before OnBoot, as gnet's does;
// the client's too, before its OnBoot.
func TestStartLineThroughTheLogger(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &loggedAtBoot{logger: &recordingLogger{}, atBoot: make(chan int, 2)}
		if err := e.run(h, freeAddr(t, "tcp"), gnet.WithLogger(h.logger)); err != nil {
			t.Fatal(err)
		}
		if n := <-h.atBoot; n == 0 {
			t.Fatal("Run: nothing logged through WithLogger's logger before OnBoot")
		}
		cl := &loggedAtBoot{logger: &recordingLogger{}, atBoot: make(chan int, 2)}
		cli, err := e.newClient(cl, gnet.WithLogger(cl.logger))
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Start(); err != nil { // a client ignores OnBoot's Shutdown
			t.Fatal(err)
		}
		defer cli.Stop()
		if n := <-cl.atBoot; n == 0 {
			t.Fatal("client Start: nothing logged through WithLogger's logger before OnBoot")
		}
	})
}

// bindPlain binds a socket of network's kind to host:port with no SO_REUSEADDR or
// SO_REUSEPORT, as a program that does not set them would: it fails while any socket still
// holds the address.
func bindPlain(network, hostPort string) error {
	ap, err := netip.ParseAddrPort(hostPort)
	if err != nil {
		return err
	}
	typ := unix.SOCK_STREAM
	if network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
}

// When Run returns, the engine's address is free: a program binding it again at once (a
// restart, the next test) succeeds, even without SO_REUSEADDR.
func TestAddressFreeWhenRunReturns(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		for _, network := range []string{"tcp", "udp"} {
			for _, opts := range [][]gnet.Option{{quiet}, {quiet, gnet.WithReusePort(true), gnet.WithNumEventLoop(2)}} {
				h := &echoServer{booted: make(chan struct{}), udp: network == "udp"}
				addr := freeAddr(t, network)
				done := make(chan error, 1)
				go func() { done <- e.run(h, addr, opts...) }()
				<-h.booted
				echoClients(t, addr, 2)
				if err := stopServing(context.Background(), e, addr, done); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				_, hostPort := dialAddr(addr)
				if err := bindPlain(network, hostPort); err != nil {
					t.Fatalf("%s, %d options: binding the address right after Run returned: %v", addr, len(opts), err)
				}
			}
		}
	})
}

// bootPanic panics in OnBoot.
type bootPanic struct{ gnet.BuiltinEventEngine }

func (*bootPanic) OnBoot(gnet.Engine) gnet.Action { panic("boot bug") }

// A panic in OnBoot goes on to Run's caller, and the listener is closed on the way, as with
// gnet.Run.
func TestPanicInOnBoot(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		addr := freeAddr(t, "tcp")
		func() {
			defer func() {
				if r := recover(); r != "boot bug" {
					t.Fatalf("Run: recovered %v, want OnBoot's panic", r)
				}
			}()
			e.run(&bootPanic{}, addr, quiet)
			t.Fatal("Run returned")
		}()
		_, hostPort := dialAddr(addr)
		if err := bindPlain("tcp", hostPort); err != nil {
			t.Fatalf("the address after OnBoot panicked: %v", err)
		}
	})
}

// bootKeeper keeps BootEngine's answer in OnBoot, as uringnet-migrate rewrites a handler that
// kept its gnet.Engine, and stops through it.
type bootKeeper struct {
	gnet.BuiltinEventEngine
	eng    compat.Engine
	booted chan struct{}
	opened chan int
}

func (h *bootKeeper) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = compat.BootEngine(h, e)
	close(h.booted)
	return gnet.None
}
func (h *bootKeeper) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	h.opened <- h.eng.CountConnections()
	return nil, gnet.None
}

// valueKeeper is bootKeeper with value receivers: EngineOf cannot find a copy, BootEngine still
// finds the engine whose OnBoot runs.
type valueKeeper struct {
	*gnet.BuiltinEventEngine
	keep chan compat.Engine
}

func (h valueKeeper) OnBoot(e gnet.Engine) gnet.Action {
	h.keep <- compat.BootEngine(h, e)
	return gnet.None
}

// BootEngine is the running engine, on io_uring and under gnet's own engine alike: it counts
// connections and stops it.
func TestBootEngine(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &bootKeeper{booted: make(chan struct{}), opened: make(chan int, 1)}
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() { done <- e.run(h, addr, quiet) }()
		<-h.booted
		dialT(t, addr)
		if n := <-h.opened; n != 1 {
			t.Fatalf("CountConnections in OnOpen: %d", n)
		}
		if err := h.eng.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		v := valueKeeper{BuiltinEventEngine: &gnet.BuiltinEventEngine{}, keep: make(chan compat.Engine, 1)}
		addr = freeAddr(t, "tcp")
		go func() { done <- e.run(v, addr, quiet) }()
		eng := <-v.keep
		if err := eng.Validate(); err != nil {
			t.Fatalf("BootEngine of a handler with value receivers: %v", err)
		}
		if err := eng.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
