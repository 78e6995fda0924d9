//go:build soak

package uringnet_test

// The soak (make soak, not make test): uringnet.Run with four loops and the rebalancer on, for
// a minute (URINGNET_SOAK_DURATION to change it), under everything at once: connections opening
// and closing, peers resetting in the middle of a write, half-closing, reading slowly or not at
// all for a while, connections moved live, replies written by AsyncWrite from another
// goroutine. Every byte is checked; at the end the connections, descriptors, goroutines and
// fixed-table slots are back where they started, and no loop thread uses more than 5% of a CPU
// once idle.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/uringnet/uringnet"
	"github.com/uringnet/uringnet/internal/leakcheck"
)

// soakServer echoes: with Write on the loop, or, for connections whose first byte is 'A', with
// AsyncWrite from a worker goroutine (one, so each connection's replies keep their order).
type soakServer struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
	conns  sync.Map // gnet.Conn → struct{}: the open connections, for the mover
	async  chan func()
}

func (s *soakServer) OnBoot(gnet.Engine) gnet.Action { close(s.booted); return gnet.None }
func (s *soakServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s.conns.Store(c, struct{}{})
	return nil, gnet.None
}
func (s *soakServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	s.conns.Delete(c)
	return gnet.None
}
func (s *soakServer) OnTraffic(c gnet.Conn) gnet.Action {
	if c.Context() == nil {
		first, err := c.Peek(1)
		if err != nil {
			return gnet.None
		}
		c.SetContext(first[0] == 'A')
	}
	b, _ := c.Next(-1)
	if c.Context().(bool) {
		reply := bytes.Clone(b)
		s.async <- func() { c.AsyncWrite(reply, nil) }
		return gnet.None
	}
	c.Write(b)
	return gnet.None
}

// soakStats counts what the clients checked.
type soakStats struct {
	verified, conns atomic.Int64
	mu              sync.Mutex
	errs            []error
}

func (st *soakStats) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.errs) < 20 {
		st.errs = append(st.errs, err)
	}
}

// payload is n bytes of rnd, starting with first.
func payload(rnd *rand.Rand, first byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	b[0] = first
	return b
}

// echoChecked writes msg from a goroutine of its own while reading the echo, pausing between
// reads for readPause (a slow reader), and checks every byte.
func echoChecked(c net.Conn, msg []byte, readPause time.Duration) error {
	c.SetDeadline(time.Now().Add(60 * time.Second))
	werr := make(chan error, 1)
	go func() { _, err := c.Write(msg); werr <- err }()
	got := make([]byte, 0, len(msg))
	buf := make([]byte, 4096)
	for len(got) < len(msg) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return fmt.Errorf("read after %d of %d bytes: %w", len(got), len(msg), err)
		}
		if readPause > 0 {
			time.Sleep(readPause)
		}
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("the echo differs from what was sent")
	}
	return nil
}

// soakClient runs one kind of client until stop closes.
type soakClient func(addr string, rnd *rand.Rand, st *soakStats) error

var soakClients = map[string]soakClient{
	// Open, echo up to 64 KiB (sync or async on the server), close.
	"churn": func(addr string, rnd *rand.Rand, st *soakStats) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		first := byte('S')
		if rnd.IntN(2) == 0 {
			first = 'A'
		}
		msg := payload(rnd, first, 1+rnd.IntN(64<<10))
		if err := echoChecked(c, msg, 0); err != nil {
			return err
		}
		st.verified.Add(int64(len(msg)))
		return nil
	},
	// Write 256 KiB without reading, then reset the connection in the middle of the echo.
	"reset": func(addr string, rnd *rand.Rand, _ *soakStats) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Write(payload(rnd, 'S', 256<<10))
		c.(*net.TCPConn).SetLinger(0)
		return c.Close()
	},
	// Send up to 16 KiB, close the sending side, read the whole echo, then EOF.
	"half-close": func(addr string, rnd *rand.Rand, st *soakStats) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := payload(rnd, 'S', 1+rnd.IntN(16<<10))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil {
			return fmt.Errorf("half-closed: %w", err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("half-closed: %d bytes back for %d sent", len(got), len(msg))
		}
		st.verified.Add(int64(len(msg)))
		return nil
	},
	// Echo 512 KiB, reading 4 KiB a millisecond.
	"slow": func(addr string, rnd *rand.Rand, st *soakStats) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		msg := payload(rnd, 'S', 512<<10)
		if err := echoChecked(c, msg, time.Millisecond); err != nil {
			return fmt.Errorf("slow reader: %w", err)
		}
		st.verified.Add(int64(len(msg)))
		return nil
	},
	// Send 128 KiB and read nothing for two seconds, then all of it; or say nothing at all.
	"silent": func(addr string, rnd *rand.Rand, st *soakStats) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if rnd.IntN(2) == 0 {
			time.Sleep(2 * time.Second)
			return nil
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := payload(rnd, 'A', 128<<10)
		if _, err := c.Write(msg); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			return fmt.Errorf("silent reader: %v", err)
		}
		st.verified.Add(int64(len(msg)))
		return nil
	},
}

// ioUringSlots counts the occupied slots of the process's io_uring fixed-file tables
// (/proc/self/fdinfo lists them; a ring shows under each of its descriptors).
func ioUringSlots(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil || !bytes.Contains(b, []byte("SqMask")) {
			continue
		}
		s := string(b)
		i := strings.Index(s, "UserFiles:")
		j := strings.Index(s, "UserBufs:")
		if i < 0 || j < i {
			continue
		}
		for _, line := range strings.Split(s[i:j], "\n")[1:] {
			if strings.Contains(line, ":") {
				n++
			}
		}
	}
	return n
}

// threadCPU is each thread's CPU time so far (user and system), by thread id.
func threadCPU(t *testing.T) map[string]time.Duration {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	cpu := map[string]time.Duration{}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		var total time.Duration
		for _, v := range f[11:13] {
			ticks, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(ticks) * 10 * time.Millisecond
		}
		cpu[e.Name()] = total
	}
	return cpu
}

func TestSoak(t *testing.T) {
	duration := time.Minute
	if v := os.Getenv("URINGNET_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &soakServer{booted: make(chan struct{}), async: make(chan func(), 1024)}
	go func() {
		for f := range h.async {
			f()
		}
	}()
	defer close(h.async)
	done := make(chan error, 1)
	go func() {
		done <- uringnet.Run(h, "tcp://"+addr, gnet.WithNumEventLoop(4), gnet.WithLogLevel(logging.ErrorLevel),
			uringnet.WithRebalance(uringnet.Rebalance{}))
	}()
	<-h.booted
	eng, ok := uringnet.EngineOf(h)
	if !ok {
		t.Fatal("not served by the io_uring engine")
	}
	time.Sleep(100 * time.Millisecond)
	g0, fd0, slots0 := runtime.NumGoroutine(), leakcheck.OpenFds(t), ioUringSlots(t)

	st := &soakStats{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	workers := map[string]int{"churn": 16, "reset": 2, "half-close": 4, "slow": 2, "silent": 4}
	for kind, n := range workers {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(i), uint64(len(kind))))
				for {
					select {
					case <-stop:
						return
					default:
					}
					st.conns.Add(1)
					if err := soakClients[kind](addr, rnd, st); err != nil {
						st.fail(fmt.Errorf("%s: %w", kind, err))
					}
				}
			}()
		}
	}
	moves := atomic.Int64{}
	wg.Add(1)
	go func() { // moves connections, live, between the loops, besides the rebalancer's
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			h.conns.Range(func(k, _ any) bool {
				if rnd.IntN(8) == 0 && uringnet.Move(k.(gnet.Conn), rnd.IntN(4), nil) == nil {
					moves.Add(1)
				}
				return true
			})
		}
	}()
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	for _, err := range st.errs {
		t.Error(err)
	}
	t.Logf("%v: %d connections, %d bytes echoed and verified, %d moves asked", duration, st.conns.Load(), st.verified.Load(), moves.Load())
	if st.verified.Load() == 0 {
		t.Fatal("nothing was echoed")
	}

	for deadline := time.Now().Add(20 * time.Second); eng.CountConnections() != 0 || ioUringSlots(t) != slots0; {
		if time.Now().After(deadline) {
			t.Fatalf("at the end: %d connections open, %d table slots in use (%d at the start)", eng.CountConnections(), ioUringSlots(t), slots0)
		}
		time.Sleep(10 * time.Millisecond)
	}
	leakcheck.Settle(t, g0, fd0)

	before := threadCPU(t)
	time.Sleep(2 * time.Second)
	after := threadCPU(t)
	for tid, used := range after {
		if share := float64(used-before[tid]) / float64(2*time.Second); share > 0.05 {
			t.Errorf("thread %s used %.0f%% of a CPU while the engine was idle", tid, share*100)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
