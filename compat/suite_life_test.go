package compat_test

// The suite on an engine's life: ticks, the actions a handler returns, Stop and Wake.

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// ticker counts ticks and shuts the engine down from OnTick after a few.
type ticker struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	ticks  atomic.Int64
}

func (h *ticker) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *ticker) OnTick() (time.Duration, gnet.Action) {
	if h.ticks.Add(1) >= 5 {
		return 0, gnet.Shutdown
	}
	return 10 * time.Millisecond, gnet.None
}

// OnTick runs repeatedly with the delay it returns, and Shutdown from it ends Run without error.
func TestTickShutdown(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &ticker{booted: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- e.run(h, freeAddr(t, "tcp"), quiet, gnet.WithTicker(true)) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown from OnTick did not end Run")
		}
		// gnet's ticker may tick again before the loops have stopped.
		if n := h.ticks.Load(); n < 5 {
			t.Fatalf("%d ticks, want at least 5", n)
		}
	})
}

// actions: "close" closes the connection, "shutdown" the engine, "wake" wakes it from another
// goroutine (OnTraffic then finds nothing new and answers "woken"), and the callbacks' results
// on a closed connection are recorded.
type actions struct {
	gnet.BuiltinEventEngine
	booted    chan struct{}
	closeErrs chan error
	after     chan [2]error // Wake's and AsyncWrite's callback errors on a closed connection
	remote    chan net.Addr // RemoteAddr seen in OnClose
}

func (h *actions) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *actions) OnTraffic(c gnet.Conn) gnet.Action {
	if c.InboundBuffered() == 0 {
		c.Write([]byte("woken"))
		return gnet.None
	}
	b, _ := c.Next(-1)
	switch string(b) {
	case "close":
		return gnet.Close
	case "shutdown":
		return gnet.Shutdown
	case "wake":
		go c.Wake(nil)
	case "close-then-call":
		// Close is queued: the callbacks below run after the connection is closed.
		c.Close()
		go func() {
			time.Sleep(50 * time.Millisecond)
			var res [2]error
			wakeDone, writeDone := make(chan error, 1), make(chan error, 1)
			c.Wake(func(_ gnet.Conn, err error) error { wakeDone <- err; return nil })
			if err := c.AsyncWrite([]byte("late"), func(_ gnet.Conn, err error) error { writeDone <- err; return nil }); err != nil {
				writeDone <- err
			}
			res[0], res[1] = <-wakeDone, <-writeDone
			h.after <- res
		}()
	}
	return gnet.None
}

func (h *actions) OnClose(c gnet.Conn, err error) gnet.Action {
	h.remote <- c.RemoteAddr()
	h.closeErrs <- err
	return gnet.None
}

func newActions() *actions {
	return &actions{booted: make(chan struct{}), closeErrs: make(chan error, 16), after: make(chan [2]error, 1), remote: make(chan net.Addr, 16)}
}

// Close action: the peer sees EOF, OnClose reports nil and still knows the peer's address.
// The peer closing: OnClose reports an error matching io.EOF.
func TestCloseActionAndPeerClose(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := newActions()
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		c.Write([]byte("close"))
		if n, err := c.Read(make([]byte, 8)); err != io.EOF {
			t.Fatalf("after Close action: read %d, %v; want EOF", n, err)
		}
		if err := <-h.closeErrs; err != nil {
			t.Fatalf("OnClose after Close action: %v, want nil", err)
		}
		if ra := <-h.remote; ra == nil || ra.String() != c.LocalAddr().String() {
			t.Fatalf("RemoteAddr in OnClose: %v, want %v", ra, c.LocalAddr())
		}
		c2 := dialT(t, addr)
		c2.Write([]byte("x")) // the connection is surely open before it is closed
		time.Sleep(20 * time.Millisecond)
		c2.Close()
		<-h.remote
		if err := <-h.closeErrs; !errors.Is(err, io.EOF) || err.Error() != "read: EOF" {
			t.Fatalf("OnClose after the peer closed: %v, want read: EOF", err)
		}
	})
}

// Shutdown action ends Run without error.
func TestShutdownAction(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := newActions()
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() { done <- e.run(h, addr, quiet) }()
		<-h.booted
		c := dialT(t, addr)
		c.Write([]byte("shutdown"))
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run after Shutdown action: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown action did not end Run")
		}
	})
}

// Stop from another goroutine ends Run; a second Stop reports the engine is gone.
func TestStop(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := newActions()
		addr := freeAddr(t, "tcp")
		done := make(chan error, 1)
		go func() { done <- e.run(h, addr, quiet) }()
		<-h.booted
		dialT(t, addr).Write([]byte("hello"))
		if err := stopServing(context.Background(), e, addr, done); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := e.stop(context.Background(), addr); err == nil {
			t.Fatal("a second Stop succeeded")
		}
	})
}

// Wake from another goroutine calls OnTraffic with nothing new; Wake and AsyncWrite on a closed
// connection call back with nil and net.ErrClosed.
func TestWake(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := newActions()
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		c.Write([]byte("wake"))
		got := make([]byte, 5)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "woken" {
			t.Fatalf("after Wake: %q, %v", got, err)
		}
		c.Write([]byte("close-then-call"))
		res := <-h.after
		if res[0] != nil {
			t.Fatalf("Wake on a closed connection called back with %v, want nil", res[0])
		}
		if !errors.Is(res[1], net.ErrClosed) {
			t.Fatalf("AsyncWrite on a closed connection: %v, want net.ErrClosed", res[1])
		}
	})
}
