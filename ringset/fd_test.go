package ringset

import (
	"errors"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"net"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// An accepted connection's addresses are the peer's view reversed: its own is the listener's,
// as gnet gives it, and the peer's is what the accept reported, with no descriptor installed to
// ask (which would cost the loop a wait in io_uring_enter per connection), whether the acceptor
// or the loop itself (ReusePort) accepted it.
func TestAcceptedConnectionAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"acceptor", Config{Loops: 2}},
		{"source-address-hash", Config{Loops: 2, Balancer: SourceAddrHash}},
		{"reuseport", Config{Loops: 2, ReusePort: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type addrs struct{ local, remote net.Addr }
			got := make(chan addrs, 1)
			h := &hooks{open: func(c *conn.Conn) ([]byte, Action) {
				got <- addrs{c.LocalAddr(), c.RemoteAddr()}
				return nil, None
			}}
			s := startSet(t, tc.cfg, h)
			for i := 0; i < 20; i++ {
				client := dial(t, s)
				a := <-got
				if a.local == nil || a.local.String() != client.RemoteAddr().String() {
					t.Fatalf("LocalAddr %v, want %v", a.local, client.RemoteAddr())
				}
				if a.remote == nil || a.remote.String() != client.LocalAddr().String() {
					t.Fatalf("RemoteAddr %v, want %v", a.remote, client.LocalAddr())
				}
				if _, ok := a.remote.(*net.TCPAddr); !ok {
					t.Fatalf("RemoteAddr is a %T, want *net.TCPAddr", a.remote)
				}
			}
			if n := s.Installs(0) + s.Installs(1); n > 0 {
				t.Fatalf("%d descriptors installed to look the addresses up", n)
			}
		})
	}
}

// The acceptor's slots are used again as soon as a connection has been passed: an address
// published for a slot since is not taken for the earlier connection's, which looks its own up.
func TestHandedPeerWrittenOver(t *testing.T) {
	var h handedPeers
	first, second := &net.TCPAddr{Port: 1}, &net.TCPAddr{Port: 2}
	h.publish(7, first)
	seq := h.seqOf(7)
	if got := h.take(7, seq); got != first {
		t.Fatalf("take: %v, want %v", got, first)
	}
	h.publish(7, second)
	if got := h.take(7, seq); got != nil {
		t.Fatalf("take after the slot was written over: %v, want nil", got)
	}
	if got := h.take(7, h.seqOf(7)); got != second {
		t.Fatalf("take of the second: %v, want %v", got, second)
	}
	h.publish(7, nil) // a peer with no IP address (a unix socket's)
	if seq := h.seqOf(7); seq != 0 || h.take(7, seq) != nil {
		t.Fatalf("an unknown peer was handed as %v under %d", h.take(7, seq), seq)
	}
}

// Fd is one descriptor for the connection's life that setsockopt works on; Dup is a new one
// each call that outlives the connection; the socket setters reach the socket.
func TestFdDupAndSocketOptions(t *testing.T) {
	type result struct {
		fd1, fd2, dup int
		errs          []error
		opts          map[string]int
	}
	results := make(chan result, 1)
	closed := make(chan struct{})
	h := &hooks{close: func(*conn.Conn, error) { close(closed) }}
	h.open = func(c *conn.Conn) ([]byte, Action) {
		var r result
		var err error
		r.fd1, err = c.Fd()
		r.errs = append(r.errs, err)
		r.fd2, _ = c.Fd()
		r.dup, err = c.Dup()
		r.errs = append(r.errs, err,
			c.SetNoDelay(false), c.SetKeepAlive(true, 7*time.Second), c.SetLinger(3),
			c.SetReadBuffer(64<<10), c.SetWriteBuffer(64<<10))
		r.opts = map[string]int{}
		for name, o := range map[string][2]int{
			"nodelay": {unix.IPPROTO_TCP, unix.TCP_NODELAY}, "keepalive": {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
			"keepidle": {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}, "keepintvl": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
		} {
			r.opts[name], _ = unix.GetsockoptInt(r.dup, o[0], o[1])
		}
		l, _ := unix.GetsockoptLinger(r.dup, unix.SOL_SOCKET, unix.SO_LINGER)
		r.opts["linger"] = int(l.Linger)
		results <- r
		return nil, Close
	}
	s := startSet(t, Config{}, h)
	dial(t, s)
	r := <-results
	for i, err := range r.errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if r.fd1 < 0 || r.fd1 != r.fd2 || r.dup == r.fd1 {
		t.Fatalf("Fd %d then %d, Dup %d: want one stable Fd and a different Dup", r.fd1, r.fd2, r.dup)
	}
	want := map[string]int{"nodelay": 0, "keepalive": 1, "keepidle": 7, "keepintvl": 7, "linger": 3}
	for k, v := range want {
		if r.opts[k] != v {
			t.Errorf("%s = %d, want %d", k, r.opts[k], v)
		}
	}
	// The connection closed (Close from OnOpen): its Fd went with it; the Dup did not, and
	// keeps the socket open (as dup(2) does) until closed.
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose never ran")
	}
	if _, err := unix.FcntlInt(uintptr(r.fd1), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("Fd %d still open after OnClose: %v", r.fd1, err)
	}
	if _, err := unix.GetsockoptInt(r.dup, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		t.Fatalf("the Dup'd descriptor died with the connection: %v", err)
	}
	unix.Close(r.dup)
}

// A thousand connections that ask for their addresses and Fd leave no descriptor behind.
func TestFdsDoNotLeak(t *testing.T) {
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) {
		c.RemoteAddr()
		c.Fd()
		return nil, Close
	}}
	s := startSet(t, Config{Loops: 2}, h)
	time.Sleep(20 * time.Millisecond)
	fds := leakcheck.OpenFds(t) // with the set running: its rings and their duplicates
	if failed, first := eachClient(s, 1000, 64, func(_ int, c net.Conn) error {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1)) // until the server closes it
		return nil
	}); failed > 0 {
		t.Fatalf("%d dials failed; first: %v", failed, first)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.CountConnections() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := leakcheck.OpenFds(t); got != fds {
		t.Fatalf("%d descriptors open after 1000 connections came and went, %d before", got, fds)
	}
}

// With the process out of descriptors (RLIMIT_NOFILE reached), the set keeps accepting and
// serving: accepted connections are direct descriptors and take none. Only asking for a real
// descriptor fails, with EMFILE, as an error.
func TestServesAtTheFdLimit(t *testing.T) {
	fdErrs := make(chan error, 4)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) {
		_, err := c.Dup()
		fdErrs <- err
		return nil, None
	}}
	s := startSet(t, Config{}, h)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	tight := lim
	tight.Cur = uint64(leakcheck.OpenFds(t) + 16)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	// Fill the descriptor table, keeping one slot for a client.
	var filler []int
	defer func() {
		for _, fd := range filler {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			break
		}
		filler = append(filler, fd)
	}
	unix.Close(filler[len(filler)-1])
	filler = filler[:len(filler)-1]

	client := dial(t, s) // takes the last descriptor
	if err := <-fdErrs; err == nil || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("Dup with no descriptor left: %v, want EMFILE", err)
	}
	if err := echoRoundTrip(client, 64<<10, 1); err != nil {
		t.Fatalf("serving with no descriptor left: %v", err)
	}
	unix.Close(filler[len(filler)-1])
	filler = filler[:len(filler)-1]
	another := dial(t, s)
	<-fdErrs
	if err := echoRoundTrip(another, 64<<10, 2); err != nil {
		t.Fatalf("a connection accepted at the fd limit: %v", err)
	}
}
