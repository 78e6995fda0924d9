package compat_test

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/compat"
	"github.com/uringnet/uringnet/ringset"
)

// movingEcho echoes, and records for each connection the loop its last OnTraffic ran on and
// whether the context set in OnOpen was still there.
type movingEcho struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	opened chan gnet.Conn
	mu     sync.Mutex
	seenOn map[gnet.Conn]gnet.EventLoop
	lost   int // contexts missing in OnTraffic
}

func (h *movingEcho) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *movingEcho) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(c.RemoteAddr().String())
	if h.opened != nil {
		h.opened <- c
	}
	return nil, gnet.None
}
func (h *movingEcho) OnTraffic(c gnet.Conn) gnet.Action {
	h.mu.Lock()
	h.seenOn[c] = c.EventLoop()
	if c.Context() != c.RemoteAddr().String() {
		h.lost++
	}
	h.mu.Unlock()
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

func (h *movingEcho) loopOf(c gnet.Conn) gnet.EventLoop {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seenOn[c]
}

func newMovingEcho() *movingEcho {
	return &movingEcho{booted: make(chan struct{}), opened: make(chan gnet.Conn, 256), seenOn: map[gnet.Conn]gnet.EventLoop{}}
}

// pingPong writes msg and checks that it comes back.
func pingPong(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		return fmt.Errorf("echo of %q: %q, %v", msg, got, err)
	}
	return nil
}

// A gnet connection moved by Engine.Move and by its own MoveTo goes on serving on each loop
// in turn: its OnTraffic runs there (EventLoop says so), its context is kept, and nothing the
// client sent is lost.
func TestMoveGnetConn(t *testing.T) {
	h := newMovingEcho()
	addr := freeAddr(t, "tcp")
	serve(t, uring, h, h.booted, []string{addr}, gnet.WithNumEventLoop(4))
	e, err := compat.EngineFor(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := dialT(t, addr)
	gc := <-h.opened
	if err := pingPong(c, "before"); err != nil {
		t.Fatal(err)
	}
	loops := map[gnet.EventLoop]int{}
	for round := 0; round < 3; round++ {
		for i := 0; i < 4; i++ {
			done := make(chan error, 1)
			move := e.Move
			if i%2 == 1 {
				move = func(c gnet.Conn, i int, f func(error)) error {
					return c.(interface {
						MoveTo(int, func(error)) error
					}).MoveTo(i, f)
				}
			}
			if err := move(gc, i, func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("move to loop %d: %v", i, err)
			}
			if err := pingPong(c, "after a move"); err != nil {
				t.Fatal(err)
			}
			el := h.loopOf(gc)
			if prev, seen := loops[el]; seen && prev != i {
				t.Fatalf("OnTraffic after the move to loop %d ran on the loop it ran on for loop %d", i, prev)
			}
			loops[el] = i
		}
	}
	if len(loops) != 4 {
		t.Fatalf("OnTraffic ran on %d distinct loops over moves to 4", len(loops))
	}
	if h.lost > 0 {
		t.Fatalf("the context was missing in %d OnTraffic calls", h.lost)
	}
	if err := e.Move(gc, 4, nil); err == nil {
		t.Fatal("Move to loop 4 of 4 succeeded")
	}
	other := newMovingEcho()
	addr2 := freeAddr(t, "tcp")
	serve(t, uring, other, other.booted, []string{addr2})
	dialT(t, addr2)
	if err := e.Move(<-other.opened, 0, nil); !errors.Is(err, errorx.ErrUnsupportedOp) {
		t.Fatalf("Move of another engine's connection: %v, want ErrUnsupportedOp", err)
	}
}

// WithRebalance reaches the engine: connections that gnet's source-address hash put all on one
// of four loops end up served by several loops under load.
func TestWithRebalance(t *testing.T) {
	h := newMovingEcho()
	h.opened = nil
	addr := freeAddr(t, "tcp")
	serve(t, uring, h, h.booted, []string{addr}, gnet.WithNumEventLoop(4), gnet.WithLoadBalancing(gnet.SourceAddrHash),
		compat.WithRebalance(ringset.Rebalance{Interval: 100 * time.Millisecond}))
	_, hostPort := dialAddr(addr)
	var clients []net.Conn
	for port := 21000; len(clients) < 64 && port < 65000; port++ {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
		if crc32.ChecksumIEEE([]byte(local.String()))%4 != 0 {
			continue
		}
		d := net.Dialer{LocalAddr: local}
		if c, err := d.Dial("tcp", hostPort); err == nil {
			defer c.Close()
			clients = append(clients, c)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	distinct := 0
	for distinct < 3 && time.Now().Before(deadline) {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if err := pingPong(c, "load on loop zero, until it is spread"); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		seen := map[gnet.EventLoop]bool{}
		h.mu.Lock()
		for _, el := range h.seenOn {
			seen[el] = true
		}
		h.mu.Unlock()
		distinct = len(seen)
	}
	if distinct < 3 {
		t.Fatalf("connections hashed to one loop were served by %d loops after the rebalancer's turn", distinct)
	}
}
