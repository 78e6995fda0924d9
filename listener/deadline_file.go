package listener

import (
	"sync/atomic"
	"time"
)

// An accepted socket's File is given a deadline lazily. net/http sets read deadlines around
// every request, none most of them and one long past to end its background read, which has
// most often not yet begun, and clears the write deadline after every reply: nearly all reach
// no call that waits in the File. So a deadline set while no call of its direction is in the
// File is only kept; the next call to go to the File gives it the deadline kept first, unless
// it was the last one given (enterFile). A deadline set while a call is in the File goes to the
// File at once, to end that call.
//
// The call announces itself before it looks at the deadline kept, and a setter keeps the
// deadline before it looks for the call: one of the two, or both, gives the File the deadline,
// one at a time (ringLink.fileDlMu), so that the last given is the last kept. The one giving
// marks what the File was given as unknown before it reads the deadline kept, until the File
// has it: the others compare without the lock, and must never take what the File is about to
// be given for what it has.
//
// A program handed the descriptor (SyscallConn) waits in the File with its own calls, and a
// File the ring's reads retire is revived with the deadlines kept (socket_file.go), out of
// this file's sight: from then on the File is given every deadline that changes as it is set,
// whatever it was last given here (fileEagerBit), and it is given the deadlines kept as that
// begins, for a File that is not retired after all (it was in use) or not yet revived.

// fileDirection is a direction's deadline in the File: the bit a call in the File holds, and
// where the link keeps the deadline and what the File was last given.
type fileDirection struct {
	read   bool
	inFile uint32
}

var (
	fileReads  = fileDirection{read: true, inFile: fileReadBit}
	fileWrites = fileDirection{read: false, inFile: fileWriteBit}
)

func (d fileDirection) of(l *ringLink) (kept *keptDeadline, given *atomic.Int64) {
	if d.read {
		return &l.rdlAt, &l.fileRdl
	}
	return &l.wdlAt, &l.fileWdl
}

// deadliner is what takes a direction's deadline: net's connection, or the socket.
type deadliner interface {
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// setOn sets t as c's deadline of direction d.
func (d fileDirection) setOn(c deadliner, t time.Time) error {
	if d.read {
		return c.SetReadDeadline(t)
	}
	return c.SetWriteDeadline(t)
}

// setDeadline sets the deadline t of reads (d fileReads) or writes: kept, given to the ring
// side, and to the socket as this file says.
func (lc *Conn) setDeadline(t time.Time, d fileDirection) error {
	changed := lc.setRingDeadline(t, d.read)
	s, ok := lc.nc.(*socket)
	if !ok || lc.isShut(closedBit) {
		return d.setOn(lc.nc, t) // net's own connection; or a closed one, which answers with net's error
	}
	if !changed || !lc.isShut(d.inFile|fileEagerBit) {
		return nil
	}
	return lc.giveFileDeadline(s, d)
}

// enterFile announces a call of direction d about to go to the socket's File, and gives the
// File the deadline kept if it was given another. The caller calls leaveFile when the call
// returns.
func (lc *Conn) enterFile(s *socket, d fileDirection) {
	if lc.shut.Or(d.inFile)&fileEagerBit == 0 {
		lc.giveFileDeadline(s, d) // if it fails, the call says why (a closed socket)
	}
}

func (lc *Conn) leaveFile(d fileDirection) { lc.shut.And(^d.inFile) }

// giveFileDeadline gives the socket's File the deadline of direction d kept, unless it was the
// last one given here, before the File took deadlines eagerly (a revived File was given the
// ones kept by revive, which this does not see).
func (lc *Conn) giveFileDeadline(s *socket, d fileDirection) error {
	l := lc.link.Load()
	if l.blank() {
		return nil // no deadline was ever kept, and the File was given none
	}
	kept, given := d.of(l)
	if kept.at.Load() == given.Load() && !lc.isShut(fileEagerBit) {
		return nil
	}
	l.fileDlMu.Lock()
	defer l.fileDlMu.Unlock()
	return lc.giveFileDeadlineLocked(s, l, d)
}

// giveFileDeadlineLocked is giveFileDeadline under l.fileDlMu.
func (lc *Conn) giveFileDeadlineLocked(s *socket, l *ringLink, d fileDirection) error {
	kept, given := d.of(l)
	was := given.Swap(givenUnknown)
	at := kept.at.Load()
	if at == was && !lc.isShut(fileEagerBit) {
		given.Store(was)
		return nil
	}
	err := d.setOn(s, keptAt(at))
	if err == nil {
		given.Store(at) // else unknown: the next call gives it again
	}
	return err
}

// givenUnknown is what the File was given (ringLink.fileRdl, fileWdl) while a give is under way,
// or after one failed: no deadline kept is ever this.
const givenUnknown = -1

// readSocket and writeSocket are the poller path's Read and Write on the socket.
func (lc *Conn) readSocket(p []byte) (int, error)  { return lc.socketCall(fileReads, p) }
func (lc *Conn) writeSocket(p []byte) (int, error) { return lc.socketCall(fileWrites, p) }

// socketCall reads or writes p on the socket, in its File once the File has the deadline kept.
func (lc *Conn) socketCall(d fileDirection, p []byte) (n int, err error) {
	s, ok := lc.nc.(*socket)
	switch {
	case !ok && d.read:
		return lc.nc.Read(p)
	case !ok:
		return lc.nc.Write(p)
	}
	lc.enterFile(s, d)
	if d.read {
		n, err = s.Read(p)
	} else {
		n, err = s.Write(p)
	}
	lc.leaveFile(d)
	return n, err
}

// fileDeadlinesEager has the File take deadlines as they are set from now on, and gives it the
// ones kept (SyscallConn: the program's calls wait in the File; retireFile). It turns eager
// under the lock, behind any give under way: a call that comes to the File once it is eager
// gives it nothing, and must not find it given a deadline replaced before it came.
func (lc *Conn) fileDeadlinesEager() {
	s, ok := lc.nc.(*socket)
	if !ok || lc.isShut(fileEagerBit) {
		return
	}
	l := lc.ownLink() // first: a setter's first deadline makes the link its own, then meets the lock
	l.fileDlMu.Lock()
	defer l.fileDlMu.Unlock()
	if lc.shut.Or(fileEagerBit)&fileEagerBit != 0 {
		return
	}
	lc.giveFileDeadlineLocked(s, l, fileReads)
	lc.giveFileDeadlineLocked(s, l, fileWrites)
}
