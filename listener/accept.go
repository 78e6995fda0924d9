package listener

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/fdbridge"
)

// tcpAcceptor accepts a TCP listener's connections itself, as sockets (socket.go), on a
// duplicate of net's listening socket held by an *os.File: accept4(2) is made through the
// File's raw connection, so it waits in the poller (net's listener offers no raw reads), and
// the listener's deadline and Close end it (Listener sets and closes both), as they end net's
// Accept.
type tcpAcceptor struct {
	f       *os.File
	raw     syscall.RawConn
	network *string      // as Listen was given it; the connections' errors name it too
	addr    *net.TCPAddr // the listener's
	// local is every connection's local address when the listener's names one IP; nil when it
	// is a wildcard, and each connection's is asked of the kernel.
	local *net.TCPAddr

	// One accept at a time, as net's: tryAccept leaves its outcome here.
	mu        sync.Mutex
	try       func(fd uintptr) bool
	fd        int
	err       error
	peer      unix.RawSockaddrAny
	lastLocal *net.TCPAddr // a wildcard listener's last connection's local address, shared
}

func newTCPAcceptor(ln *net.TCPListener, network string) (*tcpAcceptor, error) {
	if err := findFileClosing(); err != nil {
		return nil, err
	}
	f, err := ln.File() // non-blocking, as the descriptor it duplicates: the poller waits for it
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	// The connections keep the network's name, not the acceptor: a listener dropped without
	// Close must be collected, and its File's finalizer close the duplicate.
	netw := new(string)
	*netw = network
	a := &tcpAcceptor{f: f, raw: raw, network: netw, addr: ln.Addr().(*net.TCPAddr)}
	if !a.addr.IP.IsUnspecified() {
		a.local = a.addr
	}
	a.try = a.tryAccept
	return a, nil
}

// tryAccept accepts once on the listening socket fd; false when none is waiting, and the poller
// waits for one. net retries the same errors.
func (a *tcpAcceptor) tryAccept(fd uintptr) bool {
	for {
		n := uint32(unsafe.Sizeof(a.peer))
		nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&a.peer)), uintptr(unsafe.Pointer(&n)),
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			a.fd, a.err = int(nfd), nil
			return true
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			return false
		}
		a.fd, a.err = -1, os.NewSyscallError("accept4", e)
		return true
	}
}

// errNotPolled is a connection the poller could not take, when what refused it cannot be
// learnt (refusal).
var errNotPolled = errors.New("the poller cannot watch the connection")

// accept waits for the next connection. Its errors are net's Accept's: a *net.OpError around
// an *os.SyscallError (EMFILE and ENFILE temporary), os.ErrDeadlineExceeded, net.ErrClosed, or
// the errno itself for a connection the netpoller refused.
func (a *tcpAcceptor) accept() (*socket, error) {
	a.mu.Lock()
	a.fd, a.err = -1, nil
	err := netError("", a.raw.Read(a.try))
	if err == nil {
		err = a.err
	}
	var raddr, laddr *net.TCPAddr
	fd := a.fd
	if err == nil {
		raddr, laddr = fdbridge.NetTCPAddrFromRaw(&a.peer), a.localOf(fd)
		fd, err = aboveStdio(fd)
	}
	a.mu.Unlock()
	if err != nil {
		return nil, a.opError(err)
	}
	s := newSocket(fd, laddr, raddr, a.network)
	if err := refusal(s.f.Load()); err != nil { // as net's Accept fails such a connection
		s.f.Load().Close()
		return nil, a.opError(err)
	}
	return s, nil
}

func (a *tcpAcceptor) opError(err error) error {
	return &net.OpError{Op: "accept", Net: *a.network, Addr: a.addr, Err: err}
}

// localOf is the local address of fd, a connection just accepted: the listener's, or under a
// wildcard the kernel's, shared with the connection before if the same. Should the kernel not
// say, the listener's (net's connection would have none).
func (a *tcpAcceptor) localOf(fd int) *net.TCPAddr {
	if a.local != nil {
		return a.local
	}
	var rsa unix.RawSockaddrAny
	if fdbridge.Sockname(fd, &rsa) != nil {
		return a.addr
	}
	local := fdbridge.NetTCPAddrFromRaw(&rsa)
	if last := a.lastLocal; last != nil && last.Port == local.Port && last.Zone == local.Zone && last.IP.Equal(local.IP) {
		return last
	}
	a.lastLocal = local
	return local
}

// aboveStdio returns fd, or a duplicate of it above 2 (closing fd) when it is 0, 1 or 2: a File
// made of 1 or 2 is taken for standard output or error, whose writes raise SIGPIPE on EPIPE,
// and a program that closed its standard output accepts connections there (0 moves with them).
func aboveStdio(fd int) (int, error) {
	if fd > 2 {
		return fd, nil
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	unix.Close(fd)
	if err != nil {
		return -1, os.NewSyscallError("fcntl", err)
	}
	return nfd, nil
}
