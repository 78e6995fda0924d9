package listener

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/fdbridge"
)

// rawSocket is a socket's syscall.RawConn. Each call holds the socket's File for its own length
// only, so a raw connection a program keeps (to read TCP_INFO now and then, say) does not keep
// a socket the ring serves in Go's netpoller:
//   - Read and Write wait in the netpoller, and bring a retired File back as a poller Read
//     would (it is retired again when the reads next move to the ring);
//   - Control needs no netpoller: on a retired socket, fn gets a duplicate of the descriptor,
//     which no Close can take away while fn runs (as net's reference count keeps its
//     descriptor), and fn may call back into the connection. At the limit on open descriptors,
//     where no duplicate can be had, the File comes back for the call.
type rawSocket struct{ s *socket }

func (r rawSocket) Control(fn func(fd uintptr)) error {
	s := r.s
	s.users.Add(1)
	defer s.done()
	if f := s.f.Load(); f != nil {
		return rawFileCall(f, func(raw syscall.RawConn) error { return raw.Control(fn) })
	}
	dup := -1
	err := s.onDescriptor(func(fd int) (err error) { dup, err = fdbridge.DupFd(fd); return err })
	switch {
	case err == nil:
		defer unix.Close(dup)
		fn(uintptr(dup))
		return nil
	case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
		return r.polled(func(raw syscall.RawConn) error { return raw.Control(fn) })
	}
	return err
}

func (r rawSocket) Read(fn func(fd uintptr) bool) error {
	return r.polled(func(raw syscall.RawConn) error { return raw.Read(fn) })
}

func (r rawSocket) Write(fn func(fd uintptr) bool) error {
	return r.polled(func(raw syscall.RawConn) error { return raw.Write(fn) })
}

// polled makes call with the raw connection of the socket's File, revived if retired, held
// until the call returns.
func (r rawSocket) polled(call func(syscall.RawConn) error) error {
	f, err := r.s.file()
	defer r.s.done()
	if err != nil {
		return err
	}
	return rawFileCall(f, call)
}

func rawFileCall(f *os.File, call func(syscall.RawConn) error) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return call(raw)
}
