package listener

import (
	"os"
	"syscall"
)

// rawSocket is a socket's syscall.RawConn. Programs keep the descriptor a call gives them (to
// set an option later, to watch it themselves): RawConn promises it only for the call, but
// net's stays the connection's until Close, and a kept number that the socket's retiring had
// closed would name whatever file took it next. So the first call pins the socket's File: it
// is brought back if retired and never retired again, and its descriptor keeps its number. A
// raw connection handed out and never used keeps nothing in the netpoller.
type rawSocket struct{ s *socket }

func (r rawSocket) Control(fn func(fd uintptr)) error {
	return r.onFile(func(raw syscall.RawConn) error { return raw.Control(fn) })
}

func (r rawSocket) Read(fn func(fd uintptr) bool) error {
	return r.onFile(func(raw syscall.RawConn) error { return raw.Read(fn) })
}

func (r rawSocket) Write(fn func(fd uintptr) bool) error {
	return r.onFile(func(raw syscall.RawConn) error { return raw.Write(fn) })
}

// onFile pins the socket's File and makes call with its raw connection, held until the call
// returns; fn may call back into the connection, as with net's.
func (r rawSocket) onFile(call func(syscall.RawConn) error) error {
	r.s.side().pinned.Store(true)
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
