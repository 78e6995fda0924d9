package listener

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// The loop's side of a ringConn: every function here runs on the connection's loop.

// loopReceived hands what arrived to the readers (OnTraffic).
func (r *ringConn) loopReceived(c *conn.Conn) {
	if r.userClosed {
		r.dropUnread(c)
		return
	}
	r.handOver(c)
}

// dropUnread drops input that arrived for a closed connection, or that it held unread when
// closed, and makes its close abortive: the kernel resets a TCP socket closed with input
// unread, or that input arrives for, and it is the loop that took this input from the kernel
// (a unix stream socket ignores the linger: its peer reads the end of the stream). Input
// handed to the readers counts while no reader took it: handed over after Close looked for it,
// it will never be read (a reader that takes it after Close finds the connection closed).
func (r *ringConn) dropUnread(c *conn.Conn) {
	if c.InboundBuffered() > 0 || r.rx.Load() != nil {
		c.SetLinger(0) // through the loop's own hold on the socket: Close may have closed the File
		c.Discard(-1)
	}
}

// handOver moves buffered input into a chunk for the readers, if they took the last one; else
// it leaves it on the loop and notes that the readers must ask for it (rxMore). Once all is
// handed over after the peer's EOF, the readers learn of the EOF.
func (r *ringConn) handOver(c *conn.Conn) {
	for c.InboundBuffered() > 0 {
		if r.rx.Load() != nil {
			r.rxMore.Store(true)
			if r.rx.Load() != nil {
				return // the reader's take will see rxMore and ask again
			}
		}
		r.rx.Store(readChunk(c))
		r.wakeReaderIfWaiting()
	}
	if r.eofSeen && !r.eof.Load() {
		r.eof.Store(true)
		r.wakeReaderIfWaiting()
	}
	if r.recvStopped && !r.drained.Load() {
		r.drained.Store(true)
		r.wakeReaderIfWaiting()
	}
}

// wakeReaderIfWaiting wakes a reader that announced it waits for bytes, the EOF or the end of
// receiving; one that did not will see them before it parks (it announces, then checks).
func (r *ringConn) wakeReaderIfWaiting() {
	if r.rxWaiting.Swap(false) {
		r.wakeReader()
	}
}

// wakeWriterIfWaiting wakes a writer that announced it waits for room.
func (r *ringConn) wakeWriterIfWaiting() {
	if r.wWaiting.Swap(false) {
		r.wakeWriter()
	}
}

// wakeReader puts the token in the readers' channel whether or not one waits: for what a
// reader checks before it announces itself (Close, a deadline, the loop's close), so that one
// parked in between finds the token. A token nobody needed costs a later Read one more turn.
func (r *ringConn) wakeReader() {
	select {
	case r.rxWake <- struct{}{}:
	default:
	}
}

// wakeWriter is wakeReader for writers.
func (r *ringConn) wakeWriter() {
	select {
	case r.wWake <- struct{}{}:
	default:
	}
}

// loopRefill hands over what was held back, now that the readers took the last chunk.
func (r *ringConn) loopRefill() {
	if c := r.c; c.State() == conn.Open && !r.userClosed {
		r.handOver(c)
	}
}

// loopStartReceiving turns receiving on: the reader reads from the ring from now on.
func (r *ringConn) loopStartReceiving() {
	r.recvStopped = false
	r.eng.set.SetReceiving(r.c, true)
}

// loopStopReceiving turns receiving off for a reader going back to the poller; OnReceiveStopped
// follows once the armed receive has ended (at once if none was).
func (r *ringConn) loopStopReceiving() { r.eng.set.SetReceiving(r.c, false) }

// loopReceiveStopped: receiving has ended (OnReceiveStopped). What the loop still holds is
// handed over; the reader learns it has everything once the last chunk is (handOver).
func (r *ringConn) loopReceiveStopped(c *conn.Conn) {
	r.recvStopped = true
	r.handOver(c)
}

// loopEOF: the peer ended its side (OnReadEOF); the connection stays open for writing.
func (r *ringConn) loopEOF(c *conn.Conn) {
	r.eofSeen = true
	r.handOver(c)
}

// loopFlush moves what writers queued into the connection's outbound buffer; it is sent at the
// end of the loop's batch.
func (r *ringConn) loopFlush() {
	r.wPosted.Store(false)
	r.flushBox(r.c)
}

// flushBox moves the writers' list of chunks, in order, into c's outbound buffer (if c is still
// open) and returns each chunk to its pool.
func (r *ringConn) flushBox(c *conn.Conn) {
	ch := r.wbox.Swap(nil)
	if ch == nil {
		return
	}
	open := c.State() == conn.Open
	for ch != nil {
		if open {
			c.Write(ch.b)
		}
		next := ch.next
		putChunk(ch)
		ch = next
	}
	if open {
		r.lastOut = c.OutboundBuffered()
	}
}

// loopSent: a send completed (OnSent). Writers waiting for room are woken, and a close or a
// CloseWrite waiting for the last byte to leave goes ahead.
func (r *ringConn) loopSent(c *conn.Conn) {
	now := c.OutboundBuffered()
	if sent := r.lastOut - now; sent > 0 {
		r.wPending.Add(-int64(sent))
		r.wakeWriterIfWaiting()
	}
	r.lastOut = now
	if now > 0 || r.wbox.Load() != nil {
		return
	}
	switch {
	case r.closeWhenSent:
		c.Close()
	case r.shutWhenSent:
		r.shutWhenSent = false
		r.lc.nc.CloseWrite()
	}
}

// loopClose carries out Close: input is dropped from now on; what was written goes out first,
// for at most closeLinger.
func (r *ringConn) loopClose() {
	c := r.c
	r.userClosed = true
	if c.State() != conn.Open {
		return
	}
	r.dropUnread(c)
	r.flushBox(c)
	if c.OutboundBuffered() == 0 {
		c.Close()
		return
	}
	r.closeWhenSent = true
	r.linger = time.AfterFunc(closeLinger, func() { r.post(func() { c.Close() }) })
}

// closeWrite carries out CloseWrite: the FIN follows what was written.
func (r *ringConn) closeWrite(c *conn.Conn) error {
	r.flushBox(c)
	if c.OutboundBuffered() > 0 {
		r.shutWhenSent = true
		return nil
	}
	return r.lc.nc.CloseWrite()
}

// loopClosed: the connection is closed (OnClose); err is nil for a local close. What the loop
// received and had not handed over goes to the readers still, after what it had (rxLeft).
func (r *ringConn) loopClosed(c *conn.Conn, err error) {
	if r.linger != nil {
		r.linger.Stop()
	}
	if err == nil || err == io.EOF || r.userClosed {
		err = net.ErrClosed
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.deadErrno = errno
	}
	if !r.userClosed {
		r.rxLeft.Store(leftInput(c))
	}
	r.deadErr = err
	close(r.dead)
	r.wakeReader()
	r.wakeWriter()
	r.eng.unref()
}

// readChunk moves as much of c's input as a chunk holds into one.
func readChunk(c *conn.Conn) *chunk {
	n := c.InboundBuffered()
	ch := getChunk(n)
	ch.b = ch.b[:c.Read(ch.b[:min(n, cap(ch.b))])]
	return ch
}

// leftInput is c's unconsumed input as a list of chunks, nil for none.
func leftInput(c *conn.Conn) *chunk {
	var head, tail *chunk
	for c.InboundBuffered() > 0 {
		ch := readChunk(c)
		if tail == nil {
			head = ch
		} else {
			tail.next = ch
		}
		tail = ch
	}
	return head
}
