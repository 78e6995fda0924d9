package ringset

// What a peer does to a connection: half-closes, resets, silence until shutdown.

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// A peer that half-closes gets every byte it sent echoed before the connection closes, and the
// close reports io.EOF.
func TestPeerHalfClose(t *testing.T) {
	closeErrs := make(chan error, 1)
	s := startSet(t, Config{}, &hooks{close: func(_ *conn.Conn, err error) { closeErrs <- err }})
	client := dial(t, s).(*net.TCPConn)
	if _, err := client.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	client.CloseWrite()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the echo then EOF", got, err)
	}
	if err := <-closeErrs; err != io.EOF {
		t.Fatalf("OnClose: %v, want io.EOF", err)
	}
}

// A peer that resets while the server streams to it: the close reports the socket error as a
// *net.OpError, and the loop goes on serving others.
func TestPeerResetMidStream(t *testing.T) {
	closeErrs := make(chan error, 1)
	big := bytes.Repeat([]byte("x"), 1<<20)
	h := &hooks{
		traffic: func(c *conn.Conn) Action {
			if b, _ := c.Peek(-1); string(b) != "stream" {
				b, _ = c.Next(-1)
				c.Write(b) // echo
				return None
			}
			c.Discard(-1)
			for i := 0; i < 8; i++ {
				c.Write(big)
			}
			return None
		},
		close: func(_ *conn.Conn, err error) {
			select {
			case closeErrs <- err:
			default:
			}
		},
	}
	s := startSet(t, Config{}, h)
	client := dial(t, s).(*net.TCPConn)
	client.Write([]byte("stream"))
	io.ReadFull(client, make([]byte, 1000)) // the stream has started
	client.SetLinger(0)
	client.Close() // RST
	err := <-closeErrs
	var opErr *net.OpError
	var sysErr *os.SyscallError
	if !errors.As(err, &opErr) || !errors.As(err, &sysErr) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("OnClose after a reset: %v, want a *net.OpError around an *os.SyscallError with ECONNRESET or EPIPE", err)
	}
	if err := echoRoundTrip(dial(t, s), 4096, 1); err != nil {
		t.Fatalf("serving another connection after the reset: %v", err)
	}
}

// A peer that connects and sends nothing is opened, kept, and closed (with nil) at shutdown.
func TestSilentPeerClosedAtShutdown(t *testing.T) {
	h := &hooks{}
	closeErrs := make(chan error, 1)
	h.close = func(_ *conn.Conn, err error) { closeErrs <- err }
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0"}, h)
	if err != nil {
		t.Fatal(err)
	}
	client := dial(t, s)
	waitUntil(t, 10*time.Second, func() bool { return h.opened.Load() != 0 })
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-closeErrs; err != nil {
		t.Fatalf("OnClose at shutdown: %v, want nil", err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after shutdown: %v, want EOF", err)
	}
	if h.shut.Load() != 1 || h.boot.Load() != 1 {
		t.Fatalf("OnBoot ran %d times, OnShutdown %d; want once each", h.boot.Load(), h.shut.Load())
	}
}
