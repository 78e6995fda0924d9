package loadgen

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/uringnet/uringnet/benchmarks/server"
)

// echoServer serves the benchmark's echo handler, goroutine per connection, on loopback;
// corruptAt > 0 makes it flip byte corruptAt-1 of every read that long.
func echoServer(t *testing.T, corruptAt int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go server.Serve(ln, func(in, scratch []byte) (int, []byte) {
		if corruptAt > 0 && len(in) >= corruptAt {
			in[corruptAt-1] ^= 0x55
		}
		return server.Echo(in, scratch)
	})
	return ln.Addr().String()
}

var clients = []string{"uring", "net"}

func TestEchoIsMeasured(t *testing.T) {
	for _, client := range clients {
		for _, depth := range []int{1, 16} {
			t.Run(fmt.Sprintf("%s/depth=%d", client, depth), func(t *testing.T) {
				addr := echoServer(t, 0)
				var marks []string
				r, err := Run(Config{Client: client, Addr: addr, Conns: 8, Size: 512, Depth: depth},
					50*time.Millisecond, 200*time.Millisecond, func(e string) { marks = append(marks, e) })
				if err != nil {
					t.Fatal(err)
				}
				if r.Messages < int64(depth) || r.Messages%int64(depth) != 0 && client == "net" {
					t.Fatalf("%d messages at depth %d", r.Messages, depth)
				}
				if r.Seconds < 0.15 || r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P99 {
					t.Fatalf("window %.3fs, latency %+v", r.Seconds, r.Latency)
				}
				if strings.Join(marks, ",") != "start,end" {
					t.Fatalf("marks %v", marks)
				}
			})
		}
	}
}

// A server that changes bytes of the stream must fail the run, whichever client drives it and
// wherever the byte is (a message's header, or the middle of the sixth message of a batch).
func TestCorruptedEchoFails(t *testing.T) {
	for _, client := range clients {
		for _, at := range []int{1, 64*5 + 17} {
			t.Run(fmt.Sprintf("%s/byte=%d", client, at), func(t *testing.T) {
				addr := echoServer(t, at)
				_, err := Run(Config{Client: client, Addr: addr, Conns: 4, Size: 64, Depth: 16},
					10*time.Millisecond, 100*time.Millisecond, nil)
				if err == nil || !strings.Contains(err.Error(), "differs from what was expected") {
					t.Fatalf("corrupted byte %d: %v", at, err)
				}
			})
		}
	}
}

// Messages larger than a receive buffer (64 KiB arrives in many pieces) are measured and
// checked whole by either client, which catch a byte corrupted in any piece of one.
func TestLargeEchoIsChecked(t *testing.T) {
	const size = 64 << 10
	for _, client := range clients {
		t.Run(client, func(t *testing.T) {
			r, err := Run(Config{Client: client, Addr: echoServer(t, 0), Conns: 8, Size: size, Depth: 1},
				20*time.Millisecond, 150*time.Millisecond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Messages == 0 {
				t.Fatal("no 64 KiB echo completed")
			}
			_, err = Run(Config{Client: client, Addr: echoServer(t, 3000), Conns: 2, Size: size, Depth: 1},
				10*time.Millisecond, 100*time.Millisecond, nil)
			if err == nil || !strings.Contains(err.Error(), "differs from what was expected") {
				t.Fatalf("corrupted bytes of a 64 KiB echo: %v", err)
			}
		})
	}
}

// Short-lived connections: each one round trip, counted once, every echo checked, with either
// client; a refused connect fails the run.
func TestConnectIsMeasured(t *testing.T) {
	for _, client := range clients {
		t.Run(client, func(t *testing.T) {
			r, err := Run(Config{Client: client, Addr: echoServer(t, 0), Conns: 4, Size: 64, Depth: 1, Connect: true},
				20*time.Millisecond, 150*time.Millisecond, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Messages == 0 || r.Latency.P50 <= 0 {
				t.Fatalf("%d connections, latency %+v", r.Messages, r.Latency)
			}
			_, err = Run(Config{Client: client, Addr: echoServer(t, 40), Conns: 2, Size: 64, Depth: 1, Connect: true},
				10*time.Millisecond, 50*time.Millisecond, nil)
			if err == nil || !strings.Contains(err.Error(), "differs from what was expected") {
				t.Fatalf("a corrupted echo of a short-lived connection: %v", err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			refused := ln.Addr().String()
			ln.Close()
			_, err = Run(Config{Client: client, Addr: refused, Conns: 1, Size: 64, Depth: 1, Connect: true},
				10*time.Millisecond, 50*time.Millisecond, nil)
			if err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("short-lived connections to a closed port: %v", err)
			}
		})
	}
	for _, cfg := range []Config{
		{Client: "uring", Addr: "127.0.0.1:1", Conns: 1, Size: 64, Depth: 1, Rate: 100, Connect: true},
		{Client: "net", Addr: "127.0.0.1:1", Conns: 1, Size: 64, Depth: 4, Connect: true},
	} {
		if _, err := Run(cfg, 0, 0, nil); err == nil {
			t.Fatalf("%+v was accepted", cfg)
		}
	}
}

func TestIdleHoldsConnections(t *testing.T) {
	closeAll, err := Idle(echoServer(t, 0), 50)
	if err != nil {
		t.Fatal(err)
	}
	closeAll()
}

func TestRunRejectsBadConfig(t *testing.T) {
	if _, err := Run(Config{Client: "net", Addr: "127.0.0.1:1", Conns: 1, Size: 0, Depth: 1}, 0, 0, nil); err == nil {
		t.Fatal("a zero message size was accepted")
	}
	if _, err := Run(Config{Client: "carrier-pigeon", Addr: "127.0.0.1:1", Conns: 1, Size: 1, Depth: 1}, 0, 0, nil); err == nil {
		t.Fatal("an unknown client was accepted")
	}
}

// httpServer serves the benchmark's HTTP handler, goroutine per connection, on loopback; a
// non-empty corrupt replaces the response body's first bytes with it.
func httpServer(t *testing.T, corrupt string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answer := server.HTTP()
	go server.Serve(ln, func(in, scratch []byte) (int, []byte) {
		n, out := answer(in, scratch)
		if corrupt != "" && len(out) > 0 {
			copy(out[len(out)-len("Hello, World!"):], corrupt)
		}
		return n, out
	})
	return ln.Addr().String()
}

// The net client speaks HTTP: pipelined requests, every response checked, one message per
// response; a wrong body fails the run.
func TestHTTPIsMeasured(t *testing.T) {
	for _, depth := range []int{1, 16} {
		r, err := Run(Config{Client: "net", Protocol: HTTP, Addr: httpServer(t, ""), Conns: 4, Size: 1, Depth: depth},
			20*time.Millisecond, 100*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Messages < int64(depth) || r.Messages%int64(depth) != 0 || r.Latency.P50 <= 0 {
			t.Fatalf("depth %d: %d messages, latency %+v", depth, r.Messages, r.Latency)
		}
	}
	_, err := Run(Config{Client: "net", Protocol: HTTP, Addr: httpServer(t, "Goodbye"), Conns: 2, Size: 1, Depth: 4},
		10*time.Millisecond, 50*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "body") {
		t.Fatalf("a wrong body: %v", err)
	}
}

// At a fixed rate the client offers that load and no more: over a window it completes at most
// what fell due in it (plus one batch per connection sent at the window's start).
func TestRateBoundsTheOfferedLoad(t *testing.T) {
	const rate, conns, depth = 2000.0, 8, 2
	window := 300 * time.Millisecond
	r, err := Run(Config{Client: "net", Addr: echoServer(t, 0), Conns: conns, Size: 64, Depth: depth, Rate: rate},
		50*time.Millisecond, window, nil)
	if err != nil {
		t.Fatal(err)
	}
	due := rate * r.Seconds
	if float64(r.Messages) > due+conns*depth {
		t.Fatalf("%d messages in %.3fs at %v/s: more than offered (%.0f)", r.Messages, r.Seconds, rate, due)
	}
	if r.Messages == 0 {
		t.Fatal("nothing completed")
	}
}

// The uring client runs the closed echo loop only, and says so rather than measure something
// else.
func TestUringClientRefusesHTTPAndRates(t *testing.T) {
	for _, cfg := range []Config{
		{Client: "uring", Protocol: HTTP, Addr: "127.0.0.1:1", Conns: 1, Size: 1, Depth: 1},
		{Client: "uring", Addr: "127.0.0.1:1", Conns: 1, Size: 1, Depth: 1, Rate: 100},
	} {
		if _, err := Run(cfg, 0, 0, nil); err == nil || !strings.Contains(err.Error(), "need the net client") {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}
