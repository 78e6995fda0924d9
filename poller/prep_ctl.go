package poller

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrepNop does nothing and completes with Res 0.
func (s *SQE) PrepNop() {
	s.prepRW(OpNop, -1, 0, 0, 0)
}

// PrepClose closes a regular descriptor.
func (s *SQE) PrepClose(fd int32) {
	s.prepRW(OpClose, fd, 0, 0, 0)
}

// PrepCloseDirect closes a direct descriptor, freeing its slot for reuse.
func (s *SQE) PrepCloseDirect(slot uint32) {
	s.prepRW(OpClose, 0, 0, 0, 0)
	s.setTargetSlot(slot)
}

// PrepTimeout completes after ts (relative, unless flags has TimeoutAbs) with Res -ETIME, or
// earlier with Res 0 once count other completions have arrived (count 0: only the clock).
// The kernel copies ts at submission.
func (s *SQE) PrepTimeout(ts *unix.Timespec, count uint32, flags uint32) {
	s.prepRW(OpTimeout, -1, ptrAddr(unsafe.Pointer(ts)), 1, uint64(count))
	s.opFlags = flags
}

// PrepLinkTimeout bounds the operation linked before it (that entry carries FlagIOLink): if it
// has not completed after ts it is cancelled (its Res is -ECANCELED, this one's -ETIME).
func (s *SQE) PrepLinkTimeout(ts *unix.Timespec, flags uint32) {
	s.prepRW(OpLinkTimeout, -1, ptrAddr(unsafe.Pointer(ts)), 1, 0)
	s.opFlags = flags
}

// PrepCancel cancels the in-flight operation whose user data is userData (with CancelAll,
// every such operation). Its own Res is 0, -ENOENT when nothing matched, or -EALREADY; with
// CancelAll it is the number cancelled.
func (s *SQE) PrepCancel(userData uint64, flags uint32) {
	s.prepRW(OpAsyncCancel, -1, userData, 0, 0)
	s.opFlags = flags
}

// PrepCancelFixedFd cancels the in-flight operations on direct descriptor slot (all of them
// with CancelAll).
func (s *SQE) PrepCancelFixedFd(slot uint32, flags uint32) {
	s.prepRW(OpAsyncCancel, int32(slot), 0, 0, 0)
	s.opFlags = flags | cancelFd | cancelFdFixed
}

// PrepMsgRingData posts a completion to another ring (targetRingFd is its Fd): user data
// userData, Res res, and CQE flags cqeFlags. This entry's own completion reports whether the
// message was delivered.
func (s *SQE) PrepMsgRingData(targetRingFd int, userData uint64, res int32, cqeFlags uint32) {
	s.prepRW(OpMsgRing, int32(targetRingFd), msgData, uint32(res), userData)
	if cqeFlags != 0 {
		s.opFlags = msgRingFlagsPass
		s.fileIndex = cqeFlags
	}
}

// PrepMsgRingFd installs this ring's direct descriptor srcSlot into a slot of another ring's
// fixed-file table (AllocSlot: a free one of its allocation range). The target receives a
// completion with user data userData and Res the slot; this entry's Res is the same slot or a
// negated errno. The source slot stays open here: close it once the message has completed.
func (s *SQE) PrepMsgRingFd(targetRingFd int, srcSlot uint32, targetSlot uint32, userData uint64) {
	s.prepRW(OpMsgRing, int32(targetRingFd), msgSendFd, 0, userData)
	s.addr3 = uint64(srcSlot)
	s.setTargetSlot(targetSlot)
}

// PrepFixedFdInstall makes a regular descriptor that refers to the same file as direct
// descriptor slot; Res is the new fd, close-on-exec unless flags has FixedFdNoCloexec.
func (s *SQE) PrepFixedFdInstall(slot uint32, flags uint32) {
	s.prepRW(OpFixedFdInstall, int32(slot), 0, 0, 0)
	s.flags = uint8(FlagFixedFile)
	s.opFlags = flags
}

// PrepRead reads from fd into b at the file's current position (off ^0) or at off.
func (s *SQE) PrepRead(fd int32, b []byte, off uint64) {
	s.prepRW(OpRead, fd, addrOf(b), uint32(len(b)), off)
}

// PrepFilesUpdate places the regular descriptors in fds into the fixed-file table from slot
// on, or, with AllocSlot, each into a free slot of the allocation range, whose number the
// kernel writes back over the descriptor in fds. Res is how many were placed. The table takes
// its own reference: the caller still owns (and closes) the descriptors. fds must stay
// reachable until the completion.
func (s *SQE) PrepFilesUpdate(fds []int32, slot uint32) {
	s.prepRW(OpFilesUpdate, -1, addrOfInt32s(fds), uint32(len(fds)), uint64(slot))
}
