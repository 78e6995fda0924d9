package listener

import (
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a connection with the net.Conn contract of *net.TCPConn and *net.UnixConn, served
// by whichever of two paths serves it better at the moment (path.go):
//
//   - the poller path: the net package's own connection (nc), its reads and writes system
//     calls made by the caller's goroutine, woken by Go's netpoller. Nothing is faster for one
//     connection, or while the processors have time to spare: the thread that learns a socket
//     is ready runs the goroutine waiting for it.
//   - the ring path: an io_uring loop's side of the connection (ringConn): a multishot receive
//     hands bytes to readers, writes go out in the loop's batch of sends, many connections'
//     in one io_uring_enter. While goroutines queue for processors this costs less CPU per
//     message than a system call each, and the saving is throughput.
//
// A connection starts on the poller path; the first time the ring is to serve it, it is placed
// into a loop's table of direct descriptors (adopt), and it moves between the paths from then
// on, reads and writes each at a call's start: a reader leaves the ring once the loop has
// stopped receiving and handed over every byte, a writer once the loop has sent everything it
// was given, so no byte is reordered or lost. Its methods may be called from any goroutine.
type Conn struct {
	nc  stdConn
	rmu sync.Mutex // one Read at a time
	wmu sync.Mutex // one Write at a time: writes never interleave

	// link is the connection's way to the ring: its engine's shared blank until it keeps
	// something for the ring (a deadline, the ring side), then its own. What only the ring
	// path needs sits behind it, so that a connection the poller serves, as most do, costs
	// little beyond net's: servers hold tens of thousands idle.
	link     atomic.Pointer[ringLink]
	shut     atomic.Uint32 // closedBit, readShutBit, writeShutBit, adoptedBit, and the File's deadline bits
	readPath readPath      // under rmu
	// reads and writes count the connection's Reads and Writes that moved bytes (under rmu
	// and wmu); every callSample-th reaches the policy's meter, which so sees how many writes
	// follow a read without an atomic add per call.
	reads, writes uint8
}

// The bits of Conn.shut.
const (
	closedBit    = 1 << iota // Close was called
	readShutBit              // CloseRead was called (Reads go on: what arrives is read, as net's)
	writeShutBit             // CloseWrite
	adoptedBit               // the one adoption started; if it failed, the poller serves for good
	// The socket's File and its deadlines (deadline_file.go):
	fileReadBit  // a Read is in the File: a read deadline set goes to it at once
	fileWriteBit // a Write is in the File: a write deadline set goes to it at once
	fileEagerBit // the File takes deadlines as they are set
)

func (lc *Conn) isShut(bit uint32) bool { return lc.shut.Load()&bit != 0 }

// ringLink is what a connection keeps for the ring path: its engine, the deadlines its ring
// side starts with and follows, and the ring side once there is one. Connections that keep
// nothing of their own share their engine's blank, so that one the poller alone serves, with no
// deadline set, costs one pointer.
type ringLink struct {
	eng          *engine
	ring         atomic.Pointer[ringConn] // the loop's side, from the first time the ring serves
	rdlAt, wdlAt keptDeadline             // the read and write deadlines set
	// fileRdl and fileWdl are the deadlines (as rdlAt and wdlAt keep them) the socket's File
	// was last given, written under fileDlMu (deadline_file.go).
	fileDlMu         sync.Mutex
	fileRdl, fileWdl atomic.Int64
}

// deadlines are the read and write deadlines kept.
func (l *ringLink) deadlines() (read, write time.Time) { return l.rdlAt.load(), l.wdlAt.load() }

// blank reports whether l is its engine's shared link, which is never written.
func (l *ringLink) blank() bool { return l == &l.eng.blank }

// ownLink returns the connection's own link, making it the first time.
func (lc *Conn) ownLink() *ringLink {
	l := lc.link.Load()
	if !l.blank() {
		return l
	}
	if own := (&ringLink{eng: l.eng}); lc.link.CompareAndSwap(l, own) {
		return own
	}
	return lc.link.Load()
}

// ringSide returns the loop's side of the connection; nil until the ring first serves it.
func (lc *Conn) ringSide() *ringConn { return lc.link.Load().ring.Load() }

// keptDeadline is a deadline as its time since start (the policy's clock, so that it keeps the
// monotonic reading), 0 for none, longPastAt for one at or before start.
type keptDeadline struct{ at atomic.Int64 }

// longPastAt is what a deadline at or before start is kept as: every clock reading is past it,
// so no clock need be read to tell (net/http ends its background read with one, a second
// before the epoch, around every request).
const longPastAt = 1

// store keeps t and reports whether it changed what was kept: net/http clears deadlines that
// are clear around every request, and the store then leaves the connection's memory as it was.
func (k *keptDeadline) store(t time.Time) (changed bool) {
	var at int64
	switch {
	case t.IsZero():
	case !t.After(start): // without Sub, which checks a difference of wall clocks for overflow
		at = longPastAt
	default:
		at = int64(max(t.Sub(start), longPastAt))
	}
	if k.at.Load() == at {
		return false
	}
	k.at.Store(at)
	return true
}

// passed reports whether the deadline kept has passed (reading the clock if one is kept).
func (k *keptDeadline) passed() bool {
	at := k.at.Load()
	return at != 0 && at <= int64(time.Since(start))
}

// longPast reports whether the deadline kept is at or before start.
func (k *keptDeadline) longPast() bool { return k.at.Load() == longPastAt }

func (k *keptDeadline) load() time.Time { return keptAt(k.at.Load()) }

// keptAt is the deadline kept as at.
func keptAt(at int64) time.Time {
	if at == 0 {
		return time.Time{}
	}
	return start.Add(time.Duration(at))
}

// stdConn is what *net.TCPConn and *net.UnixConn have in common here.
type stdConn interface {
	net.Conn
	syscall.Conn
	CloseRead() error
	CloseWrite() error
	SetReadBuffer(bytes int) error
	SetWriteBuffer(bytes int) error
	File() (*os.File, error)
}

// readPath is where a connection's reads come from.
type readPath uint8

const (
	pollerReads readPath = iota // nc.Read
	ringReads                   // the loop's receive
	leavingRing                 // the loop's, until it has stopped receiving and handed all over
)

func newConn(e *engine, nc stdConn) *Conn {
	lc := &Conn{nc: nc}
	lc.link.Store(&e.blank)
	// Each connection's count starts at random, so that connections that run in step (opened
	// together, at the same rate) reach their sampled calls at different times, not all within
	// one of the policy's intervals and none in the next fifteen.
	start := rand.Uint32()
	lc.reads, lc.writes = uint8(start), uint8(start>>8)
	return lc
}

// Read reads up to len(p) bytes: it returns as soon as any are available, and io.EOF once the
// peer has closed and everything it sent was read.
func (lc *Conn) Read(p []byte) (int, error) {
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	// As net's: a closed connection says so (the path does); a read of nothing returns nothing,
	// whatever the deadline.
	switch {
	case lc.isShut(closedBit):
	case len(p) == 0:
		return 0, nil
	case lc.link.Load().rdlAt.longPast():
		// What either path would say, without a path's work: net/http ends a read with such a
		// deadline once for every request.
		return 0, lc.opError("read", os.ErrDeadlineExceeded)
	}
	onRing := paths.onRing()
	for {
		switch lc.readPath {
		case pollerReads:
			if onRing && lc.startRingReads() {
				lc.readPath = ringReads
				lc.retireFile()
				continue
			}
			n, err := lc.readSocket(p)
			countCall(n, false, &lc.reads, &paths.meter.reads)
			return n, err
		case ringReads:
			if !onRing {
				lc.ringSide().leave()
				lc.readPath = leavingRing
			}
		}
		n, err, left := lc.ringSide().read(p, lc.readPath == leavingRing)
		if !left {
			countCall(n, true, &lc.reads, &paths.meter.reads)
			return n, err
		}
		lc.readPath, onRing = pollerReads, false
	}
}

// Write writes all of p, or returns an error saying why it wrote less.
func (lc *Conn) Write(p []byte) (int, error) {
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	if lc.shut.Load()&(writeShutBit|closedBit) == writeShutBit {
		if lc.link.Load().wdlAt.passed() { // net's looks at the deadline first
			return 0, lc.opError("write", os.ErrDeadlineExceeded)
		}
		return 0, lc.opError("write", os.NewSyscallError("write", syscall.EPIPE))
	}
	if len(p) == 0 && !lc.isShut(closedBit) {
		if r := lc.ringSide(); r != nil && isClosed(r.dead) && !r.wdl.expired() {
			// The ring's side may have taken a socket error out of the kernel: it is told
			// once, as for any Write (writeFailed), before the socket is asked.
			if err, toSocket := r.writeFailed(); !toSocket {
				return 0, err
			}
		}
		return 0, lc.writeNothing()
	}
	onRing := paths.onRing()
	r := lc.ringSide()
	if r == nil && onRing {
		r = lc.adopt()
	}
	// The ring keeps what it was given until it has sent it all (and, if it failed, says
	// so): only then may the poller's writes follow.
	if r != nil && (onRing || !r.idle()) {
		n, err := r.write(p)
		countCall(n, true, &lc.writes, &paths.meter.writes)
		return n, err
	}
	n, err := lc.writeSocket(p)
	countCall(n, false, &lc.writes, &paths.meter.writes)
	return n, err
}

// writeNothing is a Write of nothing. net's makes a system call of it, which tells of a socket
// that failed or shut its writing down; the ring's side would answer it itself, without
// knowing of a failure it has not met (its receive not armed). So the socket is asked, a
// retired File not brought back for it.
func (lc *Conn) writeNothing() error {
	if s, ok := lc.nc.(*socket); ok {
		lc.enterFile(s, fileWrites)
		defer lc.leaveFile(fileWrites)
		return s.writeNothing(lc.link.Load().wdlAt.passed)
	}
	_, err := lc.nc.Write(nil)
	return err
}

// countCall counts a Read or Write that moved n bytes, served on the ring or not, for the
// policy: its meter while a trial runs and, of the calls that moved bytes, every callSample-th
// always (calls is the connection's count of them, sampled the meter's).
func countCall(n int, onRing bool, calls *uint8, sampled *atomic.Uint64) {
	if n > 0 {
		if *calls++; *calls%callSample == 0 {
			sampled.Add(1)
		}
	}
	paths.count(n, onRing)
}

// Close closes the connection. Blocked and later operations fail with an error wrapping
// net.ErrClosed. What was written is still sent: by the kernel, and what the ring holds by the
// loop, for up to closeLinger if the peer does not read.
func (lc *Conn) Close() error {
	if lc.shut.Or(closedBit)&closedBit != 0 {
		return lc.opError("close", net.ErrClosed)
	}
	// An adoption under way looks for closedBit once it has published the ring side (adopt):
	// one of the two, or both, closes the ring side.
	if r := lc.ringSide(); r != nil {
		if lc.ringHeldUnread(r) {
			// The kernel resets a connection closed with input unread, and the peer reads
			// ECONNRESET after what it was sent; the ring took that input from the kernel,
			// which would close it with a FIN: its close is made abortive, as net's is.
			lc.SetLinger(0)
		}
		r.close() // the loop's table holds the socket until it has sent what it holds
	}
	return lc.nc.Close()
}

// ringHeldUnread reports whether the ring's side holds input no Read has returned: handed to
// the readers, held by the loop, or left in a Read's chunk (looked at only if no Read is under
// way: one that is returns what it holds, or waits with nothing).
func (lc *Conn) ringHeldUnread(r *ringConn) bool {
	if r.rx.Load() != nil || r.rxMore.Load() || r.rxLeft.Load() != nil {
		return true
	}
	if !lc.rmu.TryLock() {
		return false
	}
	defer lc.rmu.Unlock()
	return r.held != nil
}

// LocalAddr returns the local address: a *net.TCPAddr or a *net.UnixAddr.
func (lc *Conn) LocalAddr() net.Addr { return lc.nc.LocalAddr() }

// RemoteAddr returns the peer's address.
func (lc *Conn) RemoteAddr() net.Addr { return lc.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines; they apply to operations already blocked too.
func (lc *Conn) SetDeadline(t time.Time) error {
	if err := lc.SetReadDeadline(t); err != nil {
		return err
	}
	return lc.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read calls, blocked and future. The connection keeps it
// before the socket is given it: a socket whose File was retired takes what is kept when it
// makes a new one (socket_file.go), and an accepted socket's File is given it only when a Read
// is in it or next goes to it (deadline_file.go).
func (lc *Conn) SetReadDeadline(t time.Time) error { return lc.setDeadline(t, fileReads) }

// SetWriteDeadline sets the deadline of Write calls, blocked and future, as SetReadDeadline.
func (lc *Conn) SetWriteDeadline(t time.Time) error { return lc.setDeadline(t, fileWrites) }

// setRingDeadline keeps the deadline t of reads or writes for the ring side, and gives it to
// the ring side if there is one; it reports whether what was kept changed. An adoption under
// way gives the ring side what is kept once it has published it (adopt): a deadline kept
// before that reaches it either way.
func (lc *Conn) setRingDeadline(t time.Time, read bool) (changed bool) {
	l := lc.link.Load()
	if l.blank() {
		if t.IsZero() {
			return false // none was kept: nothing changes
		}
		l = lc.ownLink()
	}
	k := &l.wdlAt
	if read {
		k = &l.rdlAt
	}
	changed = k.store(t)
	if r := l.ring.Load(); r != nil {
		r.deadline(read).setKept(k)
	}
	return changed
}

// opError wraps err as net does; a *net.OpError of the same operation is returned as is, and
// one of another (a Read's error that ReadFrom reports) is re-labelled. A type assertion, not
// errors.As: this runs on every timed-out Read, which net/http makes once per request.
func (lc *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		if oe.Op == op {
			return err
		}
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: lc.network(), Source: lc.nc.LocalAddr(), Addr: lc.nc.RemoteAddr(), Err: err}
}

// network is the connection's network as its errors name it: as Listen or Dial was given it
// for an accepted socket, else its address's.
func (lc *Conn) network() string {
	if s, ok := lc.nc.(*socket); ok {
		return *s.network
	}
	return lc.nc.LocalAddr().Network()
}

// isClosed reports whether c is closed (the ring side's close channels), without waiting.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
