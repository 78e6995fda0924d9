package fdbridge

import (
	"fmt"
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
		return -1, fmt.Errorf("fdbridge: dup: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(f uintptr) { fd, dupErr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("fdbridge: dup: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("fdbridge: dup: %w", os.NewSyscallError("fcntl", dupErr))
	}
	return fd, nil
}
