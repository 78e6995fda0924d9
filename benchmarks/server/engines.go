package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet"
	"github.com/uringnet/uringnet/listener"
)

// Engines are the servers compared, in the order tables list them.
var Engines = []string{"uringnet", "gnet", "listener", "net"}

// Base is the engine an engine's name runs. A run may name an engine twice, the second time
// with a suffix ("net.2"): the same server, measured as another engine, so that its ratio to
// the first shows how far apart the measure puts two identical servers.
func Base(engine string) string {
	name, _, _ := strings.Cut(engine, ".")
	return name
}

// IsCopy reports whether engine is another engine run again (Base).
func IsCopy(engine string) bool { return Base(engine) != engine }

// GoroutinePerConn reports whether engine serves a net.Listener program (listener and net),
// rather than a gnet.EventHandler (uringnet and gnet).
func GoroutinePerConn(engine string) bool {
	base := Base(engine)
	return base == "listener" || base == "net"
}

// Start serves program with engine on a free loopback port and returns
// the address once it accepts connections, and the function that stops the server.
//
// uringnet and gnet run the handler through the same gnet.EventHandler (uringnet.Run,
// gnet.Run) with loops event loops; listener and net run the same goroutine-per-connection loop
// on listener.Listen (its default rings, as a program that swaps net.Listen for it gets them)
// and net.Listen (whose goroutines run on GOMAXPROCS threads).
//
// The program NetHTTP is net/http's server, which only listener and net run. opts are more
// gnet options (gnet.WithReusePort), for uringnet and gnet alike; the other engines take none.
func Start(engine, program string, loops int, opts ...gnet.Option) (addr string, stop func() error, err error) {
	engine = Base(engine) // a copy serves as its engine does
	var serveConns func(net.Listener)
	if program == NetHTTP {
		if !GoroutinePerConn(engine) {
			return "", nil, fmt.Errorf("server: %s is a net.Listener program; %s does not run it", program, engine)
		}
		serveConns = serveNetHTTP
	} else {
		h, err := ProgramNamed(program)
		if err != nil {
			return "", nil, err
		}
		if engine == "uringnet" || engine == "gnet" {
			return startGnetAPI(engine, h, loops, opts)
		}
		serveConns = func(ln net.Listener) { Serve(ln, h) }
	}
	if GoroutinePerConn(engine) {
		if len(opts) > 0 {
			return "", nil, fmt.Errorf("server: %s takes no gnet options", engine)
		}
		return startGoroutines(engine, serveConns)
	}
	return "", nil, fmt.Errorf("server: unknown engine %q (want one of %v)", engine, Engines)
}

// FreeAddr returns a loopback address whose port was free a moment ago, for servers that
// cannot listen on port 0 and tell the port (gnet's, examples/resp).
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("server: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startGnetAPI(engine string, h Handler, loops int, opts []gnet.Option) (string, func() error, error) {
	addr, err := FreeAddr()
	if err != nil {
		return "", nil, err
	}
	run, stop := gnet.Run, gnet.Stop
	if engine == "uringnet" {
		run, stop = uringnet.Run, uringnet.Stop
	}
	g := &gnetHandler{h: h, booted: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- run(g, "tcp://"+addr, append([]gnet.Option{gnet.WithMulticore(true), gnet.WithNumEventLoop(loops)}, opts...)...)
	}()
	select {
	case <-g.booted:
	case err := <-errc:
		return "", nil, fmt.Errorf("server: %s: %w", engine, err)
	}
	stopServer := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := stop(ctx, "tcp://"+addr)
		// gnet v2.10.0 registers its engine for Stop only after its loops have started, which
		// is after OnBoot: a Stop in that moment finds none ("already in shutdown"). Its Stop
		// also says "already in shutdown" when the engine it shut down finished before Stop
		// looked, and forgets the engine: then Run has returned.
		for errors.Is(err, errorx.ErrEngineInShutdown) && ctx.Err() == nil {
			select {
			case err := <-errc:
				return err
			case <-time.After(time.Millisecond):
			}
			err = stop(ctx, "tcp://"+addr)
		}
		if err != nil {
			return fmt.Errorf("server: stop %s: %w", engine, err)
		}
		return <-errc
	}
	if engine == "uringnet" {
		if backend, err := uringnet.Backend(); backend != "io_uring" {
			stopServer()
			return "", nil, fmt.Errorf("server: uringnet runs on %s, not io_uring: %v", backend, err)
		}
	}
	if err := WaitAccepting(addr); err != nil {
		stopServer()
		return "", nil, err
	}
	return addr, stopServer, nil
}

// startGoroutines listens with listener.Listen or net.Listen and runs serveConns on the
// listener until it closes.
func startGoroutines(engine string, serveConns func(net.Listener)) (string, func() error, error) {
	var ln net.Listener
	var err error
	if engine == "listener" {
		// As a program that swaps net.Listen for it calls it: the shared engine, with its
		// default rings (a ring per two CPUs; the goroutines need the rest).
		ln, err = listener.Listen("tcp", "127.0.0.1:0")
		if _, ours := ln.(*listener.Listener); err == nil && !ours {
			err = errors.New("listener fell back to the standard library")
		}
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return "", nil, fmt.Errorf("server: %s: listen: %w", engine, err)
	}
	done := make(chan struct{})
	go func() {
		serveConns(ln)
		close(done)
	}()
	return ln.Addr().String(), func() error {
		err := ln.Close()
		<-done
		return err
	}, nil
}

// WaitAccepting returns once addr accepts a connection (the engines listen asynchronously).
func WaitAccepting(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server: %s never accepted: %w", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
