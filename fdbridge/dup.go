package fdbridge

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dup returns a close-on-exec duplicate of sc's descriptor (a standard library socket's, or
// anything with a raw connection), for a caller that keeps the socket beyond sc: a ring's
// table, or a connection's own regular descriptor. The caller closes it; sc stays the caller's.
func Dup(sc syscall.Conn) (int, error) {
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	err = Control(raw, func(f int) (err error) {
		fd, err = DupFd(f)
		return err
	})
	return fd, err
}

// DupFd returns a close-on-exec duplicate of the regular descriptor fd, which the caller closes.
// The duplicate is never 0, 1 or 2, even in a process that closed its standard streams: os
// treats a File of those as the standard streams (a write that fails with EPIPE on 1 or 2 raises
// SIGPIPE).
func DupFd(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1, os.NewSyscallError("fcntl", err)
	}
	return nfd, nil
}
