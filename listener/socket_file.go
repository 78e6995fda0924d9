package listener

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/fdbridge"
)

// A socket's File and Go's netpoller.
//
// A File registers its descriptor in the netpoller (epoll) and stays registered while it is
// open. While the ring serves the connection, every segment that arrives still makes an event
// there, which the netpoller harvests and drops: for each message, work for the kernel and for
// the thread that polls, which competes with the goroutines the ring wakes. So once the reads
// have moved to the ring, the socket retires its File: the descriptor is kept as a plain
// duplicate and the File closed, which takes it out of the netpoller. The first use that needs
// the File again (a Read or Write on the poller path, ReadFrom) makes a new one of the plain
// descriptor, registered anew, with the deadlines the connection keeps (revive).
//
// Every use of the File counts itself in users while it holds it. retire closes the File only
// with no user, and checks again after taking it away: a use that started meanwhile either
// holds the File (and retire gives it back) or finds none and revives it, under the lock that
// retire holds until the File is closed. A program that uses the socket's raw connection
// (rawSocket) may keep its descriptor: the socket never retires its File from then on
// (pinned).
//
// The state for this (fileSide) is made by the first retire or raw call: a connection the
// poller alone serves pays for the count alone.
type fileSide struct {
	mu        sync.Mutex
	plain     *bareFd                        // the descriptor while the File is retired
	pinned    atomic.Bool                    // a raw call was made: never retired again
	deadlines func() (read, write time.Time) // the connection's, for a revived File
}

// bareFd is a descriptor no File holds, -1 for none. It is a record of its own so that a
// cleanup can close it when a program drops a connection without closing it, as the File's
// finalizer would have (the cleanup must not hold the fileSide it belongs to).
type bareFd struct{ n atomic.Int64 }

func (b *bareFd) get() int  { return int(b.n.Load()) }
func (b *bareFd) set(n int) { b.n.Store(int64(n)) }

func closeBareFd(b *bareFd) {
	if n := b.get(); n >= 0 {
		unix.Close(n)
	}
}

// socketClosed, in socket.users, marks a socket whose Close has begun: no retire after it.
const socketClosed = 1 << 30

// side returns the socket's fileSide, making it the first time.
func (s *socket) side() *fileSide {
	if sd := s.fside.Load(); sd != nil {
		return sd
	}
	sd := &fileSide{plain: &bareFd{}}
	sd.plain.set(-1)
	if !s.fside.CompareAndSwap(nil, sd) {
		return s.fside.Load()
	}
	runtime.AddCleanup(sd, closeBareFd, sd.plain)
	return sd
}

// file returns the socket's File for a use that holds it until done, reviving a retired one;
// os.ErrClosed when the socket was closed while retired. done must follow either way.
func (s *socket) file() (*os.File, error) {
	s.users.Add(1)
	if f := s.f.Load(); f != nil {
		return f, nil
	}
	return s.revive()
}

// done ends a use that file or withFile began.
func (s *socket) done() { s.users.Add(-1) }

// revive makes a File of the retired socket's plain descriptor, registered in the netpoller,
// with the connection's deadlines.
func (s *socket) revive() (*os.File, error) {
	sd := s.side()
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if f := s.f.Load(); f != nil {
		return f, nil // revived, or given back by a retire that found a user
	}
	plain := sd.plain.get()
	if plain < 0 {
		return nil, os.ErrClosed
	}
	// The File takes a duplicate, so that the descriptor outlives a File the netpoller refuses
	// (at the system's limit on watched descriptors): os treats such a File as blocking, out of
	// every deadline's reach. The socket then stays retired, its poller reads and writes fail as
	// net's Accept fails for such a connection, and the ring can still serve it. At the limit on
	// open descriptors, where no duplicate can be had, the File takes the descriptor itself, and
	// is kept even if refused: the connection's only hold on its descriptor (its poller reads
	// and writes then fail with EAGAIN until the ring serves it again).
	fd, spare := plain, true
	if nfd, err := fdbridge.DupFd(plain); err == nil {
		fd = nfd
	} else {
		spare = false
	}
	f := newPolledFile(fd)
	if err := refusal(f); err != nil && spare {
		f.Close()
		if errno, ok := err.(syscall.Errno); ok {
			// Named, so that the Read or Write that failed does not report it as its own.
			err = os.NewSyscallError("epoll_ctl", errno)
		}
		return nil, err
	}
	if spare {
		unix.Close(plain)
	}
	sd.plain.set(-1)
	if rd, wd := sd.deadlines(); !rd.IsZero() || !wd.IsZero() {
		f.SetReadDeadline(rd)
		f.SetWriteDeadline(wd)
	}
	s.f.Store(f)
	return f, nil
}

// newPolledFile makes the File of an accepted or revived socket; a test makes one the
// netpoller refused.
var newPolledFile = func(fd int) *os.File { return os.NewFile(uintptr(fd), "") }

// refusal is nil when the netpoller took f, and otherwise why not: the errno epoll_ctl gives
// f's descriptor (ENOSPC at the system's limit on watched descriptors), which net reports for
// such a connection. os does not tell it, so a probe epoll instance is asked; errNotPolled
// stands in when the probe cannot say (it has no descriptor, or the limit has eased).
func refusal(f *os.File) error {
	if f.SetDeadline(time.Time{}) != os.ErrNoDeadline {
		return nil
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return errNotPolled
	}
	defer unix.Close(ep)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	err = rawFileCall(f, func(raw syscall.RawConn) error {
		return fdbridge.Control(raw, func(fd int) error { return unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev) })
	})
	if errno, ok := err.(syscall.Errno); ok {
		return errno
	}
	return errNotPolled
}

// withFile runs onFile with the socket's File, or onPlain with the plain descriptor while the
// File is retired; os.ErrClosed when the socket was closed while retired. It revives nothing:
// for what needs no netpoller (options, deadlines).
func (s *socket) withFile(onFile func(*os.File) error, onPlain func(fd int) error) error {
	s.users.Add(1)
	defer s.done()
	if f := s.f.Load(); f != nil {
		return onFile(f)
	}
	sd := s.side()
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if f := s.f.Load(); f != nil {
		return onFile(f)
	}
	plain := sd.plain.get()
	if plain < 0 {
		return os.ErrClosed
	}
	return onPlain(plain)
}

// retire takes the File out of the netpoller, if nothing uses it: the caller knows the ring
// serves the reads. deadlines are the connection's, which a revived File takes.
func (s *socket) retire(deadlines func() (read, write time.Time)) {
	sd := s.side()
	sd.mu.Lock()
	defer sd.mu.Unlock()
	f := s.f.Load()
	if f == nil || sd.pinned.Load() || s.users.Load() != 0 {
		return
	}
	raw, err := f.SyscallConn()
	plain := -1
	if err == nil {
		err = fdbridge.Control(raw, func(fd int) (err error) { plain, err = fdbridge.DupFd(fd); return err })
	}
	if err != nil {
		return // no descriptor free: the File stays
	}
	s.f.Store(nil)
	if s.users.Load() != 0 { // a use began before the File was taken away, and may hold it
		s.f.Store(f)
		unix.Close(plain)
		return
	}
	sd.plain.set(plain)
	sd.deadlines = deadlines
	f.Close()
}

// closeFile closes the File, or the plain descriptor of a retired one.
func (s *socket) closeFile() error {
	s.users.Or(socketClosed)
	if f := s.f.Load(); f != nil {
		return f.Close()
	}
	sd := s.side()
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if f := s.f.Load(); f != nil {
		return f.Close()
	}
	plain := sd.plain.get()
	if plain < 0 {
		return os.ErrClosed
	}
	sd.plain.set(-1)
	return unix.Close(plain)
}
