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

// A stream echoed through a connection whose reads and writes switch between the poller and
// the ring at every call, with the peer writing in odd pieces and reading late, arrives whole
// and in order: a reader leaves the ring only once it has every byte the loop received, a writer
// only once the loop has sent every byte it was given.
func TestSwitchingPathsKeepsEveryByte(t *testing.T) {
	forcePath(t, pathsAlternate)
	c, peer := connPair(t)
	go func() { // echo, in reads and writes of whatever size comes
		buf := make([]byte, 7000)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				c.CloseWrite()
				return
			}
		}
	}()
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 31 / 17)
	}
	errc := make(chan error, 1)
	go func() {
		for off, i := 0, 0; off < len(want); i++ {
			end := min(off+[]int{1, 999, 4096, 65_537, 13}[i%5], len(want))
			if _, err := peer.Write(want[off:end]); err != nil {
				errc <- err
				return
			}
			off = end
		}
		errc <- peer.(*net.TCPConn).CloseWrite()
	}()
	time.Sleep(20 * time.Millisecond) // the buffers fill before the peer reads
	receiveExactly(t, peer, want, errc)
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the echo: %d bytes, %v; want io.EOF", n, err)
	}
}

// TestCloseDuringWrites: Close racing writers, on every path, ends every writer with
// net.ErrClosed (or a send error), and leaves no descriptor or goroutine behind.
func TestCloseDuringWrites(t *testing.T) {
	forEachPath(t, testCloseDuringWrites)
}

func testCloseDuringWrites(t *testing.T) {
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
