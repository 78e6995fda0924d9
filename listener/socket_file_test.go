package listener

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/leakcheck"
	"github.com/uringnet/uringnet/internal/loopback"
)

// inNetpoller reports whether an epoll instance of the process (Go's netpoller's) watches the
// socket of c, found by its inode in the instances' /proc fdinfo.
func inNetpoller(t *testing.T, c *Conn) bool {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	err = syscall.Fstat(int(f.Fd()), &st)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("ino:%x ", st.Ino)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	polls := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[eventpoll]" {
			continue
		}
		polls++
		info, err := os.Open("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue // closed since the listing
		}
		sc := bufio.NewScanner(info)
		for sc.Scan() {
			if strings.Contains(sc.Text()+" ", want) {
				info.Close()
				return true
			}
		}
		info.Close()
	}
	if polls == 0 {
		t.Fatal("no epoll instance in the process: the netpoller is not where it was looked for")
	}
	return false
}

// ringListener is a listener whose connections the ring serves, both until the test ends.
func ringListener(t *testing.T) net.Listener {
	forcePath(t, pathsRing)
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// roundTrip sends msg from peer, has c read it and write it back, and checks what peer gets.
func roundTrip(t *testing.T, c *Conn, peer net.Conn, msg string) {
	t.Helper()
	if _, err := peer.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	receiveExactly(t, peer, []byte(msg), nil)
}

// An accepted socket the ring serves is out of Go's netpoller: its segments make no events
// there for the netpoller to harvest and drop. Back on the poller path it is in again, with
// the deadline set while it was out, and no byte is lost either way.
func TestRingServedSocketLeavesTheNetpoller(t *testing.T) {
	forcePath(t, pathsPoller)
	c, peer := connPair(t)
	roundTrip(t, c, peer, "poller")
	if !inNetpoller(t, c) {
		t.Fatal("the poller serves the socket, yet the netpoller does not watch it")
	}

	forcePaths.Store(pathsRing)
	roundTrip(t, c, peer, "ring")
	if inNetpoller(t, c) {
		t.Fatal("the ring serves the socket's reads, yet the netpoller still watches it")
	}

	// Deadlines set while the socket is out of the netpoller hold once it is back in: the
	// reader leaves the ring, the File made anew waits for the read deadline, and a write past
	// its deadline fails at once.
	if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	forcePaths.Store(pathsPoller)
	watchdog := time.AfterFunc(10*time.Second, func() { peer.Write([]byte("!")) })
	defer watchdog.Stop()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline set while on the ring: %v, want a timeout", err)
	}
	if !inNetpoller(t, c) {
		t.Fatal("back on the poller, the socket is not in the netpoller")
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline set while on the ring: %v, want a timeout", err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, peer, "poller again")
}

// A raw connection handed out and not used keeps nothing in the netpoller. Its first call
// brings a retired socket's File back, and the descriptor it gives stays the connection's, with
// its number, until Close (net's does, and programs keep it): the socket is not retired again.
// fn may call back into the connection.
func TestRawConnKeepsItsDescriptor(t *testing.T) {
	forcePath(t, pathsPoller)
	c, peer := connPair(t)
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	forcePaths.Store(pathsRing)
	roundTrip(t, c, peer, "ring")
	if inNetpoller(t, c) {
		t.Fatal("the ring serves the socket's reads, yet a raw connection handed out, unused, keeps it in the netpoller")
	}
	kept := -1
	if err := raw.Control(func(fd uintptr) {
		kept = int(fd)
		// fn may call into the connection, as from here (on another goroutine, so that a call
		// that waited for fn fails the test rather than hanging it).
		set := make(chan error, 1)
		go func() { set <- c.SetNoDelay(false) }()
		select {
		case err := <-set:
			if err != nil {
				t.Errorf("an option set while Control's fn runs: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("an option set while Control's fn runs waited for fn to return")
		}
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the reads move to the poller and back: no retiring takes the descriptor away
		forcePaths.Store(pathsPoller)
		roundTrip(t, c, peer, "poller")
		forcePaths.Store(pathsRing)
		roundTrip(t, c, peer, "ring")
		sa, err := syscall.Getsockname(kept)
		if err != nil {
			t.Fatalf("round %d: the descriptor Control gave: %v", i, err)
		}
		if port := sa.(*syscall.SockaddrInet4).Port; port != c.LocalAddr().(*net.TCPAddr).Port {
			t.Fatalf("round %d: the descriptor Control gave is bound to port %d, the connection to %v", i, port, c.LocalAddr())
		}
		if on, err := syscall.GetsockoptInt(kept, syscall.IPPROTO_TCP, syscall.TCP_NODELAY); err != nil || on != 0 {
			t.Fatalf("round %d: TCP_NODELAY after SetNoDelay(false) inside Control: %d, %v", i, on, err)
		}
	}
	if !inNetpoller(t, c) {
		t.Fatal("a socket whose raw connection was used was retired")
	}
}

// Connections closed while out of the netpoller, and closed after coming back, close every
// descriptor: the kept duplicate, the File and the ring's. Options and deadlines work in
// between, and a closed connection's raw connection says it is closed, as net's does.
func TestSocketsOutOfTheNetpollerCloseEverything(t *testing.T) {
	ln := ringListener(t)
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	for i := range 64 {
		forcePaths.Store(pathsRing)
		peer, nc := loopback.DialAccept(t, ln)
		c := nc.(*Conn)
		roundTrip(t, c, peer, "ring")
		if err := c.SetNoDelay(false); err != nil {
			t.Fatalf("an option while out of the netpoller: %v", err)
		}
		if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("a deadline while out of the netpoller: %v", err)
		}
		if i%2 == 1 { // back in before the close
			forcePaths.Store(pathsPoller)
			roundTrip(t, c, peer, "poller")
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if raw, err := c.SyscallConn(); err != nil {
			t.Fatalf("raw connection of a closed connection: %v", err)
		} else if err := raw.Control(func(uintptr) {}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("raw connection of a closed connection: %v, want net.ErrClosed", err)
		}
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the peer of a closed connection read %v, want io.EOF", err)
		}
		peer.Close()
	}
	leakcheck.Settle(t, goroutines, fds)
}

// Options and deadlines set from another goroutine while the echo's reads and writes switch
// paths at every round (the File retired and made anew again and again) never fail on an open
// connection, and the echoed stream arrives whole.
func TestSocketOptionsWhileTheFileComesAndGoes(t *testing.T) {
	prev := forcePaths.Load()
	defer forcePaths.Store(prev)
	c, peer := connPair(t)
	echoed := make(chan error, 1)
	go func() {
		buf := make([]byte, 1000)
		for i := 0; ; i++ {
			forcePaths.Store([]int32{pathsRing, pathsPoller}[i%2])
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					echoed <- werr
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				echoed <- err
				return
			}
		}
	}()
	stop := make(chan struct{})
	setters := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				setters <- nil
				return
			default:
			}
			runtime.Gosched() // leave the File unused now and then, or it is never retired
			far := time.Now().Add(time.Minute)
			for _, err := range []error{c.SetReadDeadline(far), c.SetWriteDeadline(far), c.SetNoDelay(i%2 == 0)} {
				if err != nil {
					setters <- err
					return
				}
			}
		}
	}()
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	writer := make(chan error, 1)
	go func() {
		for off := 0; off < len(want); off += 333 {
			if _, err := peer.Write(want[off:min(off+333, len(want))]); err != nil {
				writer <- err
				return
			}
		}
		writer <- peer.(*net.TCPConn).CloseWrite()
	}()
	receiveExactly(t, peer, want, writer)
	close(stop)
	if err := <-setters; err != nil {
		t.Fatalf("setting an option or deadline on an open connection: %v", err)
	}
	if err := <-echoed; err != nil {
		t.Fatal(err)
	}
}

// refuseNewFiles has the netpoller refuse every socket File made from now on, until restore
// or the test's end: a regular file stands in, which epoll refuses with EPERM (a socket is
// refused so at the system's limit on watched descriptors, with ENOSPC).
func refuseNewFiles(t *testing.T) (restore func()) {
	was := newPolledFile
	refused := filepath.Join(t.TempDir(), "refused")
	newPolledFile = func(fd int) *os.File {
		syscall.Close(fd)
		f, err := os.Create(refused)
		if err != nil {
			t.Error(err)
		}
		return f
	}
	restore = func() { newPolledFile = was }
	t.Cleanup(restore)
	return restore
}

// A socket whose new File the netpoller refuses fails its poller Read, and its raw
// connection's Read, with the reason epoll gives, as net's Accept fails such a connection,
// keeps its descriptor open, and the ring still serves it every byte.
func TestRefusedFileFailsThePollerAndLosesNothing(t *testing.T) {
	forcePath(t, pathsRing)
	c, peer := connPair(t)
	refuseNewFiles(t)
	roundTrip(t, c, peer, "ring")
	forcePaths.Store(pathsPoller)
	var se *os.SyscallError
	if _, err := c.Read(make([]byte, 4)); !errors.Is(err, syscall.EPERM) || !isOpError(err) || !errors.As(err, &se) || se.Syscall != "epoll_ctl" {
		t.Fatalf("poller read of a socket the netpoller refused: %v, want a *net.OpError around epoll_ctl's EPERM", err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Read(func(uintptr) bool { return true }); !errors.Is(err, syscall.EPERM) || !isOpError(err) {
		t.Fatalf("raw read of a socket the netpoller refused: %v, want a *net.OpError around epoll's EPERM", err)
	}
	// The socket's ReadFrom fails before it takes anything from its reader.
	srcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srcLn.Close()
	feed, src := loopback.DialAccept(t, srcLn)
	feed.Write([]byte("untouched"))
	if _, err := c.nc.(*socket).ReadFrom(src); !errors.Is(err, syscall.EPERM) || !isOpError(err) {
		t.Fatalf("ReadFrom to a socket the netpoller refused: %v, want a *net.OpError around epoll's EPERM", err)
	}
	got := make([]byte, len("untouched"))
	src.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(src, got); err != nil || string(got) != "untouched" {
		t.Fatalf("the reader kept %q, %v; want \"untouched\"", got, err)
	}
	if _, err := peer.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	forcePaths.Store(pathsRing)
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "kept" {
		t.Fatalf("the ring read %q, %v after the refused File; want \"kept\"", buf, err)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	receiveExactly(t, peer, buf, nil)
}

// A connection the netpoller refuses at Accept fails the Accept with the reason epoll gives, as
// net's Accept does, and is closed; the listener accepts the next connection.
func TestAcceptOfAConnectionTheNetpollerRefuses(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	restore := refuseNewFiles(t)
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); !errors.Is(err, syscall.EPERM) || !isOpError(err) {
		t.Fatalf("Accept of a connection the netpoller refused: %v, %v; want a *net.OpError around epoll's EPERM", c, err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the refused connection's peer read %d, %v; want it closed", n, err)
	}
	peer.Close()
	leakcheck.Settle(t, goroutines, fds) // the refused File, and the probe's epoll instance
	restore()
	peer2, nc := loopback.DialAccept(t, ln)
	roundTrip(t, nc.(*Conn), peer2, "the next connection")
}

// At the limit on open descriptors, where no duplicate can be had, a retired socket's File is
// made of its descriptor itself: the poller serves the connection as before, and a raw
// Control runs on that File.
func TestRetiredSocketComesBackAtTheDescriptorLimit(t *testing.T) {
	forcePath(t, pathsRing)
	c, peer := connPair(t)
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, peer, "ring")
	if inNetpoller(t, c) {
		t.Fatal("the ring serves the socket's reads, yet the netpoller still watches it")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	tight := lim
	tight.Cur = uint64(leakcheck.OpenFds(t) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	var fillers []int
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			break // EMFILE: no descriptor is free
		}
		fillers = append(fillers, fd)
	}
	forcePaths.Store(pathsPoller)
	if _, err := peer.Write([]byte("at the limit")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("at the limit"))
	cerr := raw.Control(func(fd uintptr) {
		if _, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil {
			t.Errorf("raw control at the descriptor limit: %v", err)
		}
	})
	_, rerr := io.ReadFull(c, buf)
	_, werr := c.Write(buf)
	for _, fd := range fillers {
		syscall.Close(fd)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if cerr != nil || rerr != nil || werr != nil {
		t.Fatalf("raw control, poller read and write at the descriptor limit: %v, %v, %v", cerr, rerr, werr)
	}
	receiveExactly(t, peer, buf, nil)
	if !inNetpoller(t, c) {
		t.Fatal("back on the poller, the socket is not in the netpoller")
	}
}

// A retired socket's descriptor is closed when a program drops its connection unclosed, as
// net's File would close its own: here after the peer's reset ended the ring's side.
func TestDroppedRetiredSocketClosesItsDescriptor(t *testing.T) {
	ln := ringListener(t)
	fds := leakcheck.OpenFds(t)
	func() { // not loopback.DialAccept, whose cleanup would keep the connection
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, nc.(*Conn), peer, "ring")
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatal("read after the peer's reset succeeded")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for leakcheck.OpenFds(t) > fds {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, %d before the dropped connection", leakcheck.OpenFds(t), fds)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
