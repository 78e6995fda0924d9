package listener

import (
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A socket's ReadFrom moves bytes from a file or another socket to it inside the kernel, as net's
// TCPConn does; net/http serves files so, and proxies copy connections so.

// ReadFrom moves the bytes of one of net's stream connections with splice(2), and a file's with
// sendfile(2), (or a limited stretch of either), as net's TCPConn does: they never enter the
// process. Any other reader is copied through a pooled buffer.
func (s *socket) ReadFrom(r io.Reader) (int64, error) {
	f, err := s.file() // held throughout the kernel's copy
	defer s.done()
	if err != nil { // before anything is read from r, which the socket could not take
		return 0, s.opError("readfrom", "", err)
	}
	n, err, handled := s.spliceFrom(f, r)
	if !handled {
		n, err, handled = s.sendFile(f, r)
	}
	if !handled {
		n, err = copyThrough(writerOnly{s}, r)
	}
	if err != nil {
		// net's wraps every error as it is: the reader's, a Write's *net.OpError, the socket's
		// (which sendFile and spliceFrom name as net does).
		err = &net.OpError{Op: "readfrom", Net: *s.network, Source: s.laddr, Addr: s.raddr, Err: err}
	}
	return n, err
}

// kernelCopy is a copy inside the kernel from a reader's descriptor to the socket's.
type kernelCopy struct {
	lr       *io.LimitedReader // the limit the reader came in; nil for none
	remain   int64             // what is still to go; -1 for everything to the source's end
	src, dst syscall.RawConn
	written  int64
}

// startKernelCopy finds the descriptor of r, or of what r limits if it is an *io.LimitedReader,
// when source says the kernel copies from such a reader, to f, the socket's File, which the
// caller holds (socket.file); ok is false when not, and the caller copies another way.
func (s *socket) startKernelCopy(f *os.File, r io.Reader, source func(io.Reader) (syscall.Conn, bool)) (kc kernelCopy, ok bool) {
	kc.remain = -1
	if lr, limited := r.(*io.LimitedReader); limited {
		kc.lr, kc.remain, r = lr, max(lr.N, 0), lr.R
	}
	src, ok := source(r)
	if !ok {
		return kc, false
	}
	var err error
	if kc.src, err = src.SyscallConn(); err != nil {
		return kc, false
	}
	if kc.dst, err = f.SyscallConn(); err != nil {
		return kc, false
	}
	return kc, true
}

// chunk is the most the next system call may move, at most most.
func (kc *kernelCopy) chunk(most int64) int {
	if kc.remain >= 0 {
		return int(min(kc.remain, most))
	}
	return int(most)
}

// moved counts n bytes that reached the socket.
func (kc *kernelCopy) moved(n int) {
	kc.written += int64(n)
	if kc.remain > 0 {
		kc.remain -= int64(n)
	}
	if kc.lr != nil {
		kc.lr.N -= int64(n)
	}
}

// sendFile is net's sendfile for r when r is a descriptor's holder (or limits one): handled is
// false when the kernel cannot send from it (a socket, a pipe) before a byte went, and the
// caller copies instead.
func (s *socket) sendFile(f *os.File, r io.Reader) (written int64, err error, handled bool) {
	kc, ok := s.startKernelCopy(f, r, func(r io.Reader) (syscall.Conn, bool) {
		sc, ok := r.(syscall.Conn)
		return sc, ok
	})
	if !ok {
		return 0, nil, false
	}
	var serr error
	called := false
	rerr := kc.src.Read(func(sfd uintptr) bool {
		called = true
		werr := kc.dst.Write(func(dfd uintptr) bool {
			for kc.remain != 0 {
				n, err := unix.Sendfile(int(dfd), int(sfd), nil, kc.chunk(1<<31-1))
				if n > 0 {
					kc.moved(n)
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
			serr = netError("", werr) // the socket's deadline or close
		}
		return true
	})
	if !called {
		return 0, nil, false // the source is closed: the copy says so
	}
	switch {
	case serr == unix.EINVAL || serr == unix.ENOSYS || serr == unix.EOPNOTSUPP:
		return kc.written, os.NewSyscallError("sendfile", serr), kc.written > 0
	case serr != nil:
		if errno, isErrno := serr.(syscall.Errno); isErrno {
			serr = os.NewSyscallError("sendfile", errno)
		}
		return kc.written, serr, true
	}
	return kc.written, rerr, true
}

// spliceFrom is net's splice for r when r is one of net's stream connections (or limits one):
// its bytes go through a pipe of the kernel's to the socket. handled is false when the kernel
// cannot splice from it before a byte went, and the caller copies instead.
func (s *socket) spliceFrom(f *os.File, r io.Reader) (written int64, err error, handled bool) {
	kc, ok := s.startKernelCopy(f, r, func(r io.Reader) (syscall.Conn, bool) {
		switch c := r.(type) {
		case *net.TCPConn:
			return c, true
		case *net.UnixConn:
			return c, c.LocalAddr().Network() == "unix" // not a datagram socket
		case syscall.Conn:
			return c, isTCPConnWithoutWriteTo(c)
		}
		return nil, false
	})
	if !ok {
		return 0, nil, false
	}
	pipe := getSplicePipe()
	if pipe == nil {
		return 0, nil, false
	}
	p := pipe.fds
	left := 0 // bytes in the pipe
	defer func() { putSplicePipe(pipe, left == 0) }()
	for kc.remain != 0 {
		var inPipe int
		var serr error
		rerr := kc.src.Read(func(sfd uintptr) bool {
			inPipe, serr = spliceOnce(p[1], int(sfd), kc.chunk(spliceChunk))
			return serr != unix.EAGAIN
		})
		if rerr != nil {
			if oe, ok := rerr.(*net.OpError); ok {
				rerr = oe.Err // the source's deadline or close, which net's splice reports as is
			}
			return kc.written, rerr, true
		}
		if serr != nil {
			if serr == unix.EINVAL && !handled {
				return 0, nil, false // the kernel cannot splice from this socket
			}
			return kc.written, os.NewSyscallError("splice", serr), true
		}
		handled = true
		if inPipe == 0 {
			break // the end of the stream
		}
		left = inPipe
		werr := kc.dst.Write(func(dfd uintptr) bool {
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
				kc.moved(n)
			}
			return true
		})
		if werr != nil {
			return kc.written, netError("", werr), true
		}
		if serr != nil {
			return kc.written, os.NewSyscallError("splice", serr), true
		}
	}
	return kc.written, nil, true
}

// isTCPConnWithoutWriteTo reports whether c is net's wrapper of a *net.TCPConn that
// io.Copy(conn, tcpConn) hands to ReadFrom (TCPConn.WriteTo, which cannot splice to us, copies
// through it), and that net's own ReadFrom splices from. By its name: should net rename it,
// such copies go through a buffer again, as correctly.
func isTCPConnWithoutWriteTo(c any) bool {
	t := reflect.TypeOf(c)
	return t.PkgPath() == "net" && t.Name() == "tcpConnWithoutWriteTo"
}

// spliceChunk is the most one splice moves, and the pipe's size.
const spliceChunk = 1 << 20

// splicePipe is a pipe that spliceFrom moves bytes through. Pipes are pooled, as net's are: a
// ReadFrom of a small response would otherwise make four system calls for its pipe alone. A
// pipe goes back to the pool only empty; the pool's pipes are closed when the collector takes
// them.
type splicePipe struct {
	fds     [2]int
	cleanup runtime.Cleanup
}

var splicePipes sync.Pool

// getSplicePipe returns an empty pipe of spliceChunk bytes, or nil when none can be made (no
// descriptor free).
func getSplicePipe() *splicePipe {
	if p, ok := splicePipes.Get().(*splicePipe); ok {
		return p
	}
	p := &splicePipe{}
	if unix.Pipe2(p.fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK) != nil {
		return nil
	}
	unix.FcntlInt(uintptr(p.fds[1]), unix.F_SETPIPE_SZ, spliceChunk) // a smaller pipe only takes longer
	p.cleanup = runtime.AddCleanup(p, closePipe, p.fds)
	return p
}

// putSplicePipe pools p if it is empty, and otherwise closes it at once.
func putSplicePipe(p *splicePipe, empty bool) {
	if empty {
		splicePipes.Put(p)
		return
	}
	p.cleanup.Stop()
	closePipe(p.fds)
}

func closePipe(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}

// spliceOnce moves up to n bytes from in to out, one of which is a pipe, without waiting.
func spliceOnce(out, in, n int) (int, error) {
	for {
		m, err := unix.Splice(in, nil, out, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if err != unix.EINTR {
			return int(m), err
		}
	}
}
