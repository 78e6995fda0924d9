package listener

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysFd is a connection's regular descriptor, kept beside the loop's direct descriptor so that
// a caller's goroutine can make a system call itself when the kernel would not block (a send
// with room in the socket buffer), without a trip through the loop.
//
// Closing it must never race a call in progress: the descriptor number could be reused by the
// time the call reaches the kernel, and the call would act on another file. So, as
// internal/poll's fdMutex does, every call holds a reference, and the descriptor is closed by
// whoever lets go last once closing has begun: the closer if no call is in progress, else the
// last call. A reference costs one compare-and-swap and one add, uncontended but for the rare
// moment a reader, a writer and the closer meet.
type sysFd struct {
	fd  int          // -1: none (the connection was dialed from a ring)
	ref atomic.Int32 // calls in progress, and fdClosing once closing has begun
}

const fdClosing = 1 << 30

func noSysFd() sysFd { return sysFd{fd: -1} }

// acquire takes a reference for one call; false once closing has begun (or there is no
// descriptor), and then the caller goes through the loop.
func (s *sysFd) acquire() bool {
	if s.fd < 0 {
		return false
	}
	for {
		v := s.ref.Load()
		if v&fdClosing != 0 {
			return false
		}
		if s.ref.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release lets go of a reference, closing the descriptor if closing began meanwhile and this
// was the last.
func (s *sysFd) release() {
	if s.ref.Add(-1) == fdClosing {
		unix.Close(s.fd)
	}
}

// close begins closing; the descriptor is closed now, or by the last call in progress. Only
// the first call does anything. The socket lives on while the loop's table holds it, so
// closing this descriptor before the loop's close protocol ends sends nothing to the peer.
func (s *sysFd) close() {
	if s.fd < 0 {
		return
	}
	for {
		v := s.ref.Load()
		if v&fdClosing != 0 {
			return
		}
		if s.ref.CompareAndSwap(v, v|fdClosing) {
			if v == 0 {
				unix.Close(s.fd)
			}
			return
		}
	}
}

// sendNow makes one nonblocking send of b on fd and returns how much of it the kernel took;
// unix.EAGAIN when the socket buffer is full.
func sendNow(fd int, b []byte) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
		default:
			return 0, errno
		}
	}
}
