package fdbridge

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Control runs fn with rc's descriptor, which stays valid while fn runs (RawConn.Control), and
// returns Control's error, else fn's.
func Control(rc syscall.RawConn, fn func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// ReusePort sets SO_REUSEPORT on a socket before it binds; its signature is
// net.ListenConfig.Control's, which is where it is meant to go.
func ReusePort(_, _ string, rc syscall.RawConn) error {
	return Control(rc, func(fd int) error { return setInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
}

// SetInt sets an integer socket option on fd; a failure is an *os.SyscallError named
// "setsockopt".
func SetInt(fd, level, opt, v int) error { return setInt(fd, level, opt, v) }

// Listen listens again on the listening socket fd with another backlog, which Linux allows;
// a failure is an *os.SyscallError named "listen".
func Listen(fd, backlog int) error { return os.NewSyscallError("listen", unix.Listen(fd, backlog)) }
