package listener

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/leakcheck"
)

// TestSendsItselfThenThroughTheLoop: a writer that sends by itself until the socket buffer is
// full, then through the loop, then by itself again once the loop has sent everything, keeps
// the order of its bytes. The peer starts reading late, so every path is taken.
func TestSendsItselfThenThroughTheLoop(t *testing.T) {
	c, peer := connPair(t)
	const total, size = 16 << 20, 1000 // sizes that do not divide buffer boundaries evenly
	want := make([]byte, total)
	for i := range want {
		want[i] = byte(i * 7 / 13)
	}
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += size {
			if _, err := c.Write(want[off:min(off+size, total)]); err != nil {
				errc <- err
				return
			}
			if off == 8<<20 {
				time.Sleep(50 * time.Millisecond) // lets the loop drain: direct sends again
			}
		}
		errc <- nil
	}()
	time.Sleep(100 * time.Millisecond)
	receiveExactly(t, peer, want, errc)
}

// TestCloseDuringWrites: Close racing writers that send by themselves closes the descriptor
// once, after the last send, and never underneath one: every writer ends with net.ErrClosed
// (or a send error), and no descriptor or goroutine is left behind.
func TestCloseDuringWrites(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cycle := func() {
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		go io.Copy(io.Discard, peer)
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := bytes.Repeat([]byte{'x'}, 100)
				for {
					if _, err := c.Write(msg); err != nil {
						if !errors.Is(err, net.ErrClosed) && !isOpError(err) {
							t.Errorf("write: %v", err)
						}
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		c.Close()
		wg.Wait()
	}
	cycle() // the shared loops start here
	runtime.GC()
	leakcheck.Settle(t, runtime.NumGoroutine(), leakcheck.OpenFds(t)+1)
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	for i := 0; i < 200; i++ {
		cycle()
	}
	leakcheck.Settle(t, goroutines, fds)
}
