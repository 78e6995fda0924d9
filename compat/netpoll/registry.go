package netpoll

import (
	"os"

	"golang.org/x/sys/unix"
)

// registration is one descriptor's entry in the table: what its owner asked for (kept under
// the Poller's mutex by Add, Mod and Delete, from any goroutine) and what is armed in the
// kernel (kept by the polling goroutine).
type registration struct {
	// Asked for.
	live     bool   // registered (Delete clears it; the slot's generation lives on)
	edge     bool   // edge-triggered: a multishot poll; else a one-shot poll re-armed per report
	events   uint32 // gnet's mask: ReadEvents and/or WriteEvents, with EPOLLET|EPOLLRDHUP when edge
	pa       *PollAttachment
	dev, ino uint64 // the file, to tell a descriptor number reused after a close from a duplicate Add

	// Armed.
	gen       uint32 // generation of the poll armed (or last armed) for the slot; never reset
	inFlight  bool   // a poll of generation gen is armed in the ring
	armedEdge bool   // its kind
	replace   bool   // the poll in flight belongs to a registration since deleted: remove it, arm anew
	queued    bool   // on the change list

	// This iteration's report, so that a descriptor is reported once per iteration.
	readyIter uint64
	readyIdx  int
}

// table is the registrations, indexed by descriptor, and the descriptors whose armed poll must
// change before the next wait.
type table struct {
	regs    []registration
	changes []int32
}

// slot returns fd's registration, growing the table to hold it.
func (t *table) slot(fd int) *registration {
	if fd >= len(t.regs) {
		n := max(2*len(t.regs), fd+1, 64)
		regs := make([]registration, n)
		copy(regs, t.regs)
		t.regs = regs
	}
	return &t.regs[fd]
}

// lookup returns fd's registration if fd is registered.
func (t *table) lookup(fd int) *registration {
	if fd < 0 || fd >= len(t.regs) || !t.regs[fd].live {
		return nil
	}
	return &t.regs[fd]
}

// queue puts fd on the change list once.
func (t *table) queue(fd int32, r *registration) {
	if !r.queued {
		r.queued = true
		t.changes = append(t.changes, fd)
	}
}

// mask is what gnet registers with epoll for events, edge-triggered or not.
func mask(events uint32, edge bool) uint32 {
	if edge {
		events |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return events
}

// add registers fd, with epoll's errors for what epoll_ctl(EPOLL_CTL_ADD) refuses.
func (t *table) add(pa *PollAttachment, events uint32, edge bool) error {
	fd := pa.FD
	dev, ino, err := pollable(fd)
	if err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	r := t.slot(fd)
	if r.live && r.dev == dev && r.ino == ino {
		return os.NewSyscallError("epoll_ctl add", unix.EEXIST)
	}
	// A registration of another file under this number was left behind by a close without
	// Delete, which epoll would have forgotten: its poll is replaced.
	r.replace = r.inFlight
	r.live, r.edge, r.events, r.pa, r.dev, r.ino = true, edge, mask(events, edge), pa, dev, ino
	t.queue(int32(fd), r)
	return nil
}

// mod changes fd's registration, with epoll's errors for EPOLL_CTL_MOD.
func (t *table) mod(pa *PollAttachment, events uint32, edge bool) error {
	fd := pa.FD
	if _, _, err := pollable(fd); err != nil {
		return os.NewSyscallError("epoll_ctl mod", err)
	}
	r := t.lookup(fd)
	if r == nil {
		return os.NewSyscallError("epoll_ctl mod", unix.ENOENT)
	}
	r.edge, r.events, r.pa = edge, mask(events, edge), pa
	t.queue(int32(fd), r)
	return nil
}

// del removes fd's registration, with epoll's errors for EPOLL_CTL_DEL.
func (t *table) del(fd int) error {
	if _, _, err := pollable(fd); err != nil {
		return os.NewSyscallError("epoll_ctl del", err)
	}
	r := t.lookup(fd)
	if r == nil {
		return os.NewSyscallError("epoll_ctl del", unix.ENOENT)
	}
	r.live, r.pa = false, nil
	t.queue(int32(fd), r)
	return nil
}

// pollable identifies fd's file, or says why epoll_ctl would refuse it: EBADF for a
// descriptor that is not open, EPERM for a regular file or a directory, which have no poll.
func pollable(fd int) (dev, ino uint64, err error) {
	if fd < 0 {
		return 0, 0, unix.EBADF
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
		return 0, 0, unix.EPERM
	}
	return st.Dev, st.Ino, nil
}

// rearmAll readies the table for a new ring: nothing is armed there, and every registration
// must be.
func (t *table) rearmAll() {
	t.changes = t.changes[:0]
	for fd := range t.regs {
		r := &t.regs[fd]
		r.inFlight, r.replace, r.queued = false, false, false
		if r.live {
			t.queue(int32(fd), r)
		}
	}
}
