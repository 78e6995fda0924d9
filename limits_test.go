package uringnet_test

// The descriptor limit, against both entry points: a loop serves as many connections as the
// process's limit lets gnet serve (its table is sized from RLIMIT_NOFILE, and a direct
// descriptor takes no regular one), and a low limit makes the tables smaller, never a failure
// to start.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/uringnet/uringnet"
	"github.com/uringnet/uringnet/listener"
	"golang.org/x/sys/unix"
)

// echo echoes and counts its open connections.
type echo struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	open   atomic.Int64
}

func (h *echo) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }
func (h *echo) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	h.open.Add(1)
	return nil, gnet.None
}
func (h *echo) OnClose(gnet.Conn, error) gnet.Action { h.open.Add(-1); return gnet.None }
func (h *echo) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

// runEcho serves an echo on a free loopback port with one event loop (gnet's default) until the
// test ends, and returns its address and handler.
func runEcho(t *testing.T) (string, *echo) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &echo{booted: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- uringnet.Run(h, "tcp://"+addr, gnet.WithLogLevel(logging.ErrorLevel)) }()
	select {
	case <-h.booted:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	if _, ok := uringnet.EngineOf(h); !ok {
		t.Fatal("not served by the io_uring engine")
	}
	t.Cleanup(func() {
		e, _ := uringnet.EngineOf(h)
		e.Stop(t.Context())
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return addr, h
}

// echoToken writes i and reads it back.
func echoToken(c net.Conn, i uint64) error {
	var out, in [8]byte
	binary.LittleEndian.PutUint64(out[:], i)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(out[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, in[:]); err != nil {
		return err
	}
	if in != out {
		return fmt.Errorf("connection %d: echoed %x", i, in)
	}
	return nil
}

// One event loop holds 15,000 connections at once, each echoing its own token: more than gnet's
// one loop could hold here (the test's own 15,000 client sockets already take most of the
// descriptor limit; uringnet's side takes none of it). Under the race detector, 2,000.
func TestFifteenThousandConnectionsOneLoop(t *testing.T) {
	n := 15000
	if raceEnabled {
		n = 2000
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max < uint64(n)+1024 {
		t.Skipf("the hard descriptor limit, %d, is below the %d the test's own client sockets need", rl.Max, n+1024)
	}
	raised := rl
	raised.Cur = rl.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &rl) })

	addr, h := runEcho(t)
	conns := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	next := atomic.Int64{}
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				c, err := net.DialTimeout("tcp", addr, 30*time.Second)
				if err == nil {
					conns[i] = c
					err = echoToken(c, uint64(i))
				}
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if open := h.open.Load(); open != int64(n) {
		t.Fatalf("%d connections open at once, want %d", open, n)
	}
	for i, c := range conns { // every one still served, all at once
		if err := echoToken(c, uint64(i)+uint64(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// lowLimitEnv tells the test binary it runs as TestServesUnderLowFdLimit's child.
const lowLimitEnv = "URINGNET_TEST_LOW_FD_LIMIT"

func TestMain(m *testing.M) {
	if os.Getenv(lowLimitEnv) == "1" {
		if err := serveUnderLowFdLimit(); err != nil {
			fmt.Println("FAIL:", err)
			os.Exit(1)
		}
		fmt.Println("served under the low limit")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Under `ulimit -n 4096` both entry points start on io_uring and serve: their tables are sized
// to the limit. The test binary runs again in a process whose limits are both 4,096 (Go cannot
// raise its soft limit above that), where serveUnderLowFdLimit does the work.
func TestServesUnderLowFdLimit(t *testing.T) {
	cmd := exec.Command("sh", "-c", `ulimit -n 4096 && exec "$0"`, os.Args[0])
	cmd.Env = append(os.Environ(), lowLimitEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("served under the low limit")) {
		t.Fatalf("under ulimit -n 4096: %v\n%s", err, out)
	}
}

// serveUnderLowFdLimit starts uringnet.Run and listener.Listen, in a process under a limit of
// 4,096 descriptors, and serves 100 echoing connections with each.
func serveUnderLowFdLimit() error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur != 4096 {
		return fmt.Errorf("descriptor limit %d (%v), want 4096", rl.Cur, err)
	}
	if backend, why := uringnet.Backend(); backend != "io_uring" {
		return fmt.Errorf("backend %s: %v", backend, why)
	}
	h := &echo{booted: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- uringnet.Run(h, "tcp://127.0.0.1:0", gnet.WithLogLevel(logging.ErrorLevel)) }()
	select {
	case <-h.booted:
	case err := <-done:
		return fmt.Errorf("uringnet.Run: %w", err)
	}
	e, ok := uringnet.EngineOf(h)
	if !ok {
		return fmt.Errorf("uringnet.Run: not the io_uring engine")
	}
	lfd, err := e.Dup()
	if err != nil {
		return err
	}
	sa, err := unix.Getsockname(lfd)
	unix.Close(lfd)
	if err != nil {
		return err
	}
	runAddr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	if err := echoMany(runAddr, 100); err != nil {
		return fmt.Errorf("uringnet.Run: %w", err)
	}
	e.Stop(context.Background())
	if err := <-done; err != nil {
		return fmt.Errorf("uringnet.Run: %w", err)
	}

	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listener.Listen: %w", err)
	}
	defer ln.Close()
	if _, plain := ln.(*net.TCPListener); plain {
		return fmt.Errorf("listener.Listen fell back to the net package")
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	if err := echoMany(ln.Addr().String(), 100); err != nil {
		return fmt.Errorf("listener.Listen: %w", err)
	}
	return nil
}

// echoMany opens n connections to addr, all at once, each echoing its token.
func echoMany(addr string, n int) error {
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := echoToken(c, uint64(i)); err != nil {
			return err
		}
	}
	return nil
}
