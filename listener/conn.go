package listener

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// Conn is a connection served by an io_uring loop, with the net.Conn contract of
// *net.TCPConn and *net.UnixConn. Its methods may be called from any goroutine; the loop owns
// the kernel side (conn.Conn) and the two sides meet in a few atomics:
//
//   - reading: the loop hands received bytes to readers one chunk at a time (rx); a reader
//     takes the chunk with one swap and copies from it without the loop. While the chunk is not
//     taken, further bytes stay on the loop, up to the engine's inbound limit, and then receiving
//     stops (back-pressure); taking the chunk asks the loop for more (rxMore).
//   - writing: a writer on an idle loop sends by itself on the regular descriptor (sys) when
//     nothing of the connection's is queued or in flight (sendsItself); otherwise, and for what
//     the kernel did not take, it copies into a chunk (wbox) and asks the loop, once per batch,
//     to move it into the connection's outbound buffer (wPosted). Write returns when its bytes
//     are in the kernel or copied, and blocks only while writeLimit bytes are unsent.
//
// A goroutine that has to wait parks on a one-token channel (rxWake, wWake) after announcing
// itself (rxWaiting, wWaiting); the loop sends the token only to an announced waiter, so a
// message that finds its reader running costs no channel operation. The deadline's timer, Close
// and the loop's close put a token in both channels unconditionally (rouseReader, rouseWriter).
type Conn struct {
	eng          *engine
	loop         int
	network      string
	laddr, raddr net.Addr

	c   *conn.Conn // the loop's side; only ever touched on the loop
	sys sysFd      // a regular descriptor for sends made by writers themselves

	rmu       sync.Mutex // one Read at a time
	held      *chunk     // the chunk the readers are reading from (under rmu)
	rx        atomic.Pointer[chunk]
	rxMore    atomic.Bool // the loop holds bytes it could not hand over
	rxWaiting atomic.Bool
	rxWake    chan struct{}
	rxRunning atomic.Bool // the loop woke the reader, which counts in its loop's running
	eof       atomic.Bool // every byte before the peer's EOF was handed over
	readShut  atomic.Bool // CloseRead

	wmu       sync.Mutex            // one Write at a time: writes never interleave
	wbox      atomic.Pointer[chunk] // the head of a list of chunks for the loop to send
	wtail     *chunk                // the last chunk of the list in wbox (under wmu)
	wPosted   atomic.Bool           // a move of wbox to the loop is queued
	wPending  atomic.Int64          // bytes accepted from writers and not yet taken by the kernel
	wWaiting  atomic.Bool
	wWake     chan struct{}
	writeShut atomic.Bool // CloseWrite

	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	dead      chan struct{} // closed by the loop when the connection is closed
	deadErr   error         // why; written before dead is closed
	rdl, wdl  deadline

	// The loop's own bookkeeping.
	lastOut       int  // c.OutboundBuffered() as last seen
	eofSeen       bool // the peer's EOF arrived
	userClosed    bool // Close reached the loop
	readDiscard   bool // CloseRead reached the loop: input is dropped
	closeWhenSent bool // close once everything written is sent
	shutWhenSent  bool // shut the write side down once everything written is sent
	linger        *time.Timer
	refillFn      func()
	flushFn       func()
}

func newConn(e *engine, loop int, network string) *Conn {
	lc := &Conn{
		eng: e, loop: loop, network: network,
		rxWake: make(chan struct{}, 1), wWake: make(chan struct{}, 1),
		closed: make(chan struct{}), dead: make(chan struct{}),
		sys: noSysFd(),
	}
	lc.rdl.init(lc.rouseReader)
	lc.wdl.init(lc.rouseWriter)
	lc.refillFn, lc.flushFn = lc.loopRefill, lc.loopFlush
	return lc
}

// attach binds the loop's connection; on the loop, before OnOpen.
func (lc *Conn) attach(c *conn.Conn) {
	lc.c = c
	c.SetContext(lc)
	lc.eng.ref()
}

// Read reads up to len(p) bytes: it returns as soon as any are available, and io.EOF once the
// peer has closed and everything it sent was read.
func (lc *Conn) Read(p []byte) (int, error) {
	lc.rmu.Lock()
	defer lc.rmu.Unlock()
	for {
		if isClosed(lc.closed) {
			return 0, lc.opError("read", net.ErrClosed)
		}
		if lc.readShut.Load() {
			return 0, io.EOF
		}
		if lc.rdl.expired() {
			return 0, lc.opError("read", os.ErrDeadlineExceeded)
		}
		if len(p) == 0 {
			return 0, nil
		}
		if h := lc.held; h != nil {
			n := copy(p, h.b[h.off:])
			if h.off += n; h.off == len(h.b) {
				lc.held = nil
				putChunk(h)
			}
			return n, nil
		}
		if lc.held = lc.take(); lc.held != nil {
			continue
		}
		if lc.eof.Load() {
			if lc.held = lc.take(); lc.held != nil {
				continue
			}
			return 0, io.EOF
		}
		if isClosed(lc.dead) {
			if lc.held = lc.take(); lc.held != nil {
				continue
			}
			return 0, lc.opError("read", lc.deadErr)
		}
		lc.rxWaiting.Store(true)
		if lc.rx.Load() != nil || lc.eof.Load() {
			lc.rxWaiting.Store(false)
			continue
		}
		lc.stopRunning()
		<-lc.rxWake
		lc.rxWaiting.Store(false)
	}
}

// take takes the chunk the loop handed over, if any, and asks the loop for more if it held
// bytes back.
func (lc *Conn) take() *chunk {
	ch := lc.rx.Swap(nil)
	if ch != nil && lc.rxMore.Swap(false) {
		lc.post(lc.refillFn)
	}
	return ch
}

// Write writes all of p, or returns an error saying why it wrote less.
func (lc *Conn) Write(p []byte) (int, error) {
	lc.wmu.Lock()
	defer lc.wmu.Unlock()
	n := 0
	for {
		if isClosed(lc.closed) {
			return n, lc.opError("write", net.ErrClosed)
		}
		if lc.writeShut.Load() {
			return n, lc.opError("write", syscall.EPIPE)
		}
		if isClosed(lc.dead) {
			return n, lc.opError("write", lc.deadErr)
		}
		if lc.wdl.expired() {
			return n, lc.opError("write", os.ErrDeadlineExceeded)
		}
		if n == len(p) {
			return n, nil
		}
		if n == 0 && lc.sendsItself() {
			// Nothing of ours is queued or in flight on the loop: the kernel takes what it
			// has room for now, in order, and only the rest goes through the loop.
			k, err := sendNow(lc.sys.fd, p)
			lc.sys.release()
			switch err {
			case nil:
				n = k
				if n < len(p) {
					break
				}
				continue
			case unix.EAGAIN:
			default:
				return 0, lc.opError("write", os.NewSyscallError("write", err))
			}
		}
		if room := writeLimit - lc.wPending.Load(); room > 0 {
			k := min(int(room), len(p)-n)
			if !lc.queue(p[n : n+k]) {
				return n, lc.opError("write", net.ErrClosed)
			}
			n += k
			continue
		}
		lc.wWaiting.Store(true)
		if lc.wPending.Load() < writeLimit {
			lc.wWaiting.Store(false)
			continue
		}
		<-lc.wWake
		lc.wWaiting.Store(false)
	}
}

// sendsItself reports whether the writer should send by itself, now, and if so holds a
// reference to the descriptor (released by the caller). Only when nothing written before is
// queued or in flight on the loop (order), and when at most this connection's goroutine is busy
// on its loop: then the loop is likely waiting in the kernel, and handing it the bytes would
// cost a wake-up and a trip through its thread for one send. When many are busy the loop is too,
// and it sends their bytes in one batch for less than a system call each.
func (lc *Conn) sendsItself() bool {
	return lc.wPending.Load() == 0 && lc.eng.running[lc.loop].n.Load() <= 1 && lc.sys.acquire()
}

// queue copies b for the loop to send and makes sure a move to the loop is queued; it reports
// false when the loop has stopped. The bytes fill the boxed list's last chunk to its capacity
// and then further pooled chunks linked behind it, never growing one (which would allocate).
// The writer has the list to itself between the swap and the store; a swap that finds the box
// empty means the loop took the list, and a new one starts.
func (lc *Conn) queue(b []byte) bool {
	n := len(b)
	head := lc.wbox.Swap(nil)
	if head == nil {
		head = getChunk(len(b))
		lc.wtail = head
	}
	tail := lc.wtail
	for len(b) > 0 {
		if len(tail.b) == cap(tail.b) {
			tail.next = getChunk(len(b))
			tail = tail.next
		}
		k := copy(tail.b[len(tail.b):cap(tail.b)], b)
		tail.b, b = tail.b[:len(tail.b)+k], b[k:]
	}
	lc.wtail = tail
	lc.wPending.Add(int64(n))
	lc.wbox.Store(head)
	if !lc.wPosted.Swap(true) {
		return lc.post(lc.flushFn)
	}
	return true
}

// post runs f on the connection's loop; it reports false when the loop has stopped (the
// connection is closed then).
func (lc *Conn) post(f func()) bool { return lc.eng.set.Post(lc.loop, f) == nil }

// Close closes the connection. Blocked and later operations fail with an error wrapping
// net.ErrClosed. What was written is still sent, for up to closeLinger if the peer does not
// read; then the loop cancels what is in flight and closes the descriptor.
func (lc *Conn) Close() error {
	first := false
	lc.closeOnce.Do(func() { first = true; close(lc.closed) })
	if !first {
		return lc.opError("close", net.ErrClosed)
	}
	lc.sys.close()
	lc.stopRunning()
	lc.rouseReader()
	lc.rouseWriter()
	lc.post(lc.loopClose) // a stopped loop has closed the connection already
	return nil
}

// onLoop runs f with the loop's connection, on the loop, and returns its error; net.ErrClosed
// when the connection is closed.
func (lc *Conn) onLoop(f func(c *conn.Conn) error) error {
	if isClosed(lc.closed) {
		return net.ErrClosed
	}
	done := make(chan error, 1)
	if !lc.post(func() {
		if lc.c.State() != conn.Open || lc.userClosed {
			done <- net.ErrClosed
			return
		}
		done <- f(lc.c)
	}) {
		return net.ErrClosed
	}
	return <-done
}

// LocalAddr returns the local address: a *net.TCPAddr or a *net.UnixAddr.
func (lc *Conn) LocalAddr() net.Addr { return lc.laddr }

// RemoteAddr returns the peer's address.
func (lc *Conn) RemoteAddr() net.Addr { return lc.raddr }

// SetDeadline sets the read and write deadlines; they apply to operations already blocked too.
func (lc *Conn) SetDeadline(t time.Time) error {
	if isClosed(lc.closed) {
		return lc.opError("set", net.ErrClosed)
	}
	lc.rdl.set(t)
	lc.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Read calls, blocked and future.
func (lc *Conn) SetReadDeadline(t time.Time) error {
	if isClosed(lc.closed) {
		return lc.opError("set", net.ErrClosed)
	}
	lc.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write calls, blocked and future.
func (lc *Conn) SetWriteDeadline(t time.Time) error {
	if isClosed(lc.closed) {
		return lc.opError("set", net.ErrClosed)
	}
	lc.wdl.set(t)
	return nil
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
	return &net.OpError{Op: op, Net: lc.network, Source: lc.laddr, Addr: lc.raddr, Err: err}
}

// isClosed reports whether c is closed (Close's and the loop's close channels), without
// waiting.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
