package ringset

import (
	"fmt"
	"net"
	"os"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// openConn starts serving the connection the acceptor passed into slot (or handles the failure
// it reports).
func (l *loop) openConn(res int32, peer *net.TCPAddr) {
	if res < 0 {
		l.set.fail(fmt.Errorf("ringset: loop %d: descriptor hand-off: %w", l.idx, unix.Errno(-res)))
		return
	}
	l.serveConn(uint32(res), nil, false, peer)
}

// serveConn starts serving the connection in slot (a connected datagram socket when datagram):
// receiving, then OnOpen. o, for a connection adopted or dialed, hears of it before and after
// OnOpen. peer, when the accept reported it, is the peer's address; the connection's own is then
// the listener's, as gnet gives it.
func (l *loop) serveConn(slot uint32, o *Opening, datagram bool, peer *net.TCPAddr) {
	gen, ok := l.claimSlot(slot)
	if !ok {
		l.set.fail(fmt.Errorf("ringset: loop %d: a connection arrived in slot %d, which is in use", l.idx, slot))
		return
	}
	c := conn.New(l, slot, gen)
	if datagram {
		c.SetDatagram()
	}
	if peer != nil {
		c.SetAddrs(l.set.addr, peer)
	}
	l.conns[slot] = c
	l.open++
	if l.closing {
		// Shutting down: the connection is closed unseen, with no OnOpen and so no OnClose.
		c.Ops.Unreported = true
		l.CloseConn(c, nil)
		if o != nil {
			o.fail(ErrStopped)
		}
		return
	}
	if o != nil && o.ReceiveLater {
		c.Ops.RecvOff = true
	} else {
		l.armRecv(c)
	}
	if o != nil && o.Prepare != nil {
		o.Prepare(c)
	}
	l.count.Add(1) // from OnOpen on, as gnet counts a connection

	var out []byte
	action := None
	if err := l.set.guard(func() { out, action = l.set.handler.OnOpen(c) }); err != nil {
		l.CloseConn(c, err)
	} else {
		if len(out) > 0 {
			c.Write(out)
		}
		l.act(c, action)
	}
	if o != nil && o.Opened != nil {
		o.Opened(c, nil)
	}
}

// claimSlot records that a new connection takes slot, which the kernel allocated in the table,
// and returns the connection's generation; false when the slot is outside the table or taken.
// The loop's records of the table grow as the kernel hands out slots (lowest free first), so a
// large table costs the loop nothing until it fills.
func (l *loop) claimSlot(slot uint32) (gen uint32, ok bool) {
	if slot >= l.slots {
		return 0, false
	}
	if int(slot) >= len(l.conns) {
		n := min(max(int(slot)+1, 2*len(l.conns)), int(l.slots))
		// Made to measure rather than appended to: append would round the capacity up again,
		// past the doubling.
		conns, gens := make([]*conn.Conn, n), make([]uint32, n)
		copy(conns, l.conns)
		copy(gens, l.gens)
		l.conns, l.gens = conns, gens
	}
	if l.conns[slot] != nil {
		return 0, false
	}
	l.gens[slot] = (l.gens[slot] + 1) & genMask
	return l.gens[slot], true
}

// armRecv starts receiving, bounded by what the connection may still hold so that
// back-pressure needs no cancel (a cancel can miss a multishot receive that is busy delivering).
// Where the kernel can limit a multishot receive (CapRecvLimit), it is limited to the
// connection's remaining budget; elsewhere each receive is single-shot and delivers one buffer.
// Either way the kernel stops at the limit (plus at most one buffer) and the loop re-arms once
// the handler has consumed.
func (l *loop) armRecv(c *conn.Conn) {
	s := l.sqe()
	switch {
	case c.IsDatagram(): // nothing is kept between datagrams: no budget to bound
		s.PrepRecvMultishotBufferSelect(int32(c.Slot), bufferGroup, 0)
	case l.set.recvLimit:
		s.PrepRecvMultishotBufferSelect(int32(c.Slot), bufferGroup, 0)
		s.SetRecvLimit(uint32(l.budget(c) - c.InboundBuffered()))
	default:
		s.PrepRecvBufferSelect(int32(c.Slot), bufferGroup, 0)
	}
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(connUserData(opRecv, c))
	c.Ops.RecvArmed = true
}

func (l *loop) onRecv(c *conn.Conn, cqe *poller.CQE) {
	bid, hasBuf := cqe.BufferID()
	if c == nil {
		if hasBuf {
			l.bufs.Recycle(bid)
		}
		return
	}
	if !cqe.More() {
		c.Ops.RecvArmed = false
	}
	switch res := cqe.Res; {
	case res > 0, res == 0 && c.IsDatagram(): // an empty datagram is one, not an EOF
		l.countTraffic(c, res)
		var data []byte
		if hasBuf {
			data = l.bufs.Buffer(bid, int(res))
		}
		switch {
		case c.State() == conn.Open:
			l.deliver(c, data)
		case c.State() == conn.Closing && c.Err() != nil && !c.IsDatagram():
			// Bytes that arrived as the connection failed are kept with what it holds, which
			// OnClose may still take (finishClose frees it after): not the handler's to read
			// as traffic, but the stream's up to its end.
			c.Receive(data)
			c.KeepUnread()
		case c.State() == conn.Closing && !c.IsDatagram():
			// A local close: the receive took these bytes from the kernel as the close began.
			// Left there, they would have had the kernel reset a TCP connection as it closed,
			// as it resets every socket closed with input unread; dropped here, they do the
			// same. (A unix stream socket ignores the linger, and ends with its peer reading
			// the end of the stream; a linger that cannot be set leaves a FIN too.)
			c.SetLinger(0)
		}
		if hasBuf {
			l.bufs.Recycle(bid)
		}
	case res == 0:
		l.readEOF(c)
	case res == -int32(unix.ENOBUFS):
		// Every provided buffer is in use; they are handed back at the end of this batch (and the
		// ring grows, if it can), before the re-armed receive is submitted. Nothing was lost: the
		// bytes wait in the socket.
		l.noBuffers++
		l.bufs.Short()
	case res == -int32(unix.ECANCELED):
	case res == -int32(unix.ECONNREFUSED) && c.IsDatagram():
		// A connected UDP socket's peer answered a datagram with ICMP: that datagram is lost,
		// the socket serves on.
	default:
		l.CloseConn(c, c.OpError("read", os.NewSyscallError("recv", unix.Errno(-res))))
	}
	l.advance(c)
}

// deliver hands received bytes (borrowed from a provided buffer) to the handler's OnTraffic and
// carries out its action; what the handler left is kept for the next call, or, of a datagram,
// dropped.
func (l *loop) deliver(c *conn.Conn, data []byte) {
	c.Receive(data)
	action := None
	err := l.set.guard(func() { action = l.set.handler.OnTraffic(c) })
	if c.IsDatagram() {
		c.DropInput()
	} else {
		c.KeepUnread()
	}
	if err != nil {
		l.CloseConn(c, err)
	} else {
		l.act(c, action)
	}
}

// advance carries c on after one of its operations completed: the close protocol, a move, or
// resuming its receive.
func (l *loop) advance(c *conn.Conn) {
	switch {
	case c.State() != conn.Open:
		l.advanceClose(c)
	case c.Ops.Moving:
		l.advanceMove(c)
	case c.Ops.RecvStopping:
		l.stopReceiving(c)
	default:
		l.resumeOrPause(c)
	}
}

// resumeOrPause re-arms the receive of an open connection that has ended its receive and holds
// less than its budget; one at its budget stays paused until its input is consumed (Consumed).
// A paused connection notices its peer's FIN or reset only when it resumes.
func (l *loop) resumeOrPause(c *conn.Conn) {
	if c.State() == conn.Open && !c.SharesSocket() && !c.Ops.RecvArmed && !c.Ops.RecvOff && !c.Ops.ReadEOF && !c.Ops.Moving &&
		c.InboundBuffered() < l.budget(c) {
		l.armRecv(c)
	}
}

// budget is how much unconsumed input c may hold: the inbound limit, or more while the handler
// waits for a larger message it asked for (a Peek or Next that came up short).
func (l *loop) budget(c *conn.Conn) int {
	return max(l.set.cfg.InboundLimit, min(c.Wanted(), l.set.cfg.MessageLimit))
}

// Consumed resumes a receive paused by back-pressure once c's input was consumed, whatever
// consumed it (a handler, an asynchronous callback, a task).
func (l *loop) Consumed(c *conn.Conn) { l.resumeOrPause(c) }

// ScheduleSend puts c on the list of connections to send for at the end of the batch.
func (l *loop) ScheduleSend(c *conn.Conn) {
	if !c.Ops.SendQueued {
		c.Ops.SendQueued = true
		l.sendq = append(l.sendq, c)
	}
}

// OutboundBuffers is the loop's free list of outbound buffers.
func (l *loop) OutboundBuffers() *conn.OutboundBuffers { return &l.out }

// flushSends prepares one send for every queued connection without one in flight.
func (l *loop) flushSends() {
	for i, c := range l.sendq {
		l.sendq[i] = nil
		c.Ops.SendQueued = false
		if c.State() == conn.Open && !c.Ops.Moving {
			l.prepSend(c, poller.FlagFixedFile, unix.MSG_WAITALL|unix.MSG_NOSIGNAL)
		}
	}
	l.sendq = l.sendq[:0]
}

func (l *loop) prepSend(c *conn.Conn, flags poller.SQEFlags, msgFlags int) bool {
	b := c.NextSend()
	if b == nil {
		return false
	}
	s := l.sqe()
	s.PrepSend(int32(c.Slot), b, msgFlags)
	s.SetFlags(flags)
	s.SetUserData(connUserData(opSend, c))
	return true
}

func (l *loop) onSend(c *conn.Conn, cqe *poller.CQE) {
	if c == nil {
		return
	}
	switch res := cqe.Res; {
	case res >= 0:
		l.countTraffic(c, res)
		asked := c.SendInFlight()
		more := c.SendDone(int(res))
		switch {
		case int(res) < asked && c.State() == conn.Open && !c.Ops.Moving:
			// A stream send with MSG_WAITALL comes back short only when the socket failed after
			// taking part of it: io_uring reports the bytes taken, and the socket's error, which
			// the send consumed, is gone (a receive in flight then reads a plain EOF). The rest
			// cannot be delivered: the connection is broken, as the next send would say (EPIPE).
			// (A move's cancel also cuts a send short; the rest is then sent from the target.)
			c.Ops.SendFailed = true
			l.CloseConn(c, c.OpError("write", os.NewSyscallError("send", unix.EPIPE)))
		case more && c.State() == conn.Open:
			l.ScheduleSend(c)
		case more && c.Ops.Flushing && int(res) < asked:
			c.Ops.SendFailed = true // the socket had no room for the rest: dropped, as gnet does
		}
	case res == -int32(unix.ECANCELED):
		c.SendDone(0) // cancelled by the close protocol, which flushes what is pending, or a move
	default:
		c.FailSend()
		if res != -int32(unix.EAGAIN) {
			l.CloseConn(c, c.OpError("write", os.NewSyscallError("send", unix.Errno(-res))))
		}
	}
	if c.State() == conn.Open && l.set.sent != nil {
		l.set.sent.OnSent(c)
	}
	if c.State() != conn.Open || c.Ops.Moving {
		l.advance(c)
	}
}

// CloseConn starts the close protocol for c, reporting err: at once when the set reports closes
// first (Config.ReportCloseFirst), else when the protocol completes.
func (l *loop) CloseConn(c *conn.Conn, err error) {
	if c.SharesSocket() || !c.BeginClose(err) {
		return // a datagram of the loop's own socket has nothing of its own to close
	}
	if c.Ops.Moving {
		l.abortMove(c)
	}
	if l.set.cfg.ReportCloseFirst {
		// The handler may still write (Ops.Reporting): its last words go out with the final
		// flush, before the descriptor closes.
		c.Ops.Reporting = true
		l.reportClose(c)
		c.Ops.Reporting = false
	}
	l.advanceClose(c)
}

// advanceClose moves a closing connection through the close protocol, as far as its
// operations in flight allow; each of their completions calls it again:
//  1. cancel the receive and any send in flight, and wait for their completions;
//  2. flush what is pending: as much as the socket takes now, without waiting for room (gnet's
//     best effort): each send taken whole is followed by the next, one cut short ends it;
//  3. close the direct descriptor; its completion reports the close (finishClose).
func (l *loop) advanceClose(c *conn.Conn) {
	if c.State() != conn.Closing || c.Ops.CloseSent {
		return
	}
	if c.Ops.RecvArmed || (c.SendBusy() && !c.Ops.Flushing) {
		l.cancelOps(c)
		return
	}
	c.Ops.OpsCancelled = false
	if c.SendBusy() {
		return // a send of the final flush: its completion carries on
	}
	if !c.Ops.SendFailed && c.OutboundBuffered() > 0 {
		c.Ops.Flushing = true
		if l.prepSend(c, poller.FlagFixedFile, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL) {
			return
		}
	}
	c.Ops.CloseSent = true
	s := l.sqe()
	s.PrepCloseDirect(c.Slot)
	s.SetUserData(connUserData(opClose, c))
}

// onCancel ends c's cancel of its operations (res: how many it found). Once it found every one
// the loop counts in flight, their own completions, which follow, end them: they are not
// cancelled again, for a cancel by descriptor walks every operation armed on the ring (and one
// that finds nothing searches on), which a loop closing thousands of connections at once would
// pay twice for each. A cancel finds nothing also while an operation's last completion is on
// its way, and is simply made again; but for a connection the loop had when the kernel dropped
// completions (Audited), one that finds nothing may be finding what is lost, and the close
// must not wait for it: the operations the loop still counts are taken as ended, and the
// connection fails. (A late completion of one that was only on its way is told stale by its
// generation.) res is a count for either kind of cancel (foundOne).
func (l *loop) onCancel(c *conn.Conn, res int32) {
	c.Ops.CancelSent = false
	inFlight := 0
	if c.Ops.RecvArmed {
		inFlight++
	}
	// A send of the final flush began after the cancel, which did not look for it.
	cancelledSend := c.SendBusy() && !c.Ops.Flushing
	if cancelledSend {
		inFlight++
	}
	// A connected datagram socket's sends are not counted (SendTo): the count would be fooled.
	if inFlight > 0 && int(res) >= inFlight && !c.IsDatagram() {
		c.Ops.OpsCancelled = true
	}
	// res is how many the cancel found, 0 for none (a cancel of the receive alone reports -ENOENT
	// for none, which dispatch turns into 0: foundOne).
	foundNone := res == 0
	if foundNone && c.Ops.Audited && (c.Ops.RecvArmed || cancelledSend) {
		c.Ops.RecvArmed = false
		if cancelledSend {
			c.FailSend()
		}
		l.CloseConn(c, c.OpError("read", errCompletionsLost))
	}
	l.advance(c)
}

// cancelOps cancels every operation c has in flight (once; its completion, or the completions
// of what it found, let the close protocol or a move go on). Where that is the receive alone
// (an idle connection, the common case), it is cancelled by its user data, which the kernel
// finds at once; a cancel by descriptor walks every operation armed on the ring, and closing
// thousands of connections at once, each with its walk, took seconds. A send in flight, or a
// datagram socket's sends (each its own record), are cancelled with everything else on the
// descriptor.
func (l *loop) cancelOps(c *conn.Conn) {
	if c.Ops.CancelSent || c.Ops.OpsCancelled {
		return
	}
	c.Ops.CancelSent = true
	l.opsCancels.Add(1)
	s := l.sqe()
	if c.Ops.RecvArmed && !c.SendBusy() && !c.IsDatagram() {
		s.PrepCancel(connUserData(opRecv, c), 0)
		s.SetUserData(connUserData(opCancelIdle, c))
		return
	}
	l.fdCancels.Add(1)
	s.PrepCancelFixedFd(c.Slot, poller.CancelAll)
	s.SetUserData(connUserData(opCancel, c))
}

// finishClose reports a connection whose descriptor is closed, once, and frees its slot.
func (l *loop) finishClose(c *conn.Conn, res int32) {
	if res < 0 {
		// The slot was already empty: nothing is leaked, but it means a bug in the protocol.
		l.set.fail(fmt.Errorf("ringset: loop %d: close slot %d: %w", l.idx, c.Slot, unix.Errno(-res)))
	}
	l.conns[c.Slot] = nil
	l.open--
	c.MarkClosed()
	if !l.set.cfg.ReportCloseFirst {
		l.reportClose(c)
	}
	c.ReleaseBuffers()
}

// reportClose calls OnClose for c (unless it was never reported open) and stops counting it.
func (l *loop) reportClose(c *conn.Conn) {
	if c.Ops.Unreported {
		return
	}
	l.count.Add(-1)
	action := None
	err := c.Err()
	l.set.guard(func() { action = l.set.handler.OnClose(c, err) })
	if action == Shutdown {
		l.set.Stop()
	}
}

// act carries out a handler's action for c, and resumes receiving if the handler consumed
// enough of what back-pressure held.
func (l *loop) act(c *conn.Conn, action Action) {
	switch action {
	case Close:
		l.CloseConn(c, nil)
	case Shutdown:
		l.set.Stop()
	}
	l.resumeOrPause(c)
}

// Wake calls OnTraffic for c as if data had arrived (gnet's Conn.Wake).
func (l *loop) Wake(c *conn.Conn) {
	if c.State() != conn.Open {
		return
	}
	action := None
	if err := l.set.guard(func() { action = l.set.handler.OnTraffic(c) }); err != nil {
		l.CloseConn(c, err)
		return
	}
	l.act(c, action)
}

// foundOne is a cancel of one operation's result as a count of what it found, as a cancel of
// every operation on a descriptor reports it: 1 when it found the operation (0), or found it
// already running (-EALREADY: its own completion follows); 0 when it found nothing (-ENOENT).
func foundOne(res int32) int32 {
	if res == 0 || res == -int32(unix.EALREADY) {
		return 1
	}
	return 0
}
