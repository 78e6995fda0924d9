package conn

import (
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/fdbridge"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by writes to a connection that is closing or closed.
var ErrClosed = net.ErrClosed

// Loop is the event loop a connection lives on, as the connection needs it.
type Loop interface {
	// ScheduleSend asks the loop to send c's pending bytes at the end of its current batch.
	ScheduleSend(c *Conn)
	// CloseConn starts closing c (on the loop's goroutine). err is what the close reports:
	// nil for a local close.
	CloseConn(c *Conn, err error)
	// Post runs f on the loop's goroutine; any goroutine may call it. It fails once the loop
	// has stopped.
	Post(f func()) error
	// Wake calls the handler's OnTraffic for c (on the loop's goroutine), as if data arrived.
	Wake(c *Conn)
	// Index is the loop's position in its set.
	Index() int
	// InstallFd returns a new regular descriptor for c (the caller owns it); only on the
	// loop's goroutine.
	InstallFd(c *Conn) (int, error)
	// SendTo sends p as one datagram to addr from c's socket; p may be reused on return.
	SendTo(c *Conn, p []byte, addr net.Addr) error
	// Consumed tells the loop that c's input was consumed, wherever that happened, so that a
	// receive paused by back-pressure resumes.
	Consumed(c *Conn)
	// OnLoopThread reports whether the caller runs on the loop's goroutine; any goroutine may
	// call it.
	OnLoopThread() bool
	// Call runs f on the loop that holds c and waits for it, from any goroutine (see
	// Conn.Call): a loop that waits for one answers, meanwhile, those made of it.
	Call(c *Conn, f func()) error
	// OutboundBuffers is the loop's free list of outbound buffers; only on the loop's goroutine.
	OutboundBuffers() *OutboundBuffers
}

// State is where a connection is in its life.
type State uint8

// States.
const (
	Open    State = iota // serving
	Closing              // close started: waiting for in-flight operations and pending sends
	Closed               // the descriptor is closed and the close was reported
)

// Conn is one connection. Its methods run on its loop's goroutine unless they say otherwise.
//
// Its fields are laid out to fit the 256-byte size class (TestConnSize; docs/engine.md, "Memory
// per connection"): the small ones first, together, then the rest.
type Conn struct {
	// Slot is the direct descriptor in the loop's fixed-file table; Gen tells this connection
	// from earlier ones in the same slot (completions carry both).
	Slot uint32
	Gen  uint32

	// Ops is the loop's bookkeeping of this connection's operations in the kernel.
	Ops   Ops
	state State
	// datagram marks a connection that carries datagrams; shared, one that stands for a
	// datagram received on its loop's own socket (see datagram.go).
	datagram, shared bool
	// addrsTried: the addresses were looked up (whatever came of it); they are not looked up
	// again.
	addrsTried bool
	fd         int32 // the cached regular descriptor plus one; 0 when none

	// Traffic is the rebalancer's bookkeeping of the bytes it moved.
	Traffic Traffic

	// host is the loop the connection lives on, with the run of the posted work bound to it
	// (see Exec and posted.go): its owner and everybody else read it (see owner). home is the
	// first one, kept here so that a new connection allocates no separate record for it.
	host   atomic.Pointer[placement]
	home   placement
	posted posted
	in     inbound
	out    outbound
	ctx    any
	local  net.Addr
	remote net.Addr
	err    error // what the close reports
}

// Ops records which kernel operations a connection has in flight. The loop owns it.
type Ops struct {
	RecvArmed bool // a multishot receive is armed
	RecvOff   bool // receiving is off (ringset's SetReceiving): no receive is armed
	// RecvStopping: receiving was turned off while a receive was armed; once it has ended the
	// handler hears of it. RecvCancelSent: that receive's cancel is in flight.
	RecvStopping, RecvCancelSent bool
	SendQueued                   bool // on the loop's list of connections to send for at the end of the batch
	SendFailed                   bool // a send failed: pending bytes cannot be delivered
	CancelSent                   bool // the close protocol's cancel is in flight
	// OpsCancelled: that cancel found every operation in flight; their own completions end
	// them, and no cancel is made again.
	OpsCancelled bool
	// Audited: the loop's audit after dropped completions found the connection; a cancel of its
	// that finds nothing may be finding what was lost.
	Audited    bool
	Flushing   bool // the close protocol's final flush began: its sends are not cancelled
	CloseSent  bool // the close of the descriptor is in flight
	Unreported bool // closed before OnOpen: no OnClose either
	ReadEOF    bool // the peer ended its side and the handler keeps the connection (HalfCloser)
	Moving     bool // moving to another loop: no new send or receive is started here
	// Reporting: the close is being reported while the connection is closing; the handler's
	// writes are still taken (gnet lets OnClose write a last reply, flushed before the close).
	Reporting bool
}

// Traffic is what the rebalancer measures of a connection. The loop owns it.
type Traffic struct {
	// Bytes counts the bytes received and sent since the last measuring interval ended;
	// Recent is how many fell in that interval (saturating at 4 GiB, which is busy enough).
	Bytes  uint64
	Recent uint32
	// MovedAt is the interval in which the connection last moved.
	MovedAt uint32
}

// EndInterval ends a measuring interval: the bytes counted in it become Recent.
func (t *Traffic) EndInterval() {
	t.Recent, t.Bytes = uint32(min(t.Bytes, math.MaxUint32)), 0
}

// New returns an open connection in slot of loop.
func New(loop Loop, slot, gen uint32) *Conn {
	c := newConn(loop)
	c.Slot, c.Gen = slot, gen
	return c
}

// newConn returns a connection living on loop, with its queue of posted work ready.
func newConn(loop Loop) *Conn {
	c := &Conn{}
	c.placeOn(loop, &c.home)
	return c
}

// placeOn makes loop the connection's owner and, through p (a record nobody else has yet), its
// host for everybody else.
func (c *Conn) placeOn(loop Loop, p *placement) {
	p.loop = loop
	c.host.Store(p)
}

// owner is the loop that holds the connection, as its owner (that loop's goroutine) reads it.
func (c *Conn) owner() Loop { return c.host.Load().loop }

// Loop is the loop the connection lives on (the one it is leaving, while it moves to another);
// any goroutine may call it.
func (c *Conn) Loop() Loop { return c.host.Load().loop }

// State reports where the connection is in its life.
func (c *Conn) State() State { return c.state }

// Context returns the user's value.
func (c *Conn) Context() any { return c.ctx }

// SetContext sets the user's value.
func (c *Conn) SetContext(v any) { c.ctx = v }

// LocalAddr is the connection's own address (*net.TCPAddr or *net.UnixAddr), or nil if it
// cannot be known (the connection is closed). A direct descriptor has no fd to ask, so the
// first call of LocalAddr or RemoteAddr installs one briefly (FIXED_FD_INSTALL); it must be made
// on the loop (OnOpen is the usual place) and the answer is cached for any goroutine after.
func (c *Conn) LocalAddr() net.Addr { c.resolveAddrs(); return c.local }

// RemoteAddr is the peer's address; see LocalAddr.
func (c *Conn) RemoteAddr() net.Addr { c.resolveAddrs(); return c.remote }

// SetAddrs gives the connection its addresses where its opener knows them already (an accept
// reports the peer's), so that none is looked up. Call it on the loop, before OnOpen.
func (c *Conn) SetAddrs(local, remote net.Addr) {
	c.local, c.remote, c.addrsTried = local, remote, true
}

func (c *Conn) resolveAddrs() {
	// remote is set only here (after addrsTried) and by NewDatagram.
	if c.addrsTried || c.state == Closed || c.shared {
		return
	}
	c.addrsTried = true
	fd, temporary := int(c.fd)-1, false
	if fd < 0 {
		var err error
		if fd, err = c.owner().InstallFd(c); err != nil {
			return
		}
		temporary = true
	}
	c.local, c.remote, _ = fdbridge.Addrs(fd, c.datagram)
	if temporary {
		unix.Close(fd)
	}
}

// Fd returns a regular descriptor for the connection, installed on first use and closed with
// the connection; do not close it yourself. Call it on the loop.
func (c *Conn) Fd() (int, error) {
	if c.state == Closed {
		return -1, ErrClosed
	}
	if c.fd == 0 {
		fd, err := c.owner().InstallFd(c)
		if err != nil {
			return -1, err
		}
		c.fd = int32(fd) + 1
	}
	return int(c.fd) - 1, nil
}

// Dup returns a new regular descriptor for the connection, which the caller must close; it
// stays valid (and keeps the socket open) after the connection closes. Call it on the loop.
func (c *Conn) Dup() (int, error) {
	if c.state == Closed {
		return -1, ErrClosed
	}
	if c.fd > 0 {
		return fdbridge.DupFd(int(c.fd) - 1)
	}
	return c.owner().InstallFd(c)
}

// SetNoDelay, SetKeepAlive, SetLinger, SetReadBuffer and SetWriteBuffer set socket options
// through the connection's descriptor (see Fd); call them on the loop.
func (c *Conn) SetNoDelay(noDelay bool) error {
	return c.withFd(func(fd int) error { return fdbridge.SetNoDelay(fd, noDelay) })
}

// SetKeepAlive turns keep-alive probes on or off, with period between them when positive.
func (c *Conn) SetKeepAlive(on bool, period time.Duration) error {
	return c.withFd(func(fd int) error { return fdbridge.SetKeepAlive(fd, on, period) })
}

// SetKeepAliveProbes sets keep-alive with its idle time, interval (seconds) and probe count
// (see fdbridge.SetKeepAliveProbes).
func (c *Conn) SetKeepAliveProbes(on bool, idle, intvl, cnt int) error {
	return c.withFd(func(fd int) error { return fdbridge.SetKeepAliveProbes(fd, on, idle, intvl, cnt) })
}

// SetLinger sets what closing does with unsent data (see fdbridge.SetLinger).
func (c *Conn) SetLinger(sec int) error {
	return c.withFd(func(fd int) error { return fdbridge.SetLinger(fd, sec) })
}

// SetReadBuffer sets the socket's receive buffer size.
func (c *Conn) SetReadBuffer(bytes int) error {
	return c.withFd(func(fd int) error { return fdbridge.SetReadBuffer(fd, bytes) })
}

// SetWriteBuffer sets the socket's send buffer size.
func (c *Conn) SetWriteBuffer(bytes int) error {
	return c.withFd(func(fd int) error { return fdbridge.SetWriteBuffer(fd, bytes) })
}

// withFd calls set with the connection's descriptor; a failure comes back as net's
// TCPConn setters return theirs: a *net.OpError "set" around the setsockopt error.
func (c *Conn) withFd(set func(fd int) error) error {
	fd, err := c.Fd()
	if err == nil {
		err = set(fd)
	}
	if err == nil {
		return nil
	}
	return c.OpError("set", err)
}

// OpError is err as net reports a failed operation op on a connection: a *net.OpError with
// the connection's network and addresses around it.
func (c *Conn) OpError(op string, err error) error {
	e := &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	if a := c.LocalAddr(); a != nil {
		e.Net = a.Network()
	}
	return e
}

// InboundBuffered is how many received bytes the handler has not consumed.
func (c *Conn) InboundBuffered() int { return c.in.Buffered() }

// Peek returns the next n unconsumed bytes (all with n <= 0) without consuming them; with fewer
// than n buffered it returns nil and io.ErrShortBuffer (and the loop will buffer at least n
// before pausing for back-pressure). Valid until the handler returns.
func (c *Conn) Peek(n int) ([]byte, error) { return c.in.Peek(n) }

// Next is Peek that consumes what it returns.
func (c *Conn) Next(n int) ([]byte, error) {
	b, err := c.in.Next(n)
	c.consumed()
	return b, err
}

// Discard drops n unconsumed bytes (all with n <= 0 or n beyond what there is).
func (c *Conn) Discard(n int) int {
	n = c.in.Discard(n)
	c.consumed()
	return n
}

// Read copies unconsumed bytes into p.
func (c *Conn) Read(p []byte) int {
	n := c.in.Read(p)
	c.consumed()
	return n
}

// Wanted is the most a Peek or Next asked for and did not get since input was last consumed.
func (c *Conn) Wanted() int { return int(c.in.wanted) }

// consumed lets a receive paused by back-pressure resume.
func (c *Conn) consumed() {
	if c.state == Open && !c.datagram && !c.Ops.RecvArmed {
		c.owner().Consumed(c)
	}
}

// OutboundBuffered is how many written bytes the kernel has not yet taken.
func (c *Conn) OutboundBuffered() int { return c.out.Buffered() }

// Write queues p to be sent at the end of the loop's batch, in order; p may be reused as soon
// as Write returns. On a datagram connection it sends p as one datagram: to the sender of the
// datagram a shared connection stands for, or to a connected socket's peer.
func (c *Conn) Write(p []byte) (int, error) {
	if c.datagram {
		var to net.Addr
		if c.shared {
			to = c.remote
		}
		return c.SendTo(p, to)
	}
	if !c.writable() {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.out.write(p, c.owner().OutboundBuffers())
	c.owner().ScheduleSend(c)
	return len(p), nil
}

// writable reports whether Write takes bytes: while the connection is open, and while its close
// is being reported (see Ops.Reporting).
func (c *Conn) writable() bool { return c.state == Open || c.Ops.Reporting }

// Writev queues the slices in order, as one Write of their concatenation.
func (c *Conn) Writev(bs [][]byte) (int, error) {
	if c.datagram {
		return 0, ErrNotStream
	}
	if !c.writable() {
		return 0, ErrClosed
	}
	n := 0
	free := c.owner().OutboundBuffers()
	for _, b := range bs {
		c.out.write(b, free)
		n += len(b)
	}
	if n > 0 {
		c.owner().ScheduleSend(c)
	}
	return n, nil
}

// Close starts closing the connection: what is pending is sent as far as the socket takes it
// without waiting (as gnet does), then the connection closes and the loop reports it once.
// Calling it again does nothing, and so does closing a shared datagram connection: its socket is
// the loop's (gnet ignores such a close too).
func (c *Conn) Close() error {
	if c.state != Open || c.shared {
		return nil
	}
	c.owner().CloseConn(c, nil)
	return nil
}

// Callback reports the outcome of an asynchronous operation, on the connection's loop.
type Callback func(c *Conn, err error)

// AsyncWrite queues p to be written by the connection's loop; any goroutine may call it, and
// the bytes of one call stay contiguous on the wire. p must not change until cb runs (or, with
// no cb, until the write is sent). cb receives net.ErrClosed if the connection is gone by then.
func (c *Conn) AsyncWrite(p []byte, cb Callback) error {
	return c.post(cb, func() error { _, err := c.Write(p); return err })
}

// AsyncWritev is AsyncWrite of the slices in order, contiguous.
func (c *Conn) AsyncWritev(bs [][]byte, cb Callback) error {
	return c.post(cb, func() error { _, err := c.Writev(bs); return err })
}

// post runs op on the loop if the connection is still open then, and reports to cb. A panic in
// op or cb closes this connection, with the panic as the close's error, and nothing else.
// Consuming input in cb re-arms receiving like consuming it in a handler does.
func (c *Conn) post(cb Callback, op func() error) error {
	return c.Exec(func() {
		err := ErrClosed
		if c.state == Open {
			err = op()
		}
		if cb != nil {
			cb(c, err)
		}
	})
}

// Err is what the close reports: nil for a local close, io.EOF for the peer's, or the error.
func (c *Conn) Err() error { return c.err }

// The loop's side of the connection.

// Receive makes a completion's bytes readable. data is borrowed: call KeepUnread before the
// buffer it points into is recycled.
func (c *Conn) Receive(data []byte) { c.in.receive(data) }

// KeepUnread copies what the handler left unread of borrowed bytes into the connection's own
// buffer; the loop calls it when a callback returns, before it recycles the provided buffer.
func (c *Conn) KeepUnread() { c.in.keepUnread() }

// NextSend returns what the next send should carry (nil when a send is in flight or nothing
// waits) and marks a send in flight.
func (c *Conn) NextSend() []byte { return c.out.nextSend() }

// SendInFlight is how many bytes the send in flight was given (0 when none is in flight).
func (c *Conn) SendInFlight() int { return c.out.inFlight() }

// SendDone records that the send in flight wrote n bytes and reports whether bytes remain.
func (c *Conn) SendDone(n int) bool { return c.out.sendDone(n, c.owner().OutboundBuffers()) }

// FailSend ends the send in flight as failed: how much of it went is unknown, so nothing
// pending may follow it.
func (c *Conn) FailSend() {
	c.SendDone(0)
	c.Ops.SendFailed = true
}

// SendBusy reports whether a send is in flight.
func (c *Conn) SendBusy() bool { return c.out.busy }

// BeginClose moves an open connection to Closing with the error its close will report, and
// reports whether it did; the first reason wins, as in gnet (a local close reports nil even if
// the peer's EOF arrives while it completes).
func (c *Conn) BeginClose(err error) bool {
	if c.state != Open {
		return false
	}
	c.state, c.err = Closing, err
	return true
}

// MarkClosed marks the connection closed and closes its cached descriptor; the loop reports the
// close after, then frees its buffers (ReleaseBuffers): the handler's OnClose may still take
// what was received and not consumed, as gnet's may before it releases a connection.
func (c *Conn) MarkClosed() {
	if c.fd > 0 {
		unix.Close(int(c.fd) - 1)
		c.fd = 0
	}
	c.state = Closed
}

// ReleaseBuffers frees a closed connection's buffers.
func (c *Conn) ReleaseBuffers() {
	c.in.release()
	c.out.release()
}
