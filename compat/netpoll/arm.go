package netpoll

import (
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// submitChanges prepares, for every descriptor on the change list, the entries that make the
// ring's poll match its registration. They go to the kernel with the iteration's wait. The
// caller holds mu.
func (p *Poller) submitChanges(r *poller.Ring) error {
	t := &p.table
	for _, fd := range t.changes {
		reg := &t.regs[fd]
		reg.queued = false
		if err := p.reconcile(r, fd, reg); err != nil {
			return err
		}
	}
	t.changes = t.changes[:0]
	return nil
}

// reconcile brings fd's poll in line with its registration: removed when the registration
// is gone or replaced, or when the kind changes between one-shot (level-triggered) and
// multishot (edge-triggered), which an update cannot change; updated in place when only the
// events change (the kernel checks readiness again, as EPOLL_CTL_MOD does); armed when none is.
func (p *Poller) reconcile(r *poller.Ring, fd int32, reg *registration) error {
	if reg.inFlight && (!reg.live || reg.replace || reg.armedEdge != reg.edge) {
		sqe, err := r.GetSQE()
		if err != nil {
			return err
		}
		sqe.PrepPollRemove(userData(kindPoll, reg.gen, fd))
		sqe.SetFlags(poller.FlagCQESkipSuccess)
		sqe.SetUserData(userData(kindRemove, reg.gen, fd))
		reg.inFlight, reg.replace = false, false
	}
	if !reg.live {
		return nil
	}
	sqe, err := r.GetSQE()
	if err != nil {
		return err
	}
	old := reg.gen
	reg.gen = (reg.gen + 1) & genMask
	events := reg.events &^ unix.EPOLLET
	if reg.inFlight {
		sqe.PrepPollUpdate(userData(kindPoll, old, fd), userData(kindPoll, reg.gen, fd), events)
		sqe.SetFlags(poller.FlagCQESkipSuccess)
		sqe.SetUserData(userData(kindUpdate, reg.gen, fd))
		return nil
	}
	if reg.edge {
		sqe.PrepPollMultishot(fd, events)
	} else {
		sqe.PrepPollAdd(fd, events)
	}
	sqe.SetUserData(userData(kindPoll, reg.gen, fd))
	reg.inFlight, reg.armedEdge = true, reg.edge
	return nil
}

// complete takes one completion into the table and the iteration's report. The caller holds
// mu.
func (p *Poller) complete(c *poller.CQE) {
	kind, gen, fd := splitUserData(c.UserData)
	switch kind {
	case kindWake:
		p.choresNext = true
	case kindUpdate:
		// The poll had completed or ended before the update reached it: arm a new one. Its
		// own completion, of the generation before, is stale.
		if reg := p.table.lookup(int(fd)); reg != nil && reg.inFlight && reg.gen == gen {
			reg.inFlight = false
			p.table.queue(fd, reg)
		}
	case kindPoll:
		p.completePoll(c, gen, fd)
	}
	// kindNudge only ends the wait; a failed remove found a poll that had completed, whose
	// completion is stale.
}

// completePoll takes a poll's completion: a report for the callback unless the poll was
// since changed or removed, and a re-arm when the poll has ended (always, for a
// level-triggered one).
func (p *Poller) completePoll(c *poller.CQE, gen uint32, fd int32) {
	if int(fd) >= len(p.table.regs) {
		return
	}
	reg := &p.table.regs[fd]
	if reg.gen != gen || !reg.inFlight {
		return // a poll since replaced
	}
	ended := c.Flags&poller.CQEFMore == 0
	if ended {
		reg.inFlight, reg.replace = false, false
	}
	if !reg.live || reg.replace {
		return // deleted, or its number registered anew, since it was armed
	}
	if c.Res < 0 {
		// The poll failed: its descriptor was closed without Delete. epoll forgets such a
		// descriptor; it stays unarmed until Mod or Add arms it again.
		return
	}
	if ended {
		p.table.queue(fd, reg)
	}
	// epoll reports what was asked for, and errors and hang-ups always; io_uring reports
	// EPOLLRDHUP unasked too.
	ev := uint32(c.Res) & (reg.events | ErrEvents)
	if ev == 0 {
		return
	}
	if reg.readyIter == p.iter {
		p.ready[reg.readyIdx].events |= ev
		return
	}
	reg.readyIter, reg.readyIdx = p.iter, len(p.ready)
	p.ready = append(p.ready, readyEvent{fd: int(fd), events: ev, pa: reg.pa})
}

// readyEvent is one descriptor's report in an iteration.
type readyEvent struct {
	fd     int
	events IOEvent
	pa     *PollAttachment // the attachment it was registered with (the poll_opt build calls it)
}
