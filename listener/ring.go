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
)

// ringConn is a Conn's side on an io_uring loop, for the times the ring serves it. The loop
// owns the kernel side (conn.Conn); callers' goroutines and the loop meet in a few atomics:
//
//   - reading: the loop hands received bytes to readers one chunk at a time (rx); a reader
//     takes the chunk with one swap and copies from it without the loop. While the chunk is not
//     taken, further bytes stay on the loop, up to the engine's inbound limit, and then receiving
//     stops (back-pressure); taking the chunk asks the loop for more (rxMore). Leaving the ring,
//     the reader has the loop stop receiving and reads on until the loop has handed over its
//     last byte (drained).
//   - writing: a writer copies into a chunk (wbox) and lists the connection, once per batch, on
//     its loop's flushList (wPosted); the loop moves the chunks into the connection's outbound
//     buffer, sent in the loop's batch. Write returns when its bytes are copied, and blocks only
//     while writeLimit bytes are unsent.
//
// A goroutine that has to wait parks on a one-token channel (rxWake, wWake) after announcing
// itself (rxWaiting, wWaiting); the loop sends the token only to an announced waiter, so a
// message that finds its reader running costs no channel operation. The deadline's timer, Close
// and the loop's close put a token in both channels unconditionally (wakeReader, wakeWriter).
type ringConn struct {
	lc   *Conn
	eng  *engine
	loop int
	c    *conn.Conn // the loop's side; only ever touched on the loop

	held   *chunk // the chunk the readers are reading from (under the Conn's rmu)
	rx     atomic.Pointer[chunk]
	rxMore atomic.Bool // the loop holds bytes it could not hand over
	// What the loop still held when its side ended, a list of chunks for after rx (set once,
	// before dead is closed; taken by the readers).
	rxLeft    atomic.Pointer[chunk]
	rxWaiting atomic.Bool
	rxWake    chan struct{}
	eof       atomic.Bool // every byte before the peer's EOF was handed over
	drained   atomic.Bool // receiving stopped (leave) and every byte received was handed over

	wbox      atomic.Pointer[chunk] // the head of a list of chunks for the loop to send
	wtail     *chunk                // the last chunk of the list in wbox (under the Conn's wmu)
	wPosted   atomic.Bool           // the connection is on its loop's flushList
	flushNext *ringConn             // the connection listed before it (flushList)
	wPending  atomic.Int64          // bytes accepted from writers and not yet taken by the kernel
	wWaiting  atomic.Bool
	wWake     chan struct{}

	closed    chan struct{} // closed by close
	closeOnce sync.Once
	dead      chan struct{} // closed by the loop when the connection is closed
	deadErr   error         // why; written before dead is closed
	deadErrno syscall.Errno // the socket error that ended it, 0 for another end; as deadErr
	deadTold  atomic.Bool   // deadErrno was given to a call: the socket answers the later ones
	rdl, wdl  deadline

	// The loop's own bookkeeping.
	lastOut       int  // c.OutboundBuffered() as last seen
	eofSeen       bool // the peer's EOF arrived
	userClosed    bool // Close reached the loop
	recvStopped   bool // receiving was turned off (leave) and has ended
	closeWhenSent bool // close once everything written is sent
	shutWhenSent  bool // shut the write side down once everything written is sent
	linger        *time.Timer

	refillFn, startReceivingFn, stopReceivingFn func()
}

func newRingConn(lc *Conn, e *engine, loop int) *ringConn {
	r := &ringConn{
		lc: lc, eng: e, loop: loop,
		rxWake: make(chan struct{}, 1), wWake: make(chan struct{}, 1),
		closed: make(chan struct{}), dead: make(chan struct{}),
	}
	r.rdl.init(r.wakeReader)
	r.wdl.init(r.wakeWriter)
	r.refillFn = r.loopRefill
	r.startReceivingFn, r.stopReceivingFn = r.loopStartReceiving, r.loopStopReceiving
	return r
}

// deadline returns the read or the write deadline.
func (r *ringConn) deadline(read bool) *deadline {
	if read {
		return &r.rdl
	}
	return &r.wdl
}

// attach binds the loop's connection; on the loop, before OnOpen.
func (r *ringConn) attach(c *conn.Conn) {
	r.c = c
	c.SetContext(r)
	r.eng.ref()
}

// read reads from what the loop hands over, as Conn.Read. leaving: the loop was asked to stop
// receiving; once it has and every byte is read, read reports left, having read nothing, and
// the reader goes on with the poller.
func (r *ringConn) read(p []byte, leaving bool) (n int, err error, left bool) {
	for {
		if isClosed(r.closed) {
			return 0, r.lc.opError("read", net.ErrClosed), false
		}
		if r.rdl.expired() {
			return 0, r.lc.opError("read", os.ErrDeadlineExceeded), false
		}
		if h := r.held; h != nil {
			n := copy(p, h.b[h.off:])
			if h.off += n; h.off == len(h.b) {
				r.held = nil
				putChunk(h)
			}
			return n, nil, false
		}
		if r.held = r.take(); r.held != nil {
			continue
		}
		if r.eof.Load() {
			if r.held = r.take(); r.held != nil {
				continue
			}
			// The receive ended at the peer's end, where the socket would say io.EOF too, or
			// at CloseRead's, after which the socket still has what arrives, as net's reads it.
			if !r.lc.isShut(readShutBit) {
				return 0, io.EOF, false
			}
			n, err := r.lc.readSocket(p)
			return n, err, false
		}
		if isClosed(r.dead) {
			if r.held = r.take(); r.held != nil {
				continue
			}
			n, err := r.readFailed(p)
			return n, err, false
		}
		if leaving && r.drained.Load() {
			if r.held = r.take(); r.held != nil {
				continue
			}
			return 0, nil, true
		}
		r.rxWaiting.Store(true)
		if r.rx.Load() != nil || r.eof.Load() || leaving && r.drained.Load() {
			r.rxWaiting.Store(false)
			continue
		}
		<-r.rxWake
		r.rxWaiting.Store(false)
	}
}

// take takes the chunk the loop handed over, if any, and asks the loop for more if it held
// more; once the loop's side has ended, then what it still held.
func (r *ringConn) take() *chunk {
	ch := r.rx.Swap(nil)
	if ch != nil && r.rxMore.Swap(false) {
		r.post(r.refillFn)
	}
	if ch == nil {
		if left := r.rxLeft.Load(); left != nil { // the readers alone take from it, under rmu
			// The loop hands a chunk to rx before it lists the rest: one that came between the
			// swap above and this load goes first.
			if ch = r.rx.Swap(nil); ch == nil {
				ch = left
				r.rxLeft.Store(left.next)
				ch.next = nil
			}
		}
	}
	return ch
}

// leave has the loop stop receiving, for the reader to go back to the poller once it has read
// everything the loop received.
func (r *ringConn) leave() {
	r.drained.Store(false)
	r.post(r.stopReceivingFn)
}

// write queues p for the loop, as Conn.Write.
func (r *ringConn) write(p []byte) (int, error) {
	n := 0
	for {
		if isClosed(r.closed) {
			return n, r.lc.opError("write", net.ErrClosed)
		}
		if r.wdl.expired() { // before a failure, as net's
			return n, r.lc.opError("write", os.ErrDeadlineExceeded)
		}
		if isClosed(r.dead) {
			if err, toSocket := r.writeFailed(); !toSocket {
				return n, err
			}
			k, err := r.lc.writeSocket(p[n:])
			return n + k, err
		}
		if n == len(p) {
			return n, nil
		}
		if room := writeLimit - r.wPending.Load(); room > 0 {
			k := min(int(room), len(p)-n)
			if !r.queue(p[n : n+k]) {
				return n, r.lc.opError("write", net.ErrClosed)
			}
			n += k
			continue
		}
		r.wWaiting.Store(true)
		if r.wPending.Load() < writeLimit {
			r.wWaiting.Store(false)
			continue
		}
		<-r.wWake
		r.wWaiting.Store(false)
	}
}

// A socket error that ended the loop's side (deadErrno) is given once, as the kernel gives it
// to net's: to whichever call comes first, named after that call, as net names its read's or
// write's; from then on the socket answers, as net's does once the kernel has handed its error
// out (a write EPIPE, a read what it still holds, then io.EOF). Any other end (a local close)
// is every call's error.

// readFailed is a Read once the loop's side has ended and every byte it held was read: the
// socket's, which may hold more behind them (the loop stops receiving under back-pressure, and
// a send may be what met the error); at the socket's end, the error, if no call had it. The
// loop's EPIPE stands for an error a send cut short met and io_uring did not report (ringset's
// onSend): a read of net's would not meet it.
func (r *ringConn) readFailed(p []byte) (int, error) {
	if r.deadErrno == 0 {
		return 0, r.lc.opError("read", r.deadErr)
	}
	n, err := r.lc.readSocket(p)
	if n > 0 || err != io.EOF || r.deadErrno == syscall.EPIPE || r.deadTold.Swap(true) {
		return n, err
	}
	return 0, r.lc.opError("read", os.NewSyscallError("read", r.deadErrno))
}

// writeFailed is what a Write finds once the loop's side has ended: the error, or toSocket
// where the socket is to answer. Where bytes written were not sent (wPending counts them until
// the kernel takes them, and the loop's side drops them at its end, even one queued as it
// ended), every Write gets the error: the socket would go on past a gap.
func (r *ringConn) writeFailed() (err error, toSocket bool) {
	if r.deadErrno == 0 {
		return r.lc.opError("write", r.deadErr), false
	}
	if r.wPending.Load() == 0 && r.deadTold.Swap(true) {
		return nil, true
	}
	return r.lc.opError("write", os.NewSyscallError("write", r.deadErrno)), false
}

// idle reports whether the loop holds nothing written, queued or in flight, and has not
// failed: the poller's writes may follow.
func (r *ringConn) idle() bool { return r.wPending.Load() == 0 && !isClosed(r.dead) }

// queue copies b for the loop to send and makes sure a move to the loop is queued; it reports
// false when the loop has stopped. The bytes fill the boxed list's last chunk to its capacity
// and then further pooled chunks linked behind it, never growing one (which would allocate).
// The writer has the list to itself between the swap and the store; a swap that finds the box
// empty means the loop took the list, and a new one starts.
func (r *ringConn) queue(b []byte) bool {
	n := len(b)
	head := r.wbox.Swap(nil)
	if head == nil {
		head = getChunk(len(b))
		r.wtail = head
	}
	tail := r.wtail
	for len(b) > 0 {
		if len(tail.b) == cap(tail.b) {
			tail.next = getChunk(len(b))
			tail = tail.next
		}
		k := copy(tail.b[len(tail.b):cap(tail.b)], b)
		tail.b, b = tail.b[:len(tail.b)+k], b[k:]
	}
	r.wtail = tail
	r.wPending.Add(int64(n))
	r.wbox.Store(head)
	if !r.wPosted.Swap(true) {
		return r.eng.flushes[r.loop].add(r)
	}
	return true
}

// post runs f on the connection's loop; it reports false when the loop has stopped (the
// connection is closed then).
func (r *ringConn) post(f func()) bool { return r.eng.set.Post(r.loop, f) == nil }

// close closes the ring side: blocked and later operations fail with net.ErrClosed; what was
// written is still sent, for up to closeLinger if the peer does not read; then the loop
// cancels what is in flight and closes the descriptor. Only the first call does anything
// (Close and an adoption racing with it may both call it).
func (r *ringConn) close() {
	r.closeOnce.Do(func() {
		close(r.closed)
		r.wakeReader()
		r.wakeWriter()
		r.post(r.loopClose) // a stopped loop has closed the connection already
	})
}

// onLoop runs f with the loop's connection, on the loop, and returns its error; net.ErrClosed
// when the connection is closed.
func (r *ringConn) onLoop(f func(c *conn.Conn) error) error {
	if isClosed(r.closed) {
		return net.ErrClosed
	}
	done := make(chan error, 1)
	if !r.post(func() {
		if r.c.State() != conn.Open || r.userClosed {
			done <- net.ErrClosed
			return
		}
		done <- f(r.c)
	}) {
		return net.ErrClosed
	}
	return <-done
}
