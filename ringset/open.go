package ringset

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Connections the set did not accept: a descriptor adopted into a loop's table (Adopt), or a
// connection the loop dials itself (Dial). Both end in the same place as an accepted
// connection (openConn), with two hooks around OnOpen.

// Opening is what the caller of Adopt or Dial learns, on the loop's goroutine: Prepare runs
// before OnOpen (to set the connection's context, say), Opened after it, or with the error
// that kept the connection from opening (then c is nil). Either may be nil.
type Opening struct {
	Prepare func(c *conn.Conn)
	Opened  func(c *conn.Conn, err error)
	// ReceiveLater opens the connection with its receiving off, until SetReceiving turns it on:
	// for an owner that reads the socket some other way meanwhile.
	ReceiveLater bool
}

func (o *Opening) fail(err error) {
	if o.Opened != nil {
		o.Opened(nil, err)
	}
}

// pendingOpen is one adoption or dial in flight on a loop. Everything the kernel reads or
// writes (the descriptor array, the address, the option value) lives here until the last
// completion.
type pendingOpen struct {
	Opening
	idx uint32 // its index among the loop's pending ones, while tracked
	// An adoption.
	fds      [1]int32 // FILES_UPDATE: the descriptor in; the slot the kernel chose, out
	orig     int      // the adopted descriptor, closed once the table holds it
	datagram bool     // the adopted descriptor is a connected UDP socket
	// A dial (see dial.go); nil for an adoption.
	dial *dialing
}

// Adopt places fd, an open connected socket (a stream, or a connected datagram socket when
// datagram), into loop i's table and serves it like an accepted connection. Adopt owns fd from
// the call on: it is closed once the table holds its own reference, or on failure. The outcome
// reaches o on the loop.
func (s *Set) Adopt(i int, fd int, datagram bool, o Opening) error {
	if i < 0 || i >= len(s.loops) {
		unix.Close(fd)
		return fmt.Errorf("ringset: adopt on loop %d of %d", i, len(s.loops))
	}
	l := s.loops[i]
	p := &pendingOpen{Opening: o, orig: fd, datagram: datagram}
	p.fds[0] = int32(fd)
	if err := l.Post(func() { l.startAdopt(p) }); err != nil {
		unix.Close(fd)
		return err
	}
	return nil
}

// AdoptConn is Adopt of a duplicate of c's descriptor (c must be a *net.TCPConn, a
// *net.UnixConn or a connected *net.UDPConn); c itself stays the caller's, to close, as gnet's
// Enroll leaves it.
func (s *Set) AdoptConn(i int, c net.Conn, o Opening) error {
	datagram := false
	switch c := c.(type) {
	case *net.TCPConn, *net.UnixConn:
	case *net.UDPConn:
		if c.RemoteAddr() == nil {
			return fmt.Errorf("adopt %v: a UDP socket that is not connected", c.LocalAddr())
		}
		datagram = true
	default:
		return fmt.Errorf("adopt %T: not a TCP, unix or UDP connection", c)
	}
	fd, err := fdbridge.Dup(c.(syscall.Conn))
	if err != nil {
		return err
	}
	return s.Adopt(i, fd, datagram, o)
}

// startAdopt submits the FILES_UPDATE that places the descriptor in a free slot.
func (l *loop) startAdopt(p *pendingOpen) {
	if l.closing {
		unix.Close(p.orig)
		p.fail(ErrStopped)
		return
	}
	idx := l.track(p)
	s := l.sqe()
	s.PrepFilesUpdate(p.fds[:], poller.AllocSlot)
	s.SetUserData(recordUserData(opAdopt, idx))
}

func (l *loop) onAdopt(idx uint32, res int32) {
	p := l.untrack(idx)
	unix.Close(p.orig) // the table holds its own reference now, or nothing at all
	if res < 1 {
		if res == 0 {
			res = -int32(unix.EBADF)
		}
		p.fail(os.NewSyscallError("io_uring_enter", unix.Errno(-res)))
		return
	}
	l.serveConn(uint32(p.fds[0]), &p.Opening, p.datagram, nil)
}

// closeDirect closes a slot that never became a connection; nothing waits for it.
func (l *loop) closeDirect(slot uint32) {
	s := l.sqe()
	s.PrepCloseDirect(slot)
	s.SetFlags(poller.FlagCQESkipSuccess)
	s.SetUserData(recordUserData(opCloseOrphan, slot))
}

// track keeps p until its last completion; the index rides in the completions' slot bits.
func (l *loop) track(p *pendingOpen) uint32 {
	if n := len(l.pendingFree); n > 0 {
		p.idx = l.pendingFree[n-1]
		l.pendingFree = l.pendingFree[:n-1]
		l.pending[p.idx] = p
		return p.idx
	}
	l.pending = append(l.pending, p)
	p.idx = uint32(len(l.pending) - 1)
	return p.idx
}

// tracked reports whether p is still in flight on l.
func (l *loop) tracked(p *pendingOpen) bool {
	return int(p.idx) < len(l.pending) && l.pending[p.idx] == p
}

func (l *loop) untrack(idx uint32) *pendingOpen {
	p := l.pending[idx]
	l.pending[idx] = nil
	l.pendingFree = append(l.pendingFree, idx)
	return p
}

// hasPending reports whether an adoption or a dial is in flight.
func (l *loop) hasPending() bool { return len(l.pendingFree) < len(l.pending) }

// failPending tells everyone still waiting for an adoption or a dial that the loop stopped;
// closing the ring afterwards closes any slot they held.
func (l *loop) failPending() {
	for i, p := range l.pending {
		if p != nil {
			l.untrack(uint32(i))
			if p.dial == nil {
				unix.Close(p.orig) // an adoption whose update never completed
			} else {
				p.dial.stopWatching()
			}
			p.fail(ErrStopped)
		}
	}
}
