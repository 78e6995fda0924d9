package ringset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// hooks is a handler whose callbacks tests fill in; the unset ones echo or do nothing.
type hooks struct {
	echo
	open    func(c *conn.Conn) ([]byte, Action)
	traffic func(c *conn.Conn) Action
	close   func(c *conn.Conn, err error)
}

func (h *hooks) OnOpen(c *conn.Conn) ([]byte, Action) {
	h.opened.Add(1)
	if h.open != nil {
		return h.open(c)
	}
	return nil, None
}

func (h *hooks) OnTraffic(c *conn.Conn) Action {
	if h.traffic != nil {
		return h.traffic(c)
	}
	return h.echo.OnTraffic(c)
}

func (h *hooks) OnClose(c *conn.Conn, err error) Action {
	h.closed.Add(1)
	if h.close != nil {
		h.close(c, err)
	}
	return None
}

func dial(t testing.TB, s *Set) net.Conn {
	t.Helper()
	c, err := net.Dial(s.Addr().Network(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A thousand concurrent connections each send 1 MiB in random-sized writes and get every byte
// back in order. Under the race detector (slower by an order of magnitude) each sends 128 KiB;
// `make test` also runs this test without it, at full size.
func TestThousandConnectionsOneMiBEach(t *testing.T) {
	s := startSet(t, Config{Loops: 4}, &echo{})
	const conns = 1000
	size := 1 << 20
	if raceEnabled {
		size = 128 << 10
	}
	failed, first := eachClient(s, conns, conns, func(i int, c net.Conn) error {
		defer c.Close()
		return echoRoundTrip(c, size, uint64(i))
	})
	if failed > 0 {
		t.Fatalf("%d of %d connections failed; first: %v", failed, conns, first)
	}
}

// 64 goroutines AsyncWrite into one connection: each call's bytes stay contiguous.
func TestAsyncWriteFromManyGoroutinesStaysContiguous(t *testing.T) {
	conns := make(chan *conn.Conn, 1)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None }}
	s := startSet(t, Config{}, h)
	client := dial(t, s)
	c := <-conns

	const writers, perWriter, block = 64, 50, 512
	var wg sync.WaitGroup
	var cbErrs atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				b := make([]byte, block)
				binary.LittleEndian.PutUint32(b, uint32(w))
				binary.LittleEndian.PutUint32(b[4:], uint32(i))
				copy(b[8:], bytes.Repeat([]byte{byte(w)}, block-8))
				if err := c.AsyncWrite(b, func(_ *conn.Conn, err error) {
					if err != nil {
						cbErrs.Add(1)
					}
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	next := make([]uint32, writers)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, block)
	for n := 0; n < writers*perWriter; n++ {
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatalf("after %d blocks: %v", n, err)
		}
		w, i := binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint32(buf[4:])
		if w >= writers || !bytes.Equal(buf[8:], bytes.Repeat([]byte{byte(w)}, block-8)) {
			t.Fatalf("block %d is not one writer's contiguous bytes", n)
		}
		if i != next[w] {
			t.Fatalf("writer %d: block %d arrived where %d was due", w, i, next[w])
		}
		next[w]++
	}
	if cbErrs.Load() != 0 {
		t.Fatalf("%d AsyncWrite callbacks reported errors", cbErrs.Load())
	}
}

func TestWakeAndCloseFromOtherGoroutines(t *testing.T) {
	conns := make(chan *conn.Conn, 1)
	closeErrs := make(chan error, 1)
	h := &hooks{
		open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None },
		traffic: func(c *conn.Conn) Action {
			if c.InboundBuffered() == 0 {
				c.Write([]byte("woken\n")) // called by Wake, with nothing received
			}
			return None
		},
		close: func(_ *conn.Conn, err error) { closeErrs <- err },
	}
	s := startSet(t, Config{}, h)
	client := dial(t, s)
	c := <-conns
	woke := make(chan error, 1)
	go func() { wakeAsync(c, func(_ *conn.Conn, err error) { woke <- err }) }()
	if err := <-woke; err != nil {
		t.Fatalf("wake callback: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := make([]byte, 6)
	if _, err := io.ReadFull(client, line); err != nil || string(line) != "woken\n" {
		t.Fatalf("after Wake the client read %q, %v", line, err)
	}
	go closeAsync(c, nil)
	if n, err := client.Read(line); n != 0 || err != io.EOF {
		t.Fatalf("after closeAsync: %d, %v; want EOF", n, err)
	}
	if err := <-closeErrs; err != nil {
		t.Fatalf("OnClose after a local close: %v, want nil", err)
	}
	// Once closed, asynchronous calls report net.ErrClosed.
	done := make(chan error, 2)
	c.AsyncWrite([]byte("late"), func(_ *conn.Conn, err error) { done <- err })
	wakeAsync(c, func(_ *conn.Conn, err error) { done <- err })
	for i := 0; i < 2; i++ {
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("async call on a closed connection: %v, want net.ErrClosed", err)
		}
	}
}

// A panic in a handler closes that connection, with the panic as its error; the loop serves on.
func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	closeErrs := make(chan error, 4)
	h := &hooks{
		traffic: func(c *conn.Conn) Action {
			if b, _ := c.Peek(-1); string(b) == "panic" {
				panic("handler bug")
			}
			b, _ := c.Next(-1)
			c.Write(b)
			return None
		},
		close: func(_ *conn.Conn, err error) { closeErrs <- err },
	}
	s := startSet(t, Config{}, h)
	bad := dial(t, s)
	bad.Write([]byte("panic"))
	if err := <-closeErrs; err == nil || !strings.Contains(err.Error(), "handler bug") {
		t.Fatalf("OnClose after a panic: %v, want the panic", err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the panicking connection: %v, want EOF", err)
	}
	if err := echoRoundTrip(dial(t, s), 1000, 2); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}
