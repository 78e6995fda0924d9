package listener

import (
	"io"
	"net"
	"os"
	"time"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// The loop's side of a Conn: every function here runs on the connection's loop.

// loopReceived hands what arrived to the readers (OnTraffic).
func (lc *Conn) loopReceived(c *conn.Conn) {
	if lc.userClosed || lc.readDiscard {
		c.Discard(-1)
		return
	}
	lc.handOver(c)
}

// handOver moves buffered input into a chunk for the readers, if they took the last one; else
// it leaves it on the loop and notes that the readers must ask for it (rxMore). Once all is
// handed over after the peer's EOF, the readers learn of the EOF.
func (lc *Conn) handOver(c *conn.Conn) {
	for c.InboundBuffered() > 0 {
		if lc.rx.Load() != nil {
			lc.rxMore.Store(true)
			if lc.rx.Load() != nil {
				return // the reader's take will see rxMore and ask again
			}
		}
		n := c.InboundBuffered()
		ch := getChunk(n)
		ch.b = ch.b[:c.Read(ch.b[:min(n, cap(ch.b))])]
		lc.rx.Store(ch)
		lc.wakeReader()
	}
	if lc.eofSeen && !lc.eof.Load() {
		lc.eof.Store(true)
		lc.wakeReader()
	}
}

// wakeReader wakes a reader that announced it waits for bytes or the EOF; one that did not
// will see them before it parks (it announces, then checks).
func (lc *Conn) wakeReader() {
	if lc.rxWaiting.Swap(false) {
		if !lc.rxRunning.Swap(true) {
			lc.eng.running[lc.loop].n.Add(1)
		}
		lc.rouseReader()
	}
}

// stopRunning takes the reader out of its loop's running count.
func (lc *Conn) stopRunning() {
	if lc.rxRunning.Swap(false) {
		lc.eng.running[lc.loop].n.Add(-1)
	}
}

// wakeWriter wakes a writer that announced it waits for room.
func (lc *Conn) wakeWriter() {
	if lc.wWaiting.Swap(false) {
		lc.rouseWriter()
	}
}

// rouseReader puts the token in the readers' channel whether or not one waits: for what a
// reader checks before it announces itself (Close, a deadline, the loop's close), so that one
// parked in between finds the token. A token nobody needed costs a later Read one more turn.
func (lc *Conn) rouseReader() {
	select {
	case lc.rxWake <- struct{}{}:
	default:
	}
}

// rouseWriter is rouseReader for writers.
func (lc *Conn) rouseWriter() {
	select {
	case lc.wWake <- struct{}{}:
	default:
	}
}

// loopRefill hands over what was held back, now that the readers took the last chunk.
func (lc *Conn) loopRefill() {
	if c := lc.c; c.State() == conn.Open && !lc.userClosed && !lc.readDiscard {
		lc.handOver(c)
	}
}

// loopEOF: the peer ended its side (OnReadEOF); the connection stays open for writing.
func (lc *Conn) loopEOF(c *conn.Conn) {
	lc.eofSeen = true
	lc.handOver(c)
}

// loopFlush moves what writers queued into the connection's outbound buffer; it is sent at the
// end of the loop's batch.
func (lc *Conn) loopFlush() {
	lc.wPosted.Store(false)
	lc.flushBox(lc.c)
}

// flushBox moves the writers' list of chunks, in order, into c's outbound buffer (if c is still
// open) and returns each chunk to its pool.
func (lc *Conn) flushBox(c *conn.Conn) {
	ch := lc.wbox.Swap(nil)
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
		lc.lastOut = c.OutboundBuffered()
	}
}

// loopSent: a send completed (OnSent). Writers waiting for room are woken, and a close or a
// CloseWrite waiting for the last byte to leave goes ahead.
func (lc *Conn) loopSent(c *conn.Conn) {
	now := c.OutboundBuffered()
	if sent := lc.lastOut - now; sent > 0 {
		lc.wPending.Add(-int64(sent))
		lc.wakeWriter()
	}
	lc.lastOut = now
	if now > 0 || lc.wbox.Load() != nil {
		return
	}
	switch {
	case lc.closeWhenSent:
		c.Close()
	case lc.shutWhenSent:
		lc.shutWhenSent = false
		lc.shutdown(c, unix.SHUT_WR)
	}
}

// loopClose carries out Close: input is dropped from now on; what was written goes out first,
// for at most closeLinger.
func (lc *Conn) loopClose() {
	c := lc.c
	lc.userClosed = true
	if c.State() != conn.Open {
		return
	}
	c.Discard(-1)
	lc.flushBox(c)
	if c.OutboundBuffered() == 0 {
		c.Close()
		return
	}
	lc.closeWhenSent = true
	lc.linger = time.AfterFunc(closeLinger, func() { lc.post(func() { c.Close() }) })
}

// closeWrite carries out CloseWrite: the FIN follows what was written.
func (lc *Conn) closeWrite(c *conn.Conn) error {
	lc.flushBox(c)
	if c.OutboundBuffered() > 0 {
		lc.shutWhenSent = true
		return nil
	}
	return lc.shutdown(c, unix.SHUT_WR)
}

func (lc *Conn) shutdown(c *conn.Conn, how int) error {
	fd, err := c.Fd()
	if err != nil {
		return err
	}
	if err := unix.Shutdown(fd, how); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	return nil
}

// loopClosed: the connection is closed (OnClose); err is nil for a local close.
func (lc *Conn) loopClosed(err error) {
	if lc.linger != nil {
		lc.linger.Stop()
	}
	if err == nil || err == io.EOF || lc.userClosed {
		err = net.ErrClosed
	}
	lc.deadErr = err
	lc.sys.close()
	lc.stopRunning()
	close(lc.dead)
	lc.rouseReader()
	lc.rouseWriter()
	lc.eng.unref()
}
