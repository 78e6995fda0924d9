package listener

import (
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A socket's ReadFrom moves bytes from a file or another socket to it inside the kernel, as net's
// TCPConn does; net/http serves files so, and proxies copy connections so.

// ReadFrom moves the bytes of one of net's stream connections with splice(2), and a file's with
// sendfile(2), (or a limited stretch of either), as net's TCPConn does: they never enter the
// process. Any other reader is copied through a pooled buffer.
func (s *socket) ReadFrom(r io.Reader) (int64, error) {
	n, err, handled := s.spliceFrom(r)
	if !handled {
		n, err, handled = s.sendFile(r)
	}
	if !handled {
		n, err = copyThrough(writerOnly{s}, r)
	}
	if err != nil {
		err = s.opError("readfrom", "", err) // net's wraps every error, a Write's too
	}
	return n, err
}

// sendFile is net's sendfile for r when r is a descriptor's holder (or limits one): handled is
// false when the kernel cannot send from it (a socket, a pipe) before a byte went, and the
// caller copies instead.
func (s *socket) sendFile(r io.Reader) (written int64, err error, handled bool) {
	remain := int64(-1) // to the end
	lr, limited := r.(*io.LimitedReader)
	if limited {
		if remain, r = lr.N, lr.R; remain <= 0 {
			return 0, nil, true
		}
	}
	src, ok := r.(syscall.Conn)
	if !ok {
		return 0, nil, false
	}
	srcRaw, err := src.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	dstRaw, err := s.f.SyscallConn()
	if err != nil {
		return 0, err, true
	}
	var serr error
	called := false
	rerr := srcRaw.Read(func(sfd uintptr) bool {
		called = true
		werr := dstRaw.Write(func(dfd uintptr) bool {
			for remain != 0 {
				chunk := 1<<31 - 1
				if remain > 0 {
					chunk = int(min(remain, int64(chunk)))
				}
				n, err := unix.Sendfile(int(dfd), int(sfd), nil, chunk)
				if n > 0 {
					written += int64(n)
					if remain > 0 {
						remain -= int64(n)
					}
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait until the socket takes more
				case err == unix.EINTR:
				case err != nil:
					serr = err
					return true
				case n == 0:
					return true // the end of the file
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
		return true
	})
	if !called {
		return 0, nil, false // the source is closed: the copy says so
	}
	if lr != nil {
		lr.N -= written
	}
	switch {
	case serr == unix.EINVAL || serr == unix.ENOSYS || serr == unix.EOPNOTSUPP:
		return written, os.NewSyscallError("sendfile", serr), written > 0
	case serr != nil:
		if errno, isErrno := serr.(syscall.Errno); isErrno {
			serr = os.NewSyscallError("sendfile", errno)
		}
		return written, serr, true
	}
	return written, rerr, true
}

// spliceFrom is net's splice for r when r is one of net's stream connections (or limits one):
// its bytes go through a pipe of the kernel's to the socket. handled is false when the kernel
// cannot splice from it before a byte went, and the caller copies instead.
func (s *socket) spliceFrom(r io.Reader) (written int64, err error, handled bool) {
	remain := int64(1<<63 - 1)
	lr, limited := r.(*io.LimitedReader)
	if limited {
		if remain, r = lr.N, lr.R; remain <= 0 {
			return 0, nil, true
		}
	}
	var src syscall.Conn
	switch c := r.(type) {
	case *net.TCPConn:
		src = c
	case *net.UnixConn:
		if c.LocalAddr().Network() != "unix" {
			return 0, nil, false // a datagram socket
		}
		src = c
	default:
		return 0, nil, false
	}
	srcRaw, err := src.SyscallConn()
	if err != nil {
		return 0, nil, false
	}
	dstRaw, err := s.f.SyscallConn()
	if err != nil {
		return 0, err, true
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return 0, nil, false
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, spliceChunk) // a smaller pipe only takes longer
	for remain > 0 {
		var inPipe int
		var serr error
		rerr := srcRaw.Read(func(sfd uintptr) bool {
			inPipe, serr = spliceOnce(p[1], int(sfd), int(min(remain, spliceChunk)))
			return serr != unix.EAGAIN
		})
		if rerr != nil {
			if oe, ok := rerr.(*net.OpError); ok {
				rerr = oe.Err // the source's deadline or close, which net's splice reports as is
			}
			err = rerr
			break
		}
		if serr != nil {
			if serr == unix.EINVAL && !handled {
				return 0, nil, false // the kernel cannot splice from this socket
			}
			err = os.NewSyscallError("splice", serr)
			break
		}
		handled = true
		if inPipe == 0 {
			break // the end of the stream
		}
		left := inPipe
		werr := dstRaw.Write(func(dfd uintptr) bool {
			for left > 0 {
				n, err := spliceOnce(int(dfd), p[0], left)
				if err == unix.EAGAIN {
					return false
				}
				if err != nil {
					serr = err
					return true
				}
				left -= n
			}
			return true
		})
		written += int64(inPipe - left)
		remain -= int64(inPipe - left)
		if werr != nil {
			err = werr
			break
		}
		if serr != nil {
			err = os.NewSyscallError("splice", serr)
			break
		}
	}
	if lr != nil {
		lr.N -= written
	}
	return written, err, true
}

// spliceChunk is the most one splice moves, and the pipe's size.
const spliceChunk = 1 << 20

// spliceOnce moves up to n bytes from in to out, one of which is a pipe, without waiting.
func spliceOnce(out, in, n int) (int, error) {
	for {
		m, err := unix.Splice(in, nil, out, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err != unix.EINTR {
			return int(m), err
		}
	}
}
