package listener

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/fdbridge"
)

// socket is an accepted TCP connection as the poller path serves it: the descriptor held by an
// *os.File, whose reads and writes wait in Go's netpoller exactly as net's do (the same
// internal/poll code under both), and the two addresses. It is what net's *net.TCPConn is to a
// Conn, in less memory: net keeps a netFD, the TCPConn and both addresses, each a record of its
// own; a socket keeps the File's and its own, the peer's address (read from accept's sockaddr)
// and, where the listener's address names one IP, the listener's address as its local one,
// shared. Servers hold tens of thousands of connections idle. (net gives each connection
// address records of its own; here the connections of a listener on one IP share the one
// Listener.Addr returns, and a caller that alters one alters them all.)
//
// Its errors are net's: a *net.OpError around an *os.SyscallError named after the system call,
// os.ErrDeadlineExceeded or net.ErrClosed, never the File's *os.PathError.
type socket struct {
	f            atomic.Pointer[os.File] // nil while retired (socket_file.go)
	users        atomic.Int32            // uses holding f, and socketClosed once Close began
	laddr, raddr *net.TCPAddr
	network      *string // as the listener was given it ("tcp", "tcp4", "tcp6"), for errors
	fside        atomic.Pointer[fileSide]
}

// newSocket takes fd, an accepted non-blocking TCP socket, with the options net gives an
// accepted connection: no Nagle delay, and keep-alive probes after 15 s idle, every 15 s, 9
// unanswered ending it (net.ListenConfig's defaults).
func newSocket(fd int, laddr, raddr *net.TCPAddr, network *string) *socket {
	fdbridge.SetNoDelay(fd, true)
	fdbridge.SetKeepAliveProbes(fd, true, keepAliveSecs, keepAliveSecs, keepAliveProbes)
	s := &socket{laddr: laddr, raddr: raddr, network: network}
	s.f.Store(newPolledFile(fd))
	return s
}

// net's defaults for an accepted connection's keep-alive probes.
const (
	keepAliveSecs   = 15
	keepAliveProbes = 9
)

func (s *socket) Read(p []byte) (int, error) {
	f, err := s.file()
	defer s.done()
	n := 0
	if err == nil {
		n, err = f.Read(p)
	}
	if err != nil && err != io.EOF {
		err = s.opError("read", "read", err)
	}
	return n, err
}

func (s *socket) Write(p []byte) (int, error) {
	f, err := s.file()
	defer s.done()
	n := 0
	if err == nil {
		n, err = f.Write(p)
	}
	if err != nil {
		err = s.opError("write", "write", err)
	}
	return n, err
}

// writeNothing is a Write of nothing, asked of the kernel as net's is, without bringing a retired
// File back: a retired socket's write deadline is the connection's (passed says whether it has
// passed), which its File would have looked at first.
func (s *socket) writeNothing(passed func() bool) error {
	err := s.withFile(func(f *os.File) error {
		_, err := f.Write(nil)
		return err
	}, func(fd int) error {
		if passed() {
			return os.ErrDeadlineExceeded
		}
		_, err := unix.Write(fd, nil)
		return err
	})
	if err != nil {
		return s.opError("write", "write", err)
	}
	return nil
}

func (s *socket) Close() error {
	if err := s.closeFile(); err != nil {
		return s.opError("close", "", err) // net's is the errno bare
	}
	return nil
}

func (s *socket) LocalAddr() net.Addr  { return s.laddr }
func (s *socket) RemoteAddr() net.Addr { return s.raddr }

// The deadlines of a retired File are the connection's, which it keeps before it sets them
// here, if it does (Conn.SetReadDeadline, deadline_file.go): a revived File takes them.
func (s *socket) SetDeadline(t time.Time) error {
	return s.setDeadline(func(f *os.File) error { return f.SetDeadline(t) })
}

func (s *socket) SetReadDeadline(t time.Time) error {
	return s.setDeadline(func(f *os.File) error { return f.SetReadDeadline(t) })
}

func (s *socket) SetWriteDeadline(t time.Time) error {
	return s.setDeadline(func(f *os.File) error { return f.SetWriteDeadline(t) })
}

func (s *socket) setDeadline(set func(*os.File) error) error {
	return s.setError(s.withFile(set, func(int) error { return nil }))
}

// SyscallConn returns the socket's raw connection (rawSocket), which pins the socket's File at
// its first call.
func (s *socket) SyscallConn() (syscall.RawConn, error) { return rawSocket{s}, nil }

// rawError is an error of the File's raw connection as net's raw connection reports it for op
// ("raw-control", "raw-read", "raw-write").
func (s *socket) rawError(op string, err error) error {
	oe := &net.OpError{Op: op, Net: *s.network, Source: s.laddr, Addr: s.raddr, Err: netError("", err)}
	if op == "raw-control" {
		oe.Source, oe.Addr = nil, s.laddr
	}
	return oe
}

func (s *socket) CloseRead() error  { return s.shutdown(unix.SHUT_RD) }
func (s *socket) CloseWrite() error { return s.shutdown(unix.SHUT_WR) }

func (s *socket) shutdown(how int) error {
	return s.control("close", func(fd int) error {
		return os.NewSyscallError("shutdown", unix.Shutdown(fd, how))
	})
}

func (s *socket) SetReadBuffer(bytes int) error {
	return s.control("set", func(fd int) error { return fdbridge.SetReadBuffer(fd, bytes) })
}

func (s *socket) SetWriteBuffer(bytes int) error {
	return s.control("set", func(fd int) error { return fdbridge.SetWriteBuffer(fd, bytes) })
}

func (s *socket) SetNoDelay(noDelay bool) error {
	return s.control("set", func(fd int) error { return fdbridge.SetNoDelay(fd, noDelay) })
}

func (s *socket) SetKeepAlive(on bool) error {
	return s.control("set", func(fd int) error { return fdbridge.SetKeepAlive(fd, on, 0) })
}

// SetKeepAlivePeriod sets the idle time before the first probe, rounded up to whole seconds;
// zero is net's default (15 s), a negative period changes nothing, as net's.
func (s *socket) SetKeepAlivePeriod(d time.Duration) error {
	if d < 0 {
		return nil
	}
	if d == 0 {
		d = keepAliveSecs * time.Second
	}
	secs := ceilSeconds(d)
	return s.control("set", func(fd int) error { return fdbridge.SetInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs) })
}

// SetKeepAliveConfig is net's: keep-alive on or off, then the idle time, interval and count
// each, zero for net's default, negative to leave it.
func (s *socket) SetKeepAliveConfig(config net.KeepAliveConfig) error {
	return s.control("set", func(fd int) error {
		if err := fdbridge.SetKeepAlive(fd, config.Enable, 0); err != nil {
			return err
		}
		for _, o := range []struct{ opt, v, byDefault int }{
			{unix.TCP_KEEPIDLE, ceilSeconds(config.Idle), keepAliveSecs},
			{unix.TCP_KEEPINTVL, ceilSeconds(config.Interval), keepAliveSecs},
			{unix.TCP_KEEPCNT, config.Count, keepAliveProbes},
		} {
			if o.v < 0 {
				continue
			}
			if o.v == 0 {
				o.v = o.byDefault
			}
			if err := fdbridge.SetInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// ceilSeconds is d in whole seconds, rounded up; a negative d stays negative.
func ceilSeconds(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((d + time.Second - 1) / time.Second)
}

// MultipathTCP reports whether the connection is an MPTCP one that has not fallen back to TCP,
// as net's: its protocol is MPTCP, and the kernel has MPTCP's information about it.
func (s *socket) MultipathTCP() (bool, error) {
	var mptcp bool
	s.control("get", func(fd int) error {
		proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
		if err != nil || proto != unix.IPPROTO_MPTCP {
			return nil
		}
		_, err = unix.GetsockoptInt(fd, unix.SOL_MPTCP, mptcpInfo)
		mptcp = err != unix.EOPNOTSUPP && err != unix.ENOPROTOOPT
		return nil
	})
	return mptcp, nil
}

// mptcpInfo is MPTCP_INFO (linux/mptcp.h), which x/sys/unix does not name.
const mptcpInfo = 1

// File returns a duplicate of the descriptor, named as net names its own.
func (s *socket) File() (*os.File, error) {
	nfd, err := s.dupFd("file")
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), *s.network+":"+s.laddr.String()+"->"+s.raddr.String()), nil
}

// dupFd returns a close-on-exec duplicate of the descriptor; an error is op's *net.OpError.
func (s *socket) dupFd(op string) (int, error) {
	nfd := -1
	err := s.control(op, func(fd int) (err error) { nfd, err = fdbridge.DupFd(fd); return err })
	return nfd, err
}

func (s *socket) SetLinger(sec int) error {
	return s.control("set", func(fd int) error { return fdbridge.SetLinger(fd, sec) })
}

// control runs fn on the descriptor: the File's, or a retired socket's plain one (under the
// lock that keeps it, so fn must not call back into the connection); an error is op's
// *net.OpError.
func (s *socket) control(op string, fn func(fd int) error) error {
	err := s.withFile(func(f *os.File) error {
		return rawFileCall(f, func(raw syscall.RawConn) error { return fdbridge.Control(raw, fn) })
	}, fn)
	if err != nil {
		return s.opError(op, "", err)
	}
	return nil
}

// setError is a deadline's error as net's: it names the local address alone.
func (s *socket) setError(err error) error {
	if err != nil {
		return &net.OpError{Op: "set", Net: *s.network, Addr: s.laddr, Err: netError("", err)}
	}
	return nil
}

// opError is err, from the File or from a system call named call, as net reports it for op.
func (s *socket) opError(op, call string, err error) error {
	return &net.OpError{Op: op, Net: *s.network, Source: s.laddr, Addr: s.raddr, Err: netError(call, err)}
}

// netError is err, from a File, its raw connection or a system call named call, as net names
// it inside its *net.OpError: net.ErrClosed, os.ErrDeadlineExceeded, or an *os.SyscallError.
func netError(call string, err error) error {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	switch err {
	case nil, os.ErrDeadlineExceeded:
		return err
	case os.ErrClosed:
		return net.ErrClosed
	}
	if errno, ok := err.(syscall.Errno); ok {
		if call != "" {
			return os.NewSyscallError(call, errno)
		}
		return err
	}
	if err == fileClosing() {
		return net.ErrClosed
	}
	return err
}

// fileClosing is the error a closed File's raw connection returns (internal/poll's, which os
// does not name); findFileClosing has found it before the first socket exists.
func fileClosing() error {
	if p := closedFileError.Load(); p != nil {
		return *p
	}
	return os.ErrClosed
}

var closedFileError atomic.Pointer[error]

// findFileClosing finds fileClosing's error from a File closed for the purpose, once; an
// error when it cannot (no descriptor free), and the acceptor that needs it fails.
func findFileClosing() error {
	if closedFileError.Load() != nil {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	w.Close()
	raw, err := r.SyscallConn()
	r.Close()
	if err != nil {
		return err
	}
	closing := raw.Control(func(uintptr) {})
	closedFileError.Store(&closing)
	return nil
}
