package poller

// Readiness operations: io_uring's poll(2). events and the completion's Res are epoll's bits
// (unix.EPOLLIN, EPOLLOUT, …); EPOLLERR, EPOLLHUP and EPOLLRDHUP are reported whether asked
// for or not. fd is a regular descriptor or, with FlagFixedFile, a slot of the fixed-file table.

// PrepPollAdd completes once fd is ready for any of events, with Res the events that are
// ready. A descriptor that is ready when the entry is submitted completes during the
// submission.
func (s *SQE) PrepPollAdd(fd int32, events uint32) {
	s.prepRW(OpPollAdd, fd, 0, 0, 0)
	s.opFlags = events
}

// PrepPollMultishot reports fd's readiness for events until it is removed or fails: once when
// it is submitted if fd is ready then, and after that once for every wake-up of fd that
// concerns events (new data, room to write, a hang-up), each completion with CQEFMore. A
// descriptor that stays ready without a new wake-up is not reported again: it is
// edge-triggered. A completion without CQEFMore ends it (removed: Res -ECANCELED; or the
// completion queue was full).
func (s *SQE) PrepPollMultishot(fd int32, events uint32) {
	s.PrepPollAdd(fd, events)
	s.len = pollAddMulti
}

// PrepPollRemove removes the poll whose user data is userData; the poll completes with Res
// -ECANCELED (without CQEFMore), and this entry with Res 0, or -ENOENT when no such poll
// is armed (it completed already).
func (s *SQE) PrepPollRemove(userData uint64) {
	s.prepRW(OpPollRemove, -1, userData, 0, 0)
}

// PrepPollUpdate changes the armed poll whose user data is oldUserData: it now waits for events
// and completes with user data newUserData, one-shot or multishot as it was armed. The kernel
// checks fd's readiness again as it re-arms. This entry's Res is 0, or -ENOENT when no such
// poll is armed.
func (s *SQE) PrepPollUpdate(oldUserData, newUserData uint64, events uint32) {
	s.prepRW(OpPollRemove, -1, oldUserData, pollUpdateEvents|pollUpdateUserData, newUserData)
	s.opFlags = events
}
