package poller

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufferRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING): a group of equal-sized
// buffers the kernel picks from when a receive with FlagBufferSelect completes, so that an
// idle connection holds no buffer. Both the ring and the buffers live in mmap'd memory that the
// garbage collector never sees or moves. It belongs to its ring's owner.
type BufferRing struct {
	ring      *Ring
	bgid      uint16
	entries   uint32
	mask      uint32
	bufSize   uint32
	ringMem   []byte    // the io_uring_buf_ring shared with the kernel
	bufs      []ringBuf // ringMem as entries
	tailWord  *uint32   // bufs[0].bid and the ring's tail, which overlays bufs[0].resv
	localTail uint16    // entries added but not yet published
	published uint16    // localTail at the last Publish
	short     uint32    // receives that found the ring empty since the last Publish
	provided  uint32    // buffers 0..provided-1 have been handed to the kernel; the rest never
	data      []byte    // entries × bufSize bytes of buffers
	closed    bool
}

// RegisterBufferRing creates buffer group bgid with entries buffers (a power of two, at most
// 32768) of bufSize bytes each, registers it and hands every buffer to the kernel.
func (r *Ring) RegisterBufferRing(bgid uint16, entries, bufSize uint32) (*BufferRing, error) {
	return r.RegisterGrowingBufferRing(bgid, entries, bufSize, entries)
}

// RegisterGrowingBufferRing is RegisterBufferRing handing the kernel only the first initial
// buffers; Publish hands it more, up to entries, after a batch that wanted more than half of
// those it has. The buffers' memory becomes resident only where the kernel first writes, and
// the kernel takes buffers in the order they were handed to it, cycling through all it has: a
// ring given every buffer at once makes each of them resident soon after start, however few
// receives are ever in use together.
//
// A batch is what is recycled between two Publish calls, and what it wanted is that plus the
// receives that found the ring empty (-ENOBUFS, a multishot one ends) and were reported with
// Short: they are re-armed after the next Publish, which grows the ring for them all at once.
func (r *Ring) RegisterGrowingBufferRing(bgid uint16, entries, bufSize, initial uint32) (*BufferRing, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if entries == 0 || entries > 1<<15 || bits.OnesCount32(entries) != 1 {
		return nil, fmt.Errorf("poller: register buffer ring %d: %d entries is not a power of two in 1..32768", bgid, entries)
	}
	if bufSize == 0 {
		return nil, fmt.Errorf("poller: register buffer ring %d: buffer size 0", bgid)
	}
	page := os.Getpagesize()
	ringBytes := (int(entries)*int(unsafe.Sizeof(ringBuf{})) + page - 1) / page * page
	ringMem, err := unix.Mmap(-1, 0, ringBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("poller: register buffer ring %d: mmap ring: %w", bgid, err)
	}
	data, err := unix.Mmap(-1, 0, int(entries)*int(bufSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Munmap(ringMem)
		return nil, fmt.Errorf("poller: register buffer ring %d: mmap %d buffers: %w", bgid, entries, err)
	}
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&ringMem[0]))), ringEntries: entries, bgid: bgid}
	if _, err := register(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(data)
		unix.Munmap(ringMem)
		return nil, fmt.Errorf("poller: register buffer ring %d: %w", bgid, err)
	}
	b := &BufferRing{
		ring: r, bgid: bgid, entries: entries, mask: entries - 1, bufSize: bufSize,
		ringMem: ringMem, data: data,
		bufs:     unsafe.Slice((*ringBuf)(unsafe.Pointer(&ringMem[0])), entries),
		tailWord: (*uint32)(unsafe.Pointer(&ringMem[unsafe.Offsetof(ringBuf{}.bid)])),
	}
	b.provide(max(1, min(initial, entries)))
	b.publishTail()
	return b, nil
}

// provide hands the kernel untouched buffers until n are provided.
func (b *BufferRing) provide(n uint32) {
	for ; b.provided < n; b.provided++ {
		b.Recycle(uint16(b.provided))
	}
}

// GroupID is the buffer group id receives name with PrepRecvMultishotBufferSelect.
func (b *BufferRing) GroupID() uint16 { return b.bgid }

// BufferSize is the size of each buffer.
func (b *BufferRing) BufferSize() uint32 { return b.bufSize }

// Entries is the number of buffers.
func (b *BufferRing) Entries() uint32 { return b.entries }

// Provided is how many of the buffers have been handed to the kernel so far (Entries for a ring
// that was given them all at once). The others have never been written.
func (b *BufferRing) Provided() uint32 { return b.provided }

// Buffer returns the first n bytes of buffer bid, as a completion that picked it reports them.
// The bytes are valid until the buffer is recycled. After Close it returns nil, and Recycle and
// Publish do nothing.
func (b *BufferRing) Buffer(bid uint16, n int) []byte {
	if b.closed {
		return nil
	}
	start := int(bid) * int(b.bufSize)
	return b.data[start : start+n : start+int(b.bufSize)]
}

// Recycle queues buffer bid to be handed back to the kernel. Nothing reaches the kernel until
// Publish, so that a batch of completions costs one store.
func (b *BufferRing) Recycle(bid uint16) {
	if b.closed {
		return
	}
	e := &b.bufs[uint32(b.localTail)&b.mask]
	e.addr = uint64(uintptr(unsafe.Pointer(&b.data[int(bid)*int(b.bufSize)])))
	e.len = b.bufSize
	e.bid = bid
	b.localTail++
}

// Short records that a receive found the ring empty (-ENOBUFS), so that the next Publish of a
// growing ring provides for it too.
func (b *BufferRing) Short() { b.short++ }

// Publish makes every recycled buffer available to the kernel, and, in a growing ring, more
// buffers after a batch that wanted more than half of those provided: half the ring left at
// the batch's lowest is the low-water mark, and the ring grows to twice what the batch wanted
// (or twice its size), so that the next batch may be twice as large before any receive finds
// the ring empty.
func (b *BufferRing) Publish() {
	if b.closed {
		return
	}
	wanted := uint32(b.localTail-b.published) + b.short
	if b.provided < b.entries && 2*wanted > b.provided {
		b.provide(min(b.entries, 2*max(wanted, b.provided)))
	}
	b.short = 0
	b.publishTail()
}

func (b *BufferRing) publishTail() {
	// The 16-bit tail must be stored after the entries' contents, with release order; Go has
	// no 16-bit atomic store, so the 32-bit word holding entry 0's bid and the tail is stored
	// whole. Only this ring's owner writes entry 0, so its bid is rewritten with its own value.
	word := [2]uint16{b.bufs[0].bid, b.localTail}
	atomic.StoreUint32(b.tailWord, *(*uint32)(unsafe.Pointer(&word)))
	b.published = b.localTail
}

// Close unregisters the group and frees its memory. Call it from the ring's owner before the
// ring is closed, after every receive using the group has completed. If the group cannot be
// unregistered (wrong thread, or the ring already closed) the memory is left mapped rather
// than freed under the kernel's feet, and the error says so.
func (b *BufferRing) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	var err error
	if b.ring.closed {
		err = fmt.Errorf("poller: close buffer ring %d after its ring: memory left mapped", b.bgid)
	} else {
		reg := bufReg{bgid: b.bgid}
		if _, uerr := register(b.ring.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1); uerr != nil {
			err = fmt.Errorf("poller: unregister buffer ring %d (memory left mapped): %w", b.bgid, uerr)
		}
	}
	data, ringMem := b.data, b.ringMem
	b.bufs, b.tailWord, b.data, b.ringMem = nil, nil, nil, nil
	if err != nil {
		return err
	}
	var errs []error
	if err := unix.Munmap(data); err != nil {
		errs = append(errs, fmt.Errorf("poller: munmap buffer ring %d data: %w", b.bgid, err))
	}
	if err := unix.Munmap(ringMem); err != nil {
		errs = append(errs, fmt.Errorf("poller: munmap buffer ring %d: %w", b.bgid, err))
	}
	return errors.Join(errs...)
}
