package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Every engine serves both programs correctly: echo returns every byte of a stream written in
// odd-sized pieces, and HTTP answers pipelined requests split mid-request, in order.
func TestEveryEngineServesEveryProgram(t *testing.T) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			t.Run("echo", func(t *testing.T) {
				c := dial(t, engine, "echo")
				msg := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB: more than a read
				go writeInPieces(c, msg, 1000)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo: %v (equal %v)", err, bytes.Equal(got, msg))
				}
			})
			t.Run("http", func(t *testing.T) {
				c := dial(t, engine, "http")
				go writeInPieces(c, bytes.Repeat([]byte(Request), 5), 7)
				if err := ReadResponses(bufio.NewReader(c), 5); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// The net/http program answers pipelined requests on the goroutine engines, and the gnet-API
// engines refuse it rather than serve something else under its name.
func TestNetHTTPProgram(t *testing.T) {
	for _, engine := range []string{"listener", "net"} {
		t.Run(engine, func(t *testing.T) {
			c := dial(t, engine, NetHTTP)
			go writeInPieces(c, bytes.Repeat([]byte(Request), 5), 7)
			if err := ReadResponses(bufio.NewReader(c), 5); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, engine := range []string{"uringnet", "gnet"} {
		if _, _, err := Start(engine, NetHTTP, 2); err == nil || !strings.Contains(err.Error(), "net.Listener program") {
			t.Fatalf("%s started %s: %v", engine, NetHTTP, err)
		}
	}
}

// With gnet.WithReusePort(true) (a listener per loop) uringnet and gnet echo on every
// connection, whichever loop's listener takes it; the goroutine engines, which have no such
// option, refuse it.
func TestReusePort(t *testing.T) {
	for _, engine := range []string{"uringnet", "gnet"} {
		t.Run(engine, func(t *testing.T) {
			addr, stop, err := Start(engine, "echo", 2, gnet.WithReusePort(true))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			for i := 0; i < 8; i++ {
				if err := roundTrip(addr, []byte("short-lived")); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
			}
		})
	}
	if _, _, err := Start("net", "echo", 2, gnet.WithReusePort(true)); err == nil || !strings.Contains(err.Error(), "no gnet options") {
		t.Fatalf("net took a gnet option: %v", err)
	}
}

// roundTrip connects to addr, has msg echoed and closes.
func roundTrip(addr string, msg []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echoed %q for %q", got, msg)
	}
	return nil
}

func dial(t *testing.T, engine, program string) net.Conn {
	t.Helper()
	addr, stop, err := Start(engine, program, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() {
		c.Close()
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func writeInPieces(c net.Conn, b []byte, piece int) {
	for len(b) > 0 {
		n := min(piece, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}

func TestHTTPKeepsPartialRequests(t *testing.T) {
	h := HTTP()
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	in := []byte(req + req + req[:10])
	n, reply := h(in, nil)
	if n != 2*len(req) || strings.Count(string(reply), "HTTP/1.1 200 OK\r\n") != 2 {
		t.Fatalf("consumed %d, replies %q", n, reply)
	}
	if n, reply := h(in[n:], reply[:0]); n != 0 || len(reply) != 0 {
		t.Fatalf("a partial request consumed %d and was answered %q", n, reply)
	}
	if n, _ := h(bytes.Repeat([]byte("x"), maxRequest+1), nil); n >= 0 {
		t.Fatal("64 KiB without a request did not close the connection")
	}
}

func TestUnknownEngineAndProgram(t *testing.T) {
	if _, _, err := Start("carrier-pigeon", "echo", 1); err == nil {
		t.Fatal("an unknown engine started")
	}
	if _, _, err := Start("net", "gopher", 1); err == nil {
		t.Fatal("an unknown program started")
	}
}

// An engine named again with a suffix (a copy, for a run that measures an engine against
// itself) serves as its engine does: uringnet.2 echoes as uringnet, and net.2 serves net/http.
func TestACopyServesAsItsEngine(t *testing.T) {
	c := dial(t, "uringnet.2", "echo")
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	echoed := make([]byte, 4)
	if _, err := io.ReadFull(c, echoed); err != nil || string(echoed) != "ping" {
		t.Fatalf("uringnet.2 echoed %q (%v), want ping", echoed, err)
	}
	h := dial(t, "net.2", NetHTTP)
	if _, err := h.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 12)
	if _, err := io.ReadFull(h, reply); err != nil || string(reply) != "HTTP/1.1 200" {
		t.Fatalf("net.2 answered %q (%v), want HTTP/1.1 200", reply, err)
	}
}
