package ringset

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// UDP echo as gnet serves it: each datagram one OnTraffic, written back to its sender, over
// udp4 and udp6 with one loop and with several (each its own SO_REUSEPORT socket).
func TestUDPEcho(t *testing.T) {
	for _, tc := range []struct {
		network, addr string
		loops         int
	}{{"udp", "127.0.0.1:0", 1}, {"udp4", "127.0.0.1:0", 2}, {"udp6", "[::1]:0", 2}} {
		t.Run(fmt.Sprintf("%s-%d-loops", tc.network, tc.loops), func(t *testing.T) {
			if tc.network == "udp6" {
				if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
					t.Skipf("no IPv6 loopback on this machine: %v", err)
				} else {
					c.Close()
				}
			}
			h := &echo{}
			s := startSet(t, Config{Network: tc.network, Address: tc.addr, Loops: tc.loops}, h)
			const clients, each = 8, 100
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- udpRoundTrips(s.Addr().String(), i, each)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if h.opened.Load() != 0 || h.closed.Load() != 0 {
				t.Fatalf("OnOpen %d, OnClose %d times for UDP; gnet calls neither", h.opened.Load(), h.closed.Load())
			}
		})
	}
}

// udpRoundTrips sends n datagrams one at a time and checks each echo; a lost datagram (UDP
// may drop) is sent again, a wrong one fails.
func udpRoundTrips(addr string, id, n int) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for seq := 0; seq < n; seq++ {
		msg := []byte(fmt.Sprintf("client %d datagram %d %s", id, seq, bytes.Repeat([]byte("x"), seq*10)))
		for attempt := 0; ; attempt++ {
			if attempt == 5 {
				return fmt.Errorf("client %d: datagram %d never echoed", id, seq)
			}
			if _, err := c.Write(msg); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			k, err := c.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(buf[:k], msg) {
				return fmt.Errorf("client %d: echo %q, want %q", id, buf[:k], msg)
			}
			break
		}
	}
	return nil
}

// A datagram connection knows its sender, answers SendTo to another address, and refuses
// Writev as gnet does.
func TestUDPDatagramConn(t *testing.T) {
	other, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	type seen struct {
		from     string
		datagram bool
		writev   error
	}
	got := make(chan seen, 1)
	h := &hooks{traffic: func(c *conn.Conn) Action {
		_, werr := c.Writev([][]byte{[]byte("a")})
		got <- seen{c.RemoteAddr().String(), c.IsDatagram(), werr}
		c.SendTo([]byte("forwarded"), other.LocalAddr())
		return None
	}}
	s := startSet(t, Config{Network: "udp", Address: "127.0.0.1:0"}, h)
	client, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.Write([]byte("hello"))
	sn := <-got
	if sn.from != client.LocalAddr().String() || !sn.datagram || !errors.Is(sn.writev, conn.ErrNotStream) {
		t.Fatalf("saw %+v; want sender %v, a datagram conn, Writev refused", sn, client.LocalAddr())
	}
	other.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _, err := other.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "forwarded" {
		t.Fatalf("SendTo another address: %q, %v", buf[:n], err)
	}
}
