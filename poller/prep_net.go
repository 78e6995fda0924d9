package poller

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Network operations. fd is a regular descriptor or, with FlagFixedFile set on the entry, a
// slot of the ring's fixed-file table.

// PrepSocketDirect creates a socket straight into a direct descriptor slot (AllocSlot lets the
// kernel choose; the completion's Res is the slot). typ must not include SOCK_CLOEXEC.
func (s *SQE) PrepSocketDirect(domain, typ, proto int, slot uint32) {
	s.prepRW(OpSocket, int32(domain), 0, uint32(proto), uint64(typ))
	s.setTargetSlot(slot)
}

// PrepBind binds fd to sa. The kernel copies sa at submission.
func (s *SQE) PrepBind(fd int32, sa *Sockaddr) {
	s.prepRW(OpBind, fd, ptrAddr(unsafe.Pointer(&sa.raw)), 0, uint64(sa.len))
}

// PrepSetsockopt sets an integer socket option on fd (a direct descriptor with FlagFixedFile),
// through IORING_OP_URING_CMD (SOCKET_URING_OP_SETSOCKOPT, Linux 6.7): how options reach a socket
// that has no regular descriptor. The kernel reads *val when the command runs.
func (s *SQE) PrepSetsockopt(fd int32, level, opt int, val *int32) {
	s.prepRW(OpUringCmd, fd, uint64(uint32(level))|uint64(uint32(opt))<<32, 0, socketCmdSetsockopt)
	s.fileIndex = uint32(unsafe.Sizeof(*val)) // optlen
	s.addr3 = ptrAddr(unsafe.Pointer(val))
}

// PrepListen marks fd as listening with the given backlog.
func (s *SQE) PrepListen(fd int32, backlog int) {
	s.prepRW(OpListen, fd, 0, uint32(backlog), 0)
}

// PrepConnect connects fd to sa. The kernel copies sa at submission.
func (s *SQE) PrepConnect(fd int32, sa *Sockaddr) {
	s.prepRW(OpConnect, fd, ptrAddr(unsafe.Pointer(&sa.raw)), 0, uint64(sa.len))
}

// PrepMultishotAcceptDirect accepts connections on fd until cancelled or failed, each into a
// direct descriptor slot the kernel allocates; each completion's Res is the new slot
// (-ENFILE when the table's allocation range is full). flags are accept4 flags without
// SOCK_CLOEXEC.
func (s *SQE) PrepMultishotAcceptDirect(fd int32, flags int) {
	s.prepRW(OpAccept, fd, 0, 0, 0)
	s.opFlags = uint32(flags)
	s.ioprio |= acceptMultishot
	s.setTargetSlot(AllocSlot)
}

// PrepMultishotAccept accepts connections on fd into regular descriptors (Res is the fd), for
// when direct descriptors cannot be used.
func (s *SQE) PrepMultishotAccept(fd int32, flags int) {
	s.prepRW(OpAccept, fd, 0, 0, 0)
	s.opFlags = uint32(flags)
	s.ioprio |= acceptMultishot
}

// PrepAcceptDirect accepts one connection on fd into direct descriptor slot (AllocSlot: the
// kernel picks; Res is the slot) and writes the peer's address into sa, its length into *salen
// (which must hold sa's size on entry). The kernel writes both when the accept completes: they
// must stay until then. flags are accept4 flags without SOCK_CLOEXEC.
func (s *SQE) PrepAcceptDirect(fd int32, sa *unix.RawSockaddrAny, salen *uint32, flags int, slot uint32) {
	s.prepRW(OpAccept, fd, ptrAddr(unsafe.Pointer(sa)), 0, ptrAddr(unsafe.Pointer(salen)))
	s.opFlags = uint32(flags)
	s.setTargetSlot(slot)
}

// PrepRecvMultishotBufferSelect receives on fd until cancelled, failed or out of buffers, each
// time into a buffer the kernel selects from provided-buffer group bgid (FlagBufferSelect is
// set: a multishot receive has no buffer of its own). CQE.BufferID names the buffer; Res is
// the byte count, 0 at end of stream.
func (s *SQE) PrepRecvMultishotBufferSelect(fd int32, bgid uint16, msgFlags int) {
	s.prepRW(OpRecv, fd, 0, 0, 0)
	s.opFlags = uint32(msgFlags)
	s.ioprio |= recvMultishot
	s.flags |= uint8(FlagBufferSelect)
	s.bufIndex = bgid
}

// SetRecvLimit ends a multishot receive once it has delivered total bytes (its last completion
// then lacks CQEFMore), for bounding what one connection can receive before its owner re-arms
// it. The completion that reaches the limit may carry up to one buffer more. Call it after
// PrepRecvMultishotBufferSelect; it needs CapRecvLimit (a kernel without it fails the receive
// with -EINVAL).
func (s *SQE) SetRecvLimit(total uint32) { s.fileIndex = total }

// PrepRecvBufferSelect receives once into a buffer the kernel selects from provided-buffer
// group bgid (FlagBufferSelect is set).
func (s *SQE) PrepRecvBufferSelect(fd int32, bgid uint16, msgFlags int) {
	s.prepRW(OpRecv, fd, 0, 0, 0)
	s.opFlags = uint32(msgFlags)
	s.flags |= uint8(FlagBufferSelect)
	s.bufIndex = bgid
}

// PrepRecv receives once into b.
func (s *SQE) PrepRecv(fd int32, b []byte, msgFlags int) {
	s.prepRW(OpRecv, fd, addrOf(b), uint32(len(b)), 0)
	s.opFlags = uint32(msgFlags)
}

// PrepRecvmsgMultishotBufferSelect receives datagrams on fd into buffers the kernel selects
// from provided-buffer group bgid (FlagBufferSelect is set). msg only describes the layout each
// buffer gets (Namelen and Controllen bytes reserved after the header); read a buffer with
// ParseRecvmsgOut using the same msg. The kernel copies msg at submission.
func (s *SQE) PrepRecvmsgMultishotBufferSelect(fd int32, msg *unix.Msghdr, bgid uint16, msgFlags int) {
	s.prepRW(OpRecvmsg, fd, ptrAddr(unsafe.Pointer(msg)), 1, 0)
	s.opFlags = uint32(msgFlags)
	s.ioprio |= recvMultishot
	s.flags |= uint8(FlagBufferSelect)
	s.bufIndex = bgid
}

// PrepSend sends b on fd. With MSG_WAITALL the kernel retries a short send itself.
func (s *SQE) PrepSend(fd int32, b []byte, msgFlags int) {
	s.prepRW(OpSend, fd, addrOf(b), uint32(len(b)), 0)
	s.opFlags = uint32(msgFlags)
}

// PrepSendmsg sends the gathered iovecs (and, for datagrams, to the address) of msg on fd. The
// kernel copies msg at submission; the memory its iovecs point to must stay until completion.
func (s *SQE) PrepSendmsg(fd int32, msg *unix.Msghdr, msgFlags int) {
	s.prepRW(OpSendmsg, fd, ptrAddr(unsafe.Pointer(msg)), 1, 0)
	s.opFlags = uint32(msgFlags)
}

// PrepSendZC sends b on fd without copying it. It completes twice: first with the byte count
// and CQEFMore, then with a CQE whose Notif is true once the kernel no longer reads b.
func (s *SQE) PrepSendZC(fd int32, b []byte, msgFlags int, zcFlags uint16) {
	s.prepRW(OpSendZC, fd, addrOf(b), uint32(len(b)), 0)
	s.opFlags = uint32(msgFlags)
	s.ioprio = zcFlags
}

// PrepShutdown shuts down part of a full-duplex connection (unix.SHUT_RD, SHUT_WR, SHUT_RDWR).
func (s *SQE) PrepShutdown(fd int32, how int) {
	s.prepRW(OpShutdown, fd, 0, uint32(how), 0)
}

// RecvmsgOut is the header the kernel writes at the start of each buffer a multishot recvmsg
// fills (struct io_uring_recvmsg_out).
type RecvmsgOut struct {
	Namelen    uint32 // the source address's real length (may exceed what was reserved)
	Controllen uint32
	Payloadlen uint32 // the datagram's real length (may exceed what fit: see Flags&MSG_TRUNC)
	Flags      uint32
}

// ParseRecvmsgOut splits a buffer filled by a multishot recvmsg (the first Res bytes of it)
// into its header, source address, control data and payload, using the msg the receive was
// prepared with. ok is false when the buffer is too short for the layout.
func ParseRecvmsgOut(buf []byte, msg *unix.Msghdr) (out RecvmsgOut, name, control, payload []byte, ok bool) {
	hdr := int(unsafe.Sizeof(RecvmsgOut{}))
	nameEnd := hdr + int(msg.Namelen)
	ctlEnd := nameEnd + int(msg.Controllen)
	if len(buf) < ctlEnd {
		return out, nil, nil, nil, false
	}
	out = *(*RecvmsgOut)(unsafe.Pointer(&buf[0]))
	name = buf[hdr : hdr+int(min(out.Namelen, msg.Namelen))]
	control = buf[nameEnd : nameEnd+int(min(out.Controllen, uint32(msg.Controllen)))]
	payload = buf[ctlEnd:]
	if int(out.Payloadlen) < len(payload) {
		payload = payload[:out.Payloadlen]
	}
	return out, name, control, payload, true
}
