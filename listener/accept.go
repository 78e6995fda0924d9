package listener

import (
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
	network string       // as Listen was given it, for errors
	addr    *net.TCPAddr // the listener's
	// local is every connection's local address when the listener's names one IP; nil when it
	// is a wildcard, and each connection's is asked of the kernel.
	local *net.TCPAddr

	// One accept at a time, as net's: tryAccept leaves its outcome here.
	mu   sync.Mutex
	try  func(fd uintptr) bool
	fd   int
	err  error
	peer unix.RawSockaddrAny
}

func newTCPAcceptor(ln *net.TCPListener, network string) (*tcpAcceptor, error) {
	f, err := ln.File() // non-blocking, as the descriptor it duplicates: the poller waits for it
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	a := &tcpAcceptor{f: f, raw: raw, network: network, addr: ln.Addr().(*net.TCPAddr)}
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

// accept waits for the next connection. Its errors are net's Accept's: a *net.OpError around
// an *os.SyscallError (EMFILE and ENFILE temporary), os.ErrDeadlineExceeded or net.ErrClosed.
func (a *tcpAcceptor) accept() (*socket, error) {
	a.mu.Lock()
	a.fd, a.err = -1, nil
	err := netError("", a.raw.Read(a.try))
	if err == nil {
		err = a.err
	}
	if err != nil {
		a.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: a.network, Addr: a.addr, Err: err}
	}
	fd, raddr := a.fd, fdbridge.TCPAddrFromRaw(&a.peer)
	a.mu.Unlock()
	laddr := a.local
	if laddr == nil {
		local, err := fdbridge.LocalAddr(fd)
		if err != nil {
			unix.Close(fd)
			return nil, &net.OpError{Op: "accept", Net: a.network, Addr: a.addr, Err: err}
		}
		laddr = local.(*net.TCPAddr)
	}
	return newSocket(fd, laddr, raddr, &a.network), nil
}
