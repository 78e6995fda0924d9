package poller

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// register calls io_uring_register(2), retrying when a signal interrupts it.
func register(fd int, op uint32, arg unsafe.Pointer, nrArgs uint32) (int, error) {
	for {
		r1, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(nrArgs), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(r1), nil
	}
}

// escapeSink receives nothing at run time; storing into it on a path the compiler cannot rule
// out makes the stored pointer escape to the heap.
var escapeSink struct {
	never bool
	p     unsafe.Pointer
}

// toHeap forces the object p points into onto the heap. Prep functions hand the kernel
// addresses as integers, which escape analysis cannot see; without this, a caller's stack
// variable could be moved by stack growth between prep and submission. Heap objects never move.
func toHeap(p unsafe.Pointer) {
	if escapeSink.never {
		escapeSink.p = p
	}
}

// addrOf returns the address of the first byte of b as the kernel wants it, keeping b's array
// on the heap; an empty slice has address 0.
func addrOf(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	toHeap(p)
	return uint64(uintptr(p))
}

// ptrAddr returns p as the kernel wants it, keeping its object on the heap.
func ptrAddr(p unsafe.Pointer) uint64 {
	if p == nil {
		return 0
	}
	toHeap(p)
	return uint64(uintptr(p))
}

// addrOfInt32s is addrOf for a slice of descriptors (or slots).
func addrOfInt32s(v []int32) uint64 {
	if len(v) == 0 {
		return 0
	}
	return ptrAddr(unsafe.Pointer(unsafe.SliceData(v)))
}
