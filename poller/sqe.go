package poller

// SQE is a submission queue entry (struct io_uring_sqe, 64 bytes). Get one from Ring.GetSQE,
// fill it with one Prep method, then add flags and user data.
//
// As in liburing, a Prep method takes the descriptor it works on as fd, an int32 as the entry
// holds it: a regular descriptor, or, with FlagFixedFile set on the entry, a slot of the ring's
// fixed-file table. A slot a method creates or closes is a uint32 slot (AllocSlot: the kernel
// picks), and another ring's descriptor, the target of a message, is an int, as Ring.Fd returns
// it. A receive that takes its buffer from a provided-buffer group says so in its name
// (BufferSelect) and takes the group.
type SQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // also addr2
	addr        uint64
	len         uint32
	opFlags     uint32 // msg_flags, accept_flags, timeout_flags, cancel_flags, msg_ring_flags, …
	userData    uint64
	bufIndex    uint16 // also buf_group
	personality uint16
	fileIndex   uint32 // also splice_fd_in, addr_len
	addr3       uint64
	_           uint64
}

// prepRW fills the fields every operation shares and clears the rest, as liburing's
// io_uring_prep_rw does.
func (s *SQE) prepRW(op Opcode, fd int32, addr uint64, length uint32, off uint64) {
	*s = SQE{opcode: uint8(op), fd: fd, addr: addr, len: length, off: off}
}

// SetUserData sets the value the completion carries back. Call it after the Prep method.
func (s *SQE) SetUserData(ud uint64) { s.userData = ud }

// SetFlags adds per-entry flags (FlagFixedFile, FlagIOLink, FlagCQESkipSuccess, …).
func (s *SQE) SetFlags(f SQEFlags) { s.flags |= uint8(f) }

// Opcode reports the operation the entry holds.
func (s *SQE) Opcode() Opcode { return Opcode(s.opcode) }

// UserData reports the entry's user data.
func (s *SQE) UserData() uint64 { return s.userData }

// setTargetSlot sets the direct-descriptor slot an operation creates: slot+1 in file_index,
// or fileIndexAlloc to let the kernel pick a free slot and return it in the completion.
func (s *SQE) setTargetSlot(slot uint32) {
	if slot == fileIndexAlloc {
		s.fileIndex = fileIndexAlloc
		return
	}
	s.fileIndex = slot + 1
}

// AllocSlot, passed where an operation creates a direct descriptor, lets the kernel choose a
// free slot from the ring's allocation range.
const AllocSlot = fileIndexAlloc
