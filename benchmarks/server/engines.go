package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet"
	"github.com/uringnet/uringnet/listener"
)

// Engines are the servers compared, in the order tables list them.
var Engines = []string{"uringnet", "gnet", "listener", "net"}

// Start serves program with engine and loops event loops on a free loopback port and returns
// the address once it accepts connections. The server lives as long as the process.
//
// uringnet and gnet run the handler through the same gnet.EventHandler (uringnet.Run,
// gnet.Run); listener and net run the same goroutine-per-connection loop on listener.Listen
// (with loops rings of its own) and net.Listen (whose goroutines run on GOMAXPROCS threads).
func Start(engine, program string, loops int) (string, error) {
	h, err := ProgramNamed(program)
	if err != nil {
		return "", err
	}
	switch engine {
	case "uringnet", "gnet":
		return startGnetAPI(engine, h, loops)
	case "listener", "net":
		return startGoroutines(engine, h, loops)
	}
	return "", fmt.Errorf("server: unknown engine %q (want one of %v)", engine, Engines)
}

func startGnetAPI(engine string, h Handler, loops int) (string, error) {
	// gnet cannot listen on port 0 and tell the port: take one that was free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("server: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run := gnet.Run
	if engine == "uringnet" {
		run = uringnet.Run
	}
	g := &gnetHandler{h: h, booted: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- run(g, "tcp://"+addr, gnet.WithMulticore(true), gnet.WithNumEventLoop(loops))
	}()
	select {
	case <-g.booted:
	case err := <-errc:
		return "", fmt.Errorf("server: %s: %w", engine, err)
	}
	if engine == "uringnet" {
		if backend, err := uringnet.Backend(); backend != "io_uring" {
			return "", fmt.Errorf("server: uringnet runs on %s, not io_uring: %v", backend, err)
		}
	}
	return addr, WaitAccepting(addr)
}

func startGoroutines(engine string, h Handler, loops int) (string, error) {
	var ln net.Listener
	var err error
	if engine == "listener" {
		lc := listener.ListenConfig{Loops: loops}
		ln, err = lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if _, ours := ln.(*listener.Listener); err == nil && !ours {
			err = errors.New("listener fell back to the standard library")
		}
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return "", fmt.Errorf("server: %s: listen: %w", engine, err)
	}
	go acceptLoop(ln, h)
	return ln.Addr().String(), nil
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
