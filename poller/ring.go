package poller

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options choose how a ring is set up.
type Options struct {
	// Entries is the submission queue size; the kernel rounds it up to a power of two.
	Entries uint32
	// CQEntries, when non-zero, sizes the completion queue (SetupCQSize is implied); the
	// kernel's default is twice Entries. It must not be smaller than Entries.
	CQEntries uint32
	// Flags are the setup flags. A loop ring uses SetupSingleIssuer|SetupDeferTaskrun|
	// SetupRDisabled (then Enable from its locked thread); a plain ring shared under a lock
	// uses none of them.
	Flags SetupFlags
}

// LoopRingFlags are the setup flags of an event-loop ring owned by one locked thread:
// one issuer, task work run only when the owner waits, every SQE submitted even when one
// fails, and created disabled so that the owner thread enables it and becomes its issuer.
const LoopRingFlags = SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag | SetupSubmitAll | SetupRDisabled

// NewLoopRing sets up an event loop's ring on the calling thread, which must be locked to its
// goroutine (runtime.LockOSThread) and stays the ring's only owner: the ring is created with
// LoopRingFlags, enabled from this thread (making it the single issuer) and its fd registered
// with this thread. cqEntries 0 keeps the kernel's default of twice entries.
func NewLoopRing(entries, cqEntries uint32) (*Ring, error) {
	r, err := New(Options{Entries: entries, CQEntries: cqEntries, Flags: LoopRingFlags})
	if err != nil {
		return nil, err
	}
	if err := r.Enable(); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.RegisterRingFd(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// supportedSetupFlags are those whose queue layout this package maps (no 128-byte SQEs or
// 32-byte CQEs, no kernel-side polling, no user-provided ring memory).
const supportedSetupFlags = SetupCQSize | SetupClamp | SetupRDisabled | SetupSubmitAll | SetupCoopTaskrun |
	SetupTaskrunFlag | SetupSingleIssuer | SetupDeferTaskrun | SetupNoSQArray

// Ring is one io_uring instance. See the package documentation for who may call what.
type Ring struct {
	fd         int
	enterFd    uintptr // the ring fd, or its registered index with enterRegisteredRing
	enterFlags uint32
	ringIndex  int // registered ring index, -1 when not registered
	ownerTid   int // the thread the ring fd is registered with
	interrupts uint64
	submits    uint64 // io_uring_enter calls that submitted entries
	flags      SetupFlags
	features   uint32
	closed     bool
	handOff    bool // waits give up the thread's P as they begin (HandOffWhileWaiting)

	ringMem []byte // SQ and CQ rings (one mapping: FEAT_SINGLE_MMAP)
	sqeMem  []byte

	sqHead    *uint32
	sqTail    *uint32
	sqFlags   *uint32
	sqMask    uint32
	sqEntries uint32
	sqes      []SQE
	sqeTail   uint32 // next SQE to hand out; the kernel's tail is set to it at submit

	cqHead     *uint32
	cqTail     *uint32
	cqOverflow *uint32
	cqFlags    *uint32
	cqMask     uint32
	cqEntries  uint32
	cqes       []CQE

	// Storage for the wait timeout; it lives in the Ring so that a timed wait does not allocate.
	waitArg getEventsArg
	waitTs  unix.Timespec
}

// New sets up a ring. Errors that mean io_uring cannot be used here match ErrUnavailable.
func New(opts Options) (*Ring, error) {
	if opts.Entries == 0 {
		return nil, errors.New("poller: setup: Entries must be at least 1")
	}
	if unknown := opts.Flags &^ supportedSetupFlags; unknown != 0 {
		return nil, fmt.Errorf("poller: setup: flags %#x are not supported by this package", uint32(unknown))
	}
	var p ioParams
	p.flags = uint32(opts.Flags)
	if opts.CQEntries != 0 {
		p.flags |= uint32(SetupCQSize)
		p.cqEntries = opts.CQEntries
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(opts.Entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, setupError(errno)
	}
	r := &Ring{fd: int(fd), enterFd: fd, ringIndex: -1, flags: SetupFlags(p.flags), features: p.features}
	if err := r.mapQueues(&p); err != nil {
		unix.Close(r.fd)
		return nil, err
	}
	return r, nil
}

// mapQueues maps the SQ and CQ rings and the SQE array and points the Ring's fields into them.
func (r *Ring) mapQueues(p *ioParams) error {
	if p.features&featSingleMmap == 0 {
		return &UnavailableError{Op: "setup", Err: errors.New("kernel lacks IORING_FEAT_SINGLE_MMAP (5.4)")}
	}
	sqSize := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqSize := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*unsafe.Sizeof(CQE{})
	size := max(sqSize, cqSize)
	ringMem, err := unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("poller: mmap rings (%d bytes): %w", size, err)
	}
	sqeMem, err := unix.Mmap(r.fd, offSQEs, int(uintptr(p.sqEntries)*unsafe.Sizeof(SQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Munmap(ringMem)
		return fmt.Errorf("poller: mmap SQEs: %w", err)
	}
	r.ringMem, r.sqeMem = ringMem, sqeMem
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&ringMem[off])) }

	r.sqHead, r.sqTail = u32(p.sqOff.head), u32(p.sqOff.tail)
	r.sqFlags = u32(p.sqOff.flags)
	r.sqMask, r.sqEntries = *u32(p.sqOff.ringMask), *u32(p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&sqeMem[0])), r.sqEntries)
	if r.flags&SetupNoSQArray == 0 {
		// The indirection array is fixed as the identity, so the SQE at tail&mask is the one
		// the kernel reads, as with SetupNoSQArray.
		array := unsafe.Slice(u32(p.sqOff.array), r.sqEntries)
		for i := range array {
			array[i] = uint32(i)
		}
	}

	r.cqHead, r.cqTail, r.cqOverflow = u32(p.cqOff.head), u32(p.cqOff.tail), u32(p.cqOff.overflow)
	r.cqFlags = u32(p.cqOff.flags)
	r.cqMask, r.cqEntries = *u32(p.cqOff.ringMask), *u32(p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&ringMem[p.cqOff.cqes])), r.cqEntries)
	return nil
}

// Enable starts a ring set up with SetupRDisabled. Call it from the owning goroutine after
// runtime.LockOSThread: with SetupSingleIssuer, the enabling thread becomes the only one the
// kernel accepts submissions from.
func (r *Ring) Enable() error {
	if r.closed {
		return ErrClosed
	}
	if _, err := register(r.fd, registerEnableRings, nil, 0); err != nil {
		return fmt.Errorf("poller: enable ring: %w", err)
	}
	return nil
}

// RegisterRingFd registers the ring's descriptor with the calling thread so that each
// io_uring_enter skips the file-table lookup. The registration belongs to the thread: call it
// from the locked owner, and Close from the same thread.
func (r *Ring) RegisterRingFd() error {
	if r.closed {
		return ErrClosed
	}
	if r.ringIndex >= 0 {
		return nil
	}
	upd := rsrcUpdate{offset: fileIndexAlloc, data: uint64(r.fd)}
	if _, err := register(r.fd, registerRingFds, unsafe.Pointer(&upd), 1); err != nil {
		return fmt.Errorf("poller: register ring fd: %w", err)
	}
	r.ringIndex = int(upd.offset)
	r.ownerTid = unix.Gettid()
	r.enterFd = uintptr(upd.offset)
	r.enterFlags = enterRegisteredRing
	return nil
}

// Close unregisters the ring fd, unmaps the queues and closes the ring. The kernel cancels
// whatever is still in flight. Call it from the owner; a registered ring fd can only be
// unregistered from the thread that registered it, and otherwise stays referenced (so the
// ring stays alive) until that thread exits: its goroutine should then end without
// runtime.UnlockOSThread, so that Go destroys the thread rather than reuse it with a stale
// registration. Close is idempotent.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.ringIndex >= 0 {
		// The index names a slot of the calling thread's own table: from another thread it
		// would unregister whatever that thread has there.
		if tid := unix.Gettid(); tid != r.ownerTid {
			errs = append(errs, fmt.Errorf("poller: close from thread %d: the ring fd stays registered with thread %d (and the ring alive) until that thread exits", tid, r.ownerTid))
		} else {
			upd := rsrcUpdate{offset: uint32(r.ringIndex)}
			if _, err := register(r.fd, unregisterRingFds, unsafe.Pointer(&upd), 1); err != nil {
				errs = append(errs, fmt.Errorf("poller: unregister ring fd %d: %w", r.ringIndex, err))
			}
		}
		r.ringIndex = -1
	}
	r.sqes, r.cqes = nil, nil
	if err := unix.Munmap(r.sqeMem); err != nil {
		errs = append(errs, fmt.Errorf("poller: munmap SQEs: %w", err))
	}
	if err := unix.Munmap(r.ringMem); err != nil {
		errs = append(errs, fmt.Errorf("poller: munmap rings: %w", err))
	}
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, fmt.Errorf("poller: close ring fd %d: %w", r.fd, err))
	}
	return errors.Join(errs...)
}

// Fd is the ring's file descriptor: the target of MSG_RING and of SendMsgRingSync.
func (r *Ring) Fd() int { return r.fd }

// Flags reports the setup flags the ring was created with.
func (r *Ring) Flags() SetupFlags { return r.flags }

// SQEntries and CQEntries report the queue sizes the kernel chose.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries reports the completion queue size.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// Closed reports whether Close has been called.
func (r *Ring) Closed() bool { return r.closed }
