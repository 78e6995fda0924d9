package poller

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendMsgRingSync posts a completion (userData, res, cqeFlags) to the ring whose descriptor is
// targetRingFd, from any goroutine and without a ring of its own
// (IORING_REGISTER_SEND_MSG_RING, Linux 6.13). A target waiting for completions wakes up. It
// does not allocate. The target must be enabled; it must not have been closed (a recycled
// descriptor number would send elsewhere). An error is an *os.SyscallError named
// "io_uring_register".
func SendMsgRingSync(targetRingFd int, userData uint64, res int32, cqeFlags uint32) error {
	var sqe SQE
	sqe.PrepMsgRingData(targetRingFd, userData, res, cqeFlags)
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, ^uintptr(0), registerSendMsgRing,
			uintptr(unsafe.Pointer(&sqe)), 1, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return os.NewSyscallError("io_uring_register", errno)
	}
}
