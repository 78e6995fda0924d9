package listener

import (
	"bytes"
	"io"
	"log"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/leakcheck"
	"github.com/uringnet/uringnet/internal/loopback"
	"github.com/uringnet/uringnet/ringset"
)

// TestTenThousandOpenCloseCycles: connections opened and closed 10,000 times (dialed by us and
// by net, accepted by us) leave the process's descriptors and goroutines where they were.
func TestTenThousandOpenCloseCycles(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	cycle := func(i int) error {
		dial := net.Dial
		if i%2 == 0 {
			dial = Dial
		}
		c, err := dial("tcp", addr)
		if err != nil {
			return err
		}
		a, err := ln.Accept()
		if err != nil {
			c.Close()
			return err
		}
		c.Write([]byte{byte(i)})
		b := make([]byte, 1)
		_, err = io.ReadFull(a, b)
		a.Close()
		c.Close()
		return err
	}
	for i := 0; i < 10; i++ { // the shared loops and the runtime's own goroutines start here
		if err := cycle(i); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	leakcheck.Settle(t, runtime.NumGoroutine(), leakcheck.OpenFds(t)+1) // the warm-up's closes may still be finishing
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	var mu sync.Mutex // Accept pairs with the dial of the same cycle
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 10000; i += 4 {
				mu.Lock()
				err := cycle(i)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	leakcheck.Settle(t, goroutines, fds)
}

// TestSlowReaderIsBounded: a reader that does not read stops the kernel from being read; the
// process does not buffer what a fast peer sends, and nothing is lost once it reads.
func TestSlowReaderIsBounded(t *testing.T) {
	const conns, perConn = 16, 32 << 20
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, perConn) // shared by the peers, allocated before measuring
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var ours []net.Conn
	var sent sync.WaitGroup
	for i := 0; i < conns; i++ {
		peer, c := loopback.DialAccept(t, ln)
		ours = append(ours, c)
		sent.Add(1)
		go func() {
			defer sent.Done()
			peer.Write(payload) // blocks once the kernel and we hold our limits
			peer.(*net.TCPConn).CloseWrite()
		}()
	}
	time.Sleep(time.Second) // the peers send as fast as they can meanwhile
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	if limit := int64(conns) * (inboundLimit + largeChunk + 64<<10); grown > limit {
		t.Errorf("heap grew %d KiB with %d unread connections, want at most %d KiB", grown>>10, conns, limit>>10)
	}
	t.Logf("heap grew %d KiB with %d connections whose reader does not read (peers write %d MiB each)", grown>>10, conns, perConn>>20)
	var wg sync.WaitGroup
	for _, c := range ours {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := io.Copy(io.Discard, c)
			if err != nil || n != perConn {
				t.Errorf("read %d bytes, %v; want %d", n, err, perConn)
			}
		}()
	}
	wg.Wait()
	sent.Wait()
}

// TestFallback: with URINGNET_DISABLE=1, Listen and Dial return the standard library's types,
// and say so once.
func TestFallback(t *testing.T) {
	t.Setenv("URINGNET_DISABLE", "1")
	var logged bytes.Buffer
	prev := log.Writer()
	log.SetOutput(&logged)
	defer log.SetOutput(prev)
	fallback = ringset.Fallback{}
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, ok := ln.(*net.TCPListener); !ok {
		t.Fatalf("Listen returned %T, want *net.TCPListener", ln)
	}
	c, err := Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Fatalf("Dial returned %T, want *net.TCPConn", c)
	}
	ul, err := Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if _, ok := ul.(*net.UnixListener); !ok {
		t.Fatalf("Listen(unix) returned %T, want *net.UnixListener", ul)
	}
	if n := strings.Count(logged.String(), "using the net package"); n != 1 {
		t.Fatalf("the fallback was announced %d times, want once:\n%s", n, logged.String())
	}
}
