package listener

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"reflect"
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
	peer, c := loopback.DialAccept(t, ln) // a wildcard address dials this host
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "local %v, remote %v\n", c.LocalAddr().String() == peer.RemoteAddr().String(), c.RemoteAddr().String() == peer.LocalAddr().String())
	fmt.Fprintf(&b, "addresses %s %s\n", c.LocalAddr().Network(), c.RemoteAddr().Network())
	for _, a := range []net.Addr{c.LocalAddr(), c.RemoteAddr()} {
		ta := a.(*net.TCPAddr)
		fmt.Fprintf(&b, "IP of %d bytes, IPv4 %v, zone %q\n", len(ta.IP), ta.AddrPort().Addr().Is4(), ta.Zone)
	}

	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(describeOptions(raw))
	mptcp, err := c.(interface{ MultipathTCP() (bool, error) }).MultipathTCP()
	fmt.Fprintf(&b, "MPTCP %v %v\n", mptcp, err)
	err = c.(interface {
		SetKeepAliveConfig(net.KeepAliveConfig) error
	}).SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 20*time.Second + 1, Interval: -1, Count: 3})
	fmt.Fprintf(&b, "SetKeepAliveConfig: %v\n", err)
	f, err := c.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "File named for the connection: %v\n", f.Name() == network+":"+c.LocalAddr().String()+"->"+c.RemoteAddr().String())
	fraw, err := f.SyscallConn() // not f.Fd(), which would make the shared socket blocking
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("the File's options:\n" + describeOptions(fraw))
	f.Close()

	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	_, err = c.(io.ReaderFrom).ReadFrom(closed)
	fmt.Fprintf(&b, "ReadFrom a closed file: %s\n", describeError(err))

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
	_, err = c.(io.ReaderFrom).ReadFrom(strings.NewReader("x"))
	fmt.Fprintf(&b, "ReadFrom a reader after the peer's reset: %s\n", describeError(err))
	pr, pw, err := os.Pipe() // a descriptor the kernel cannot sendfile from: copied
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(make([]byte, 4096))
	pw.Close()
	_, err = c.(io.ReaderFrom).ReadFrom(pr)
	pr.Close()
	fmt.Fprintf(&b, "ReadFrom a pipe after the peer's reset: %s\n", describeError(err))

	c.Close()
	_, err = c.Read(buf)
	fmt.Fprintf(&b, "read after Close: %s\n", describeError(err))
	fmt.Fprintf(&b, "deadline after Close: %s\n", describeError(c.SetDeadline(time.Now())))
	fmt.Fprintf(&b, "option after Close: %s\n", describeError(c.(interface{ SetNoDelay(bool) error }).SetNoDelay(true)))
	fmt.Fprintf(&b, "CloseWrite after Close: %s\n", describeError(c.(interface{ CloseWrite() error }).CloseWrite()))
	_, err = c.(interface{ File() (*os.File, error) }).File()
	fmt.Fprintf(&b, "File after Close: %s\n", describeError(err))
	fmt.Fprintf(&b, "raw Control after Close: %s\n", describeError(raw.Control(func(uintptr) {})))
	fmt.Fprintf(&b, "raw Read after Close: %s\n", describeError(raw.Read(func(uintptr) bool { return true })))
	fmt.Fprintf(&b, "raw Write after Close: %s\n", describeError(raw.Write(func(uintptr) bool { return true })))
	return b.String()
}

// describeOptions reads the socket options net sets on an accepted connection.
func describeOptions(raw syscall.RawConn) string {
	var b strings.Builder
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
		var err error
		raw.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), o.level, o.opt) })
		fmt.Fprintf(&b, "%s %d %v\n", o.name, v, err)
	}
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
	peer, c := loopback.DialAccept(t, ln)
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

// ReadFrom of one of net's connections is splice(2), as net.TCPConn's is (proxies copy
// connections so): the socket takes it in the kernel, a limited stretch, then a stretch as
// io.Copy(conn, tcpConn) hands it over (in net's wrapper, which TCPConn.WriteTo makes), then
// the rest to the end of the stream, and the bytes arrive whole and in order on every path.
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
		quarter := int64(len(want) / 4)
		lr := &io.LimitedReader{R: src, N: quarter}
		s := c.nc.(*socket)
		f, err := s.file()
		if err != nil {
			t.Fatal(err)
		}
		defer s.done()
		n, err, handled := s.spliceFrom(f, lr)
		if !handled || err != nil || n != quarter || lr.N != 0 {
			t.Fatalf("splice of a limited stretch: %d bytes, %v, handled %v; %d left of the limit", n, err, handled, lr.N)
		}
		var wrapped io.Reader // what TCPConn.WriteTo hands to a ReadFrom
		src.(*net.TCPConn).WriteTo(readerFromFunc(func(r io.Reader) { wrapped = r }))
		lr = &io.LimitedReader{R: wrapped, N: quarter}
		n, err, handled = s.spliceFrom(f, lr)
		if !handled || err != nil || n != quarter {
			t.Fatalf("splice from %T: %d bytes, %v, handled %v", wrapped, n, err, handled)
		}
		done := make(chan error, 1)
		go func() {
			n, err := io.Copy(c, src)
			if err == nil && n != int64(len(want))-2*quarter {
				err = fmt.Errorf("io.Copy sent %d bytes", n)
			}
			done <- err
		}()
		receiveExactly(t, peer, want, done)
	})
}

// A splice that fails with bytes still in its pipe (the peer reset the connection it was
// sending to) does not hand that pipe to the next ReadFrom: pipes are pooled only empty, so
// the next connection's peer gets its own bytes and no one else's.
func TestSpliceLeavesNoBytesToTheNextConnection(t *testing.T) {
	srcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srcLn.Close()
	for round := range 3 {
		c, peer := connPair(t)
		feed, src := loopback.DialAccept(t, srcLn)
		junk := bytes.Repeat([]byte{'x'}, 8<<20)
		go func() {
			feed.Write(junk)
			feed.Close()
		}()
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close() // reset: the splice to c fails with bytes in the pipe
		if _, err := c.nc.(*socket).ReadFrom(src); err == nil {
			t.Fatalf("round %d: ReadFrom to a reset peer succeeded", round)
		}
		src.Close()

		c2, peer2 := connPair(t)
		feed2, src2 := loopback.DialAccept(t, srcLn)
		want := []byte(fmt.Sprintf("round %d: only these bytes", round))
		go func() {
			feed2.Write(want)
			feed2.Close()
		}()
		done := make(chan error, 1)
		go func() {
			_, err := c2.nc.(*socket).ReadFrom(src2)
			c2.CloseWrite()
			done <- err
		}()
		got, err := io.ReadAll(peer2)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: the next connection's peer got %d bytes %.40q, want %q", round, len(got), got, want)
		}
	}
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

// io.Copy of a file to a connection (os.File's WriteTo) sends it after what the ring still
// holds of earlier writes: the connection's raw connection does not offer os the descriptor
// (net's PollFD) to sendfile past the connection's ReadFrom. Accepted and dialed, on every path.
func TestCopyOfAFileKeepsOrder(t *testing.T) {
	name, want := randomFile(t, 1<<20, 3)
	for _, dialed := range []bool{false, true} {
		t.Run(map[bool]string{false: "accepted", true: "dialed"}[dialed], func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				c, peer := connPair(t)
				if dialed {
					c, peer = dialedPair(t)
				}
				raw, err := c.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				if _, exposed := reflect.TypeOf(raw).MethodByName("PollFD"); exposed {
					t.Fatalf("the raw connection (%T) offers net's PollFD", raw)
				}
				f, err := os.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				done := make(chan error, 1)
				go func() {
					_, err := c.Write([]byte("head"))
					if err == nil {
						_, err = io.Copy(c, f)
					}
					if err == nil {
						_, err = c.Write([]byte("tail"))
					}
					done <- err
				}()
				receiveExactly(t, peer, append(append([]byte("head"), want...), "tail"...), done)
			})
		})
	}
}

// dialedPair returns a connection Dial made and the standard listener's side of it.
func dialedPair(t *testing.T) (ours *Conn, peer net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return c.(*Conn), peer
}

// A program that closed its standard output accepts its next connection as descriptor 1. A
// File made of descriptor 1 is taken for standard output, whose write that meets EPIPE raises
// SIGPIPE and ends the process; the connection is moved above 2, and the write fails with an
// error, as net's does. Run in a process of its own, which closes its standard output.
func TestAcceptedOnClosedStandardOutput(t *testing.T) {
	if os.Getenv(stdoutChildEnv) != "" {
		writeToResetPeerWithoutStdout(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptedOnClosedStandardOutput$", "-test.v")
	cmd.Env = append(os.Environ(), stdoutChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "write failed:") {
		t.Fatalf("the server's process: %v\n%s", err, out)
	}
}

const stdoutChildEnv = "URINGNET_CLOSED_STDOUT_CHILD"

// readerFromFunc is an io.Writer whose ReadFrom hands over the reader it is given.
type readerFromFunc func(r io.Reader)

func (f readerFromFunc) Write(p []byte) (int, error)         { return len(p), nil }
func (f readerFromFunc) ReadFrom(r io.Reader) (int64, error) { f(r); return 0, nil }

// writeToResetPeerWithoutStdout is the child's part; standard output being closed, it reports
// on standard error.
func writeToResetPeerWithoutStdout(t *testing.T) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		t.FailNow()
	}
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.Close() // descriptor 1 is now the lowest free, for the connection accepted next
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		fail("descriptor 0 is not open (%v): the connection would not be accepted as 1", err)
	}
	if _, err := unix.FcntlInt(1, unix.F_GETFD, 0); err != unix.EBADF {
		fail("descriptor 1 is still open (%v)", err)
	}
	c, err := ln.Accept()
	if err != nil {
		fail("accept: %v", err)
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	time.Sleep(50 * time.Millisecond) // the reset arrives
	var werr error
	for range 3 { // the first write after a reset meets ECONNRESET, a later one EPIPE
		_, werr = c.Write([]byte("x"))
	}
	fmt.Fprintf(os.Stderr, "write failed: %v\n", werr)
	if !errors.Is(werr, syscall.EPIPE) {
		fail("the last write to a reset peer: %v, want EPIPE", werr)
	}
}

// A listener offers what net's does to a program tuning its listening socket: SyscallConn, whose
// Control runs on the descriptor and whose Read fails as net's does, and File, a duplicate.
func TestListenerSyscallConnAndFileAsNets(t *testing.T) {
	describe := func(listen func(network, address string) (net.Listener, error)) string {
		ln, err := listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var b strings.Builder
		raw, err := ln.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var accepting int
		cerr := raw.Control(func(fd uintptr) { accepting, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN) })
		fmt.Fprintf(&b, "Control: %v; listening %d %v\n", cerr, accepting, err)
		fmt.Fprintf(&b, "Read: %v\n", raw.Read(func(uintptr) bool { return true }))
		f, err := ln.(interface{ File() (*os.File, error) }).File()
		if err != nil {
			t.Fatal(err)
		}
		fraw, _ := f.SyscallConn()
		fraw.Control(func(fd uintptr) { accepting, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN) })
		fmt.Fprintf(&b, "File: listening %d %v\n", accepting, err)
		f.Close()
		return b.String()
	}
	if got, want := describe(Listen), describe(net.Listen); got != want {
		t.Errorf("Listen's listener:\n%s\nnet.Listen's:\n%s", got, want)
	}
}
