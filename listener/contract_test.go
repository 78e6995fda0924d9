package listener

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The parts of the net.Conn and net.Listener contract nettest does not check.

func TestAddresses(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, network := range []string{"tcp", "tcp4", "tcp6", "unix"} {
			t.Run(network, func(t *testing.T) {
				address := map[string]string{"tcp": "127.0.0.1:0", "tcp4": "127.0.0.1:0", "tcp6": "[::1]:0", "unix": t.TempDir() + "/s"}[network]
				ln, err := Listen(network, address)
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.Port == 0 {
					t.Fatalf("listener address %v has no port", ta)
				}
				d, err := Dial(network, ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				a, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				for _, c := range []net.Conn{a, d} {
					if _, ok := c.(*Conn); !ok {
						t.Fatalf("%T, want *listener.Conn", c)
					}
					for _, addr := range []net.Addr{c.LocalAddr(), c.RemoteAddr()} {
						switch addr.(type) {
						case *net.TCPAddr:
							if network == "unix" {
								t.Errorf("address %v is TCP on a unix socket", addr)
							}
						case *net.UnixAddr:
							if network != "unix" {
								t.Errorf("address %v is unix on %s", addr, network)
							}
						default:
							t.Errorf("address %#v of type %T", addr, addr)
						}
					}
				}
				if network != "unix" && a.LocalAddr().String() != d.RemoteAddr().String() {
					t.Errorf("accepted local %v, dialed remote %v", a.LocalAddr(), d.RemoteAddr())
				}
				if network != "unix" && a.RemoteAddr().String() != d.LocalAddr().String() {
					t.Errorf("accepted remote %v, dialed local %v", a.RemoteAddr(), d.LocalAddr())
				}
			})
		}
	})
}

func TestListenerCloseAndDeadline(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := ln.(*Listener)
	l.SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = ln.Accept()
	if !errors.Is(err, os.ErrDeadlineExceeded) || !isOpError(err) {
		t.Fatalf("Accept past the deadline: %v, want a *net.OpError timeout", err)
	}
	l.SetDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { _, err := ln.Accept(); errc <- err }()
	time.Sleep(50 * time.Millisecond) // let Accept block
	ln.Close()
	err = <-errc
	if !errors.Is(err, net.ErrClosed) || !isOpError(err) {
		t.Fatalf("Accept blocked by Close: %v, want a *net.OpError wrapping net.ErrClosed", err)
	}
	// The address is free again at once, as with net.Listen.
	ln2, err := Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("listening again on a closed listener's address: %v", err)
	}
	ln2.Close()
}

func TestAcceptEMFILEIsTemporary(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := ln.(*Listener)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// The limit bounds descriptor numbers: below the lowest free one, accept4 has none.
	free, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(free)
	low := old
	low.Cur = uint64(free)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	_, err = ln.Accept()
	unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	var ne net.Error
	if !errors.Is(err, syscall.EMFILE) || !errors.As(err, &ne) || !isOpError(err) {
		t.Fatalf("Accept out of descriptors: %v, want a *net.OpError with EMFILE", err)
	}
	if !ne.(interface{ Temporary() bool }).Temporary() {
		t.Errorf("EMFILE is not temporary: http.Server would not back off")
	}
	l.SetDeadline(time.Now().Add(10 * time.Second))
	a, err := ln.Accept() // the connection waited in the queue
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestClosedConnErrors(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, _ := connPair(t)
		blocked := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 1)); blocked <- err }()
		time.Sleep(50 * time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"blocked Read": <-blocked,
			"Read":         second(c.Read(make([]byte, 1))),
			"Write":        second(c.Write([]byte("x"))),
			"Close":        c.Close(),
		} {
			if !errors.Is(err, net.ErrClosed) || !isOpError(err) {
				t.Errorf("%s after Close: %v, want a *net.OpError wrapping net.ErrClosed", name, err)
			}
		}
	})
}

func second(_ int, err error) error { return err }

// TestDeadlineOnBlockedRead: a deadline set while Read is blocked ends it; the error is a
// timeout; the buffer is not written after Read returns; a new deadline revives reading.
func TestDeadlineOnBlockedRead(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		buf := bytes.Repeat([]byte{0xAA}, 16)
		errc := make(chan error, 1)
		go func() { _, err := c.Read(buf); errc <- err }()
		time.Sleep(50 * time.Millisecond)
		c.SetReadDeadline(time.Now())
		err := <-errc
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !isOpError(err) {
			t.Fatalf("Read: %v, want a *net.OpError timeout matching os.ErrDeadlineExceeded", err)
		}
		peer.Write([]byte("late"))
		c.SetReadDeadline(time.Time{})
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "late" {
			t.Fatalf("after reviving: %q, %v", got, err)
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{0xAA}, 16)) {
			t.Fatalf("the timed-out Read's buffer was written after it returned: %x", buf)
		}
	})
}

func TestWritesDoNotInterleave(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		const writers, writes, size = 8, 100, 3000
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := bytes.Repeat([]byte{byte('a' + w)}, size)
				for i := 0; i < writes; i++ {
					if _, err := c.Write(msg); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		got := make([]byte, writers*writes*size)
		peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(peer, got); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i := 0; i < len(got); i += size {
			if m := got[i : i+size]; !bytes.Equal(m, bytes.Repeat(m[:1], size)) {
				t.Fatalf("message %d is interleaved", i/size)
			}
		}
	})
}

func TestHalfClose(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		t.Run("peer", func(t *testing.T) {
			c, peer := connPair(t)
			peer.Write([]byte("question"))
			peer.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "question" {
				t.Fatalf("ReadAll: %q, %v", got, err)
			}
			if _, err := c.Write([]byte("answer")); err != nil {
				t.Fatalf("Write after the peer's EOF: %v", err)
			}
			c.Close()
			if got, err := io.ReadAll(peer); err != nil || string(got) != "answer" {
				t.Fatalf("the peer read %q, %v", got, err)
			}
		})
		t.Run("ours", func(t *testing.T) {
			c, peer := connPair(t)
			big := bytes.Repeat([]byte("x"), 1<<20)
			if _, err := c.Write(big); err != nil {
				t.Fatal(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("y")); err == nil {
				t.Error("Write after CloseWrite succeeded")
			}
			got, err := io.ReadAll(peer)
			if err != nil || len(got) != len(big) {
				t.Fatalf("the peer read %d bytes, %v; want all %d, then EOF", len(got), err, len(big))
			}
			peer.Write([]byte("reply"))
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "reply" {
				t.Fatalf("Read after CloseWrite: %q, %v", buf, err)
			}
		})
		t.Run("CloseRead", func(t *testing.T) {
			c, _ := connPair(t)
			if err := c.CloseRead(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("Read after CloseRead: %v, want io.EOF", err)
			}
		})
	})
}

func TestSyscallConnAndOptions(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		var sc syscall.Conn = c
		raw, err := sc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		opt := func(level, name int) int {
			v := -1
			if err := raw.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), level, name) }); err != nil {
				t.Fatal(err)
			}
			return v
		}
		var port int
		raw.Control(func(fd uintptr) {
			sa, _ := unix.Getsockname(int(fd))
			port = sa.(*unix.SockaddrInet4).Port
		})
		if port != peer.RemoteAddr().(*net.TCPAddr).Port {
			t.Errorf("the descriptor is bound to port %d, want %v", port, peer.RemoteAddr())
		}
		check := func(what string, err error, got, want int) {
			t.Helper()
			if err != nil || got != want {
				t.Errorf("%s: %v; option is %d, want %d", what, err, got, want)
			}
		}
		err = c.SetNoDelay(false)
		check("SetNoDelay(false)", err, opt(unix.IPPROTO_TCP, unix.TCP_NODELAY), 0)
		err = c.SetKeepAlive(true)
		check("SetKeepAlive(true)", err, opt(unix.SOL_SOCKET, unix.SO_KEEPALIVE), 1)
		err = c.SetKeepAlivePeriod(42 * time.Second)
		check("SetKeepAlivePeriod(42s)", err, opt(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), 42)
		err = c.SetReadBuffer(1 << 16)
		check("SetReadBuffer", err, opt(unix.SOL_SOCKET, unix.SO_RCVBUF), 2<<16) // Linux doubles it
		err = c.SetWriteBuffer(1 << 16)
		check("SetWriteBuffer", err, opt(unix.SOL_SOCKET, unix.SO_SNDBUF), 2<<16)
		if err := c.SetLinger(0); err != nil {
			t.Error(err)
		}
		var l *unix.Linger
		raw.Control(func(fd uintptr) { l, _ = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER) })
		if l == nil || l.Onoff != 1 || l.Linger != 0 {
			t.Errorf("SetLinger(0): linger %+v", l)
		}
		// The descriptor is net's: RawConn.Read and Write run f as net's do.
		ran := false
		if err := raw.Read(func(uintptr) bool { ran = true; return true }); err != nil || !ran {
			t.Errorf("RawConn.Read: %v (ran f: %v)", err, ran)
		}
	})
}

// onlyReader hides bytes.Reader's WriteTo, to exercise the generic path.
type onlyReader struct{ io.Reader }

func TestReaderFromWriterTo(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		var _ io.ReaderFrom = c
		var _ io.WriterTo = c
		go func() {
			c.ReadFrom(bytes.NewReader(want))
			c.ReadFrom(onlyReader{bytes.NewReader(want)})
			c.CloseWrite()
		}()
		got, err := io.ReadAll(peer)
		if err != nil || !bytes.Equal(got, append(append([]byte{}, want...), want...)) {
			t.Fatalf("ReadFrom: the peer read %d bytes, %v", len(got), err)
		}
		go func() {
			peer.Write(want)
			peer.(*net.TCPConn).CloseWrite()
		}()
		var sb strings.Builder
		n, err := c.WriteTo(&sb)
		if err != nil || n != int64(len(want)) || sb.String() != string(want) {
			t.Fatalf("WriteTo: %d bytes, %v", n, err)
		}
	})
}

// countingFile is a file whose Read calls are counted; SyscallConn is the file's, so net can
// send it with sendfile(2), which reads it inside the kernel.
type countingFile struct {
	*os.File
	reads int
}

func (f *countingFile) Read(p []byte) (int, error) { f.reads++; return f.File.Read(p) }

// ReadFrom of a file is net's sendfile, as net.TCPConn's is (net/http serves files so): the
// file is never read into the process. Written around other writes, on every path, the bytes
// keep their order.
func TestReadFromFileSendsItByKernel(t *testing.T) {
	name, want := randomFile(t, 4<<20, 1)
	open := func(t *testing.T) *countingFile {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return &countingFile{File: f}
	}
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		f := open(t)
		lr := &io.LimitedReader{R: f, N: int64(len(want))}
		done := make(chan error, 1)
		go func() {
			n, err := c.ReadFrom(lr)
			if err == nil && n != int64(len(want)) {
				err = fmt.Errorf("ReadFrom sent %d bytes", n)
			}
			done <- err
		}()
		receiveExactly(t, peer, want, done)
		if f.reads != 0 || lr.N != 0 {
			t.Fatalf("the file was read %d times into the process; %d bytes left of the limit", f.reads, lr.N)
		}

		f = open(t)
		go func() {
			_, err := c.Write([]byte("head"))
			if err == nil {
				_, err = c.ReadFrom(f)
			}
			if err == nil {
				_, err = c.Write([]byte("tail"))
			}
			done <- err
		}()
		receiveExactly(t, peer, append(append([]byte("head"), want...), "tail"...), done)
	})
}
