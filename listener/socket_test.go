package listener

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/internal/loopback"
)

// A TCP listener accepts its connections itself (accept.go, socket.go), not through net's
// Accept. What net gives an accepted connection, its options, its addresses and the shape of
// its errors, ours has too: each is described for a connection accepted by net.Listen's
// listener and by ours, and the descriptions must be the same.
func TestAcceptedConnIsNetsAccepted(t *testing.T) {
	for _, network := range []string{"tcp", "tcp4", "tcp6"} {
		for _, address := range []string{"", "localhost"} {
			t.Run(network+"/"+map[string]string{"": "wildcard", "localhost": "one address"}[address], func(t *testing.T) {
				if address == "localhost" {
					address = map[string]string{"tcp": "127.0.0.1", "tcp4": "127.0.0.1", "tcp6": "[::1]"}[network]
				}
				want := describeAccepted(t, net.Listen, network, address+":0")
				got := describeAccepted(t, Listen, network, address+":0")
				if got != want {
					t.Errorf("accepted by Listen:\n%s\nby net.Listen:\n%s", got, want)
				}
			})
		}
	}
}

// describeAccepted accepts a connection on a listener that listen makes and describes, without
// its port numbers, what net's contract fixes about it.
func describeAccepted(t *testing.T, listen func(network, address string) (net.Listener, error), network, address string) string {
	ln, err := listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialTo := ln.Addr().(*net.TCPAddr)
	if dialTo.IP.IsUnspecified() {
		dialTo = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: dialTo.Port}
		if network == "tcp6" {
			dialTo.IP = net.IPv6loopback
		}
	}
	peer, err := net.Dial("tcp", dialTo.String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "local %v, remote %v\n", c.LocalAddr().String() == peer.RemoteAddr().String(), c.RemoteAddr().String() == peer.LocalAddr().String())
	fmt.Fprintf(&b, "addresses %s %s\n", c.LocalAddr().Network(), c.RemoteAddr().Network())

	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name       string
		level, opt int
	}{
		{"nodelay", unix.IPPROTO_TCP, unix.TCP_NODELAY},
		{"keepalive", unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		{"keepidle", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{"keepintvl", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
		{"keepcnt", unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
	} {
		var v int
		var gerr error
		raw.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), o.level, o.opt) })
		fmt.Fprintf(&b, "%s %d %v\n", o.name, v, gerr)
	}

	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(make([]byte, 1))
	fmt.Fprintf(&b, "read past its deadline: %s\n", describeError(err))
	c.SetReadDeadline(time.Time{})

	peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // a reset
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(buf)
	fmt.Fprintf(&b, "read after the peer's reset: %s\n", describeError(err))
	_, err = c.Write(buf)
	fmt.Fprintf(&b, "write after the peer's reset: %s\n", describeError(err))

	c.Close()
	_, err = c.Read(buf)
	fmt.Fprintf(&b, "read after Close: %s\n", describeError(err))
	fmt.Fprintf(&b, "deadline after Close: %s\n", describeError(c.SetDeadline(time.Now())))
	fmt.Fprintf(&b, "option after Close: %s\n", describeError(c.(interface{ SetNoDelay(bool) error }).SetNoDelay(true)))
	fmt.Fprintf(&b, "CloseWrite after Close: %s\n", describeError(c.(interface{ CloseWrite() error }).CloseWrite()))
	return b.String()
}

// describeError is err's shape as net's callers see it: the operation, the network and which
// addresses it names, and what it wraps.
func describeError(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) {
		return fmt.Sprintf("%T %v", err, err)
	}
	s := fmt.Sprintf("OpError %s %s source %v addr %v timeout %v:", oe.Op, oe.Net, oe.Source != nil, oe.Addr != nil, oe.Timeout())
	var se *os.SyscallError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s SyscallError %s %v", s, se.Syscall, se.Err)
	case errors.Is(err, net.ErrClosed):
		return s + " net.ErrClosed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return s + " os.ErrDeadlineExceeded"
	}
	return fmt.Sprintf("%s %T %v", s, oe.Err, oe.Err)
}

// The address a wildcard listener's connection reports is the one the kernel chose for it,
// and a closed listener frees its port at once, though its connections live on.
func TestWildcardListenerAddressesAndClose(t *testing.T) {
	ln, err := Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	peer, c := loopback.DialAccept(t, &portListener{ln, port})
	if got := c.LocalAddr().String(); got != peer.RemoteAddr().String() {
		t.Errorf("local address %s, the peer dialed %s", got, peer.RemoteAddr())
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatalf("the port is still held after Close: %v", err)
	}
	again.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("the connection did not outlive its listener: %v", err)
	}
	if _, err := peer.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// portListener is a wildcard listener as its loopback address, for dialing.
type portListener struct {
	net.Listener
	port int
}

func (l *portListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port} }

// ReadFrom of one of net's connections is splice(2), as net.TCPConn's is (proxies copy
// connections so): the socket takes it in the kernel, a limited stretch and then the rest to
// the end of the stream, and the bytes arrive whole and in order on every path.
func TestReadFromConnectionSplices(t *testing.T) {
	want := make([]byte, 4<<20)
	rand.New(rand.NewSource(2)).Read(want)
	srcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srcLn.Close()
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		feed, src := loopback.DialAccept(t, srcLn)
		go func() {
			feed.Write(want)
			feed.Close()
		}()
		half := int64(len(want) / 2)
		lr := &io.LimitedReader{R: src, N: half}
		n, err, handled := c.nc.(*socket).spliceFrom(lr)
		if !handled || err != nil || n != half || lr.N != 0 {
			t.Fatalf("splice of a limited stretch: %d bytes, %v, handled %v; %d left of the limit", n, err, handled, lr.N)
		}
		done := make(chan error, 1)
		go func() {
			n, err := c.ReadFrom(src)
			if err == nil && n != int64(len(want))-half {
				err = fmt.Errorf("ReadFrom sent %d bytes", n)
			}
			done <- err
		}()
		receiveExactly(t, peer, want, done)
	})
}

// A program whose Accept loop closes the listener when Accept fails (http.Serve does) races
// the Close that woke it: that first Close must still succeed, as net's does.
func TestCloseSucceedsWhileTheWokenAcceptCloses(t *testing.T) {
	for range 50 {
		ln, err := Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			for {
				if _, err := ln.Accept(); err != nil {
					ln.Close()
					return
				}
			}
		}()
		time.Sleep(time.Millisecond) // let Accept block
		if err := ln.Close(); err != nil {
			t.Fatalf("the first Close: %v", err)
		}
		<-served
	}
}
