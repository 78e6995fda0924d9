package poller

import (
	"fmt"
	"runtime"
	"unsafe"
)

// The fixed-file table: direct descriptors are slots in it. They never enter the process's fd
// table, but the kernel caps the table's size at RLIMIT_NOFILE.

// RegisterSparseFiles creates an empty fixed-file table of n slots.
func (r *Ring) RegisterSparseFiles(n uint32) error {
	if r.closed {
		return ErrClosed
	}
	reg := rsrcRegister{nr: n, flags: rsrcRegisterSparse}
	if _, err := register(r.fd, registerFiles2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg))); err != nil {
		return fmt.Errorf("poller: register sparse file table of %d: %w", n, err)
	}
	return nil
}

// SetFileAllocRange limits the slots the kernel picks from for AllocSlot to [off, off+n), so
// that slots outside it can be placed by hand (for example listeners).
func (r *Ring) SetFileAllocRange(off, n uint32) error {
	if r.closed {
		return ErrClosed
	}
	rng := fileIndexRange{off: off, len: n}
	if _, err := register(r.fd, registerFileAllocRange, unsafe.Pointer(&rng), 0); err != nil {
		return fmt.Errorf("poller: set file alloc range [%d, %d): %w", off, off+n, err)
	}
	return nil
}

// UpdateFiles places regular descriptors into the slots starting at slot (a descriptor of -1
// empties its slot). The table takes its own reference: the caller may close its fds after.
// It returns how many slots were updated.
func (r *Ring) UpdateFiles(slot uint32, fds []int32) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if len(fds) == 0 {
		return 0, nil
	}
	upd := rsrcUpdate{offset: slot, data: uint64(uintptr(unsafe.Pointer(&fds[0])))}
	n, err := register(r.fd, registerFilesUpdate, unsafe.Pointer(&upd), uint32(len(fds)))
	runtime.KeepAlive(fds) // the kernel read it through an integer in upd
	if err != nil {
		return 0, fmt.Errorf("poller: update fixed files [%d, %d): %w", slot, int(slot)+len(fds), err)
	}
	return n, nil
}

// UnregisterFiles drops the whole fixed-file table, closing every direct descriptor in it.
func (r *Ring) UnregisterFiles() error {
	if r.closed {
		return ErrClosed
	}
	if _, err := register(r.fd, unregisterFiles, nil, 0); err != nil {
		return fmt.Errorf("poller: unregister fixed files: %w", err)
	}
	return nil
}
