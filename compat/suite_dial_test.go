package compat_test

// The suite on connections the program makes: Register, Enroll and Execute, the client, and
// addresses gnet refuses.

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// proxy relays each client connection to a backend: the backend connection is registered on
// the client connection's own loop (EventLoop.Register), and paired there (Execute), so both
// directions are plain Writes on one loop.
type proxy struct {
	gnet.BuiltinEventEngine
	booted  chan struct{}
	backend net.Addr
	enroll  bool // adopt a net.Conn (Enroll) instead of dialing (Register)
	failed  chan error
}

type pair struct{ peer gnet.Conn }

type pairing struct{ front, back gnet.Conn }

func (p pairing) Run(context.Context) error {
	p.front.SetContext(&pair{peer: p.back})
	p.back.SetContext(&pair{peer: p.front})
	p.front.Wake(nil) // anything the client sent while the backend was connecting
	return nil
}

func (h *proxy) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *proxy) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if c.Context() != nil { // the backend side: paired by the Runnable
		return nil, gnet.None
	}
	c.SetContext(&pair{})
	el := c.EventLoop()
	go func() {
		var res <-chan gnet.RegisteredResult
		var err error
		ctx := gnet.NewContext(context.Background(), "backend")
		if h.enroll {
			var nc net.Conn
			if nc, err = net.Dial(h.backend.Network(), h.backend.String()); err == nil {
				res, err = el.Enroll(ctx, nc)
			}
		} else {
			res, err = el.Register(ctx, h.backend)
		}
		if err == nil {
			r := <-res
			if err = r.Err; err == nil {
				err = el.Execute(context.Background(), pairing{front: c, back: r.Conn})
			}
		}
		if err != nil {
			h.failed <- err
		}
	}()
	return nil, gnet.None
}

func (h *proxy) OnTraffic(c gnet.Conn) gnet.Action {
	p, _ := c.Context().(*pair)
	if p == nil || p.peer == nil {
		return gnet.None // not paired yet: the bytes wait in c's buffer
	}
	b, _ := c.Next(-1)
	p.peer.Write(b)
	return gnet.None
}

func (h *proxy) OnClose(c gnet.Conn, _ error) gnet.Action {
	if p, _ := c.Context().(*pair); p != nil && p.peer != nil {
		p.peer.Close()
	}
	return gnet.None
}

func TestProxyRegisterEnrollExecute(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096)); c.Close() }()
		}
	}()
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		for _, enroll := range []bool{false, true} {
			t.Run(fmt.Sprintf("enroll=%v", enroll), func(t *testing.T) {
				h := &proxy{booted: make(chan struct{}), backend: backend.Addr(), enroll: enroll, failed: make(chan error, 8)}
				addr := freeAddr(t, "tcp")
				serve(t, e, h, h.booted, []string{addr}, gnet.WithNumEventLoop(2))
				echoClients(t, addr, 4)
				select {
				case err := <-h.failed:
					t.Fatal(err)
				default:
				}
			})
		}
	})
}

// pingClient is a client handler: it records what comes back on each connection.
type pingClient struct {
	gnet.BuiltinEventEngine
	got chan string
}

func (h *pingClient) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	h.got <- fmt.Sprintf("%v:%s", c.Context(), b)
	return gnet.None
}

// The client dials tcp and unix servers and enrolls a net.Conn; its handler sees the echoes,
// with the context given at dial time.
func TestClient(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		srv := &echoServer{booted: make(chan struct{})}
		tcpAddr, unixAddr := freeAddr(t, "tcp"), freeAddr(t, "unix")
		serve(t, e, srv, srv.booted, []string{tcpAddr, unixAddr})
		h := &pingClient{got: make(chan string, 16)}
		cli, err := e.newClient(h, quiet, gnet.WithNumEventLoop(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		defer cli.Stop()
		for i, a := range []string{tcpAddr, unixAddr} {
			network, addr := dialAddr(a)
			c, err := cli.DialContext(network, addr, i)
			if err != nil {
				t.Fatalf("Dial %s: %v", a, err)
			}
			if err := c.AsyncWrite([]byte("ping"), nil); err != nil {
				t.Fatal(err)
			}
			if got := <-h.got; got != fmt.Sprintf("%d:ping", i) {
				t.Fatalf("client got %q", got)
			}
		}
		network, addr := dialAddr(tcpAddr)
		nc, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cli.Enroll(nc)
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		c.AsyncWrite([]byte("enrolled"), nil)
		if got := <-h.got; got != "<nil>:enrolled" {
			t.Fatalf("enrolled client got %q", got)
		}
	})
}

// Addresses that do not parse give gnet's errors.
func TestBadAddresses(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &echoServer{booted: make(chan struct{})}
		for _, a := range []string{"tcp://", "sctp://127.0.0.1:0", "127.0.0.1:0", "unix://"} {
			if err := e.run(h, a, quiet); err == nil {
				t.Fatalf("Run(%q) succeeded", a)
			}
		}
	})
}
