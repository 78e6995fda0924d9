package conn

import "github.com/valyala/bytebufferpool"

// outbound holds bytes written but not yet acknowledged by the kernel: the flight buffer is what
// the one send in flight reads (the kernel holds its address, so it is never written or moved
// until the send completes); the pending buffer collects everything written after it, sent
// next, in order.
//
// The two buffers come from outboundBufs when the connection first writes into each and go back
// at its close, so that connections that come and go reuse them (internal/poolbench,
// docs/engine.md). They are kept in the pool's wrappers themselves (bufs), the pending one at
// index p and the flight one at 1-p, rather than as slices of their own beside them: 32 bytes of
// the connection instead of 80.
type outbound struct {
	bufs [2]*bytebufferpool.ByteBuffer // taken from the pool on first use; nil until then
	sent int                           // bytes of flight the kernel has acknowledged (a short send continues from here)
	p    uint8                         // which of bufs is pending; the other is in flight
	busy bool                          // a send is in flight
}

// outboundBufs are the connections' outbound buffers, a pool of their own so that its sizes
// are calibrated on them alone.
var outboundBufs bytebufferpool.Pool

// bytesOf is b's bytes, none for a buffer not taken.
func bytesOf(b *bytebufferpool.ByteBuffer) []byte {
	if b == nil {
		return nil
	}
	return b.B
}

func (o *outbound) pending() []byte { return bytesOf(o.bufs[o.p]) }
func (o *outbound) flight() []byte  { return bytesOf(o.bufs[1-o.p]) }

// Buffered is how many bytes are written but not yet sent.
func (o *outbound) Buffered() int { return len(o.pending()) + len(o.flight()) - o.sent }

func (o *outbound) write(p []byte) {
	b := o.bufs[o.p]
	if b == nil {
		b = outboundBufs.Get()
		o.bufs[o.p] = b
	}
	b.B = append(b.B, p...)
}

// nextSend returns the bytes the next send should carry, or nil when a send is in flight or
// nothing waits. It marks the send as in flight.
func (o *outbound) nextSend() []byte {
	if o.busy {
		return nil
	}
	if o.sent == len(o.flight()) {
		if len(o.pending()) == 0 {
			return nil
		}
		// The drained flight buffer becomes the next pending buffer: two buffers, reused.
		if f := o.bufs[1-o.p]; f != nil {
			f.B = f.B[:0]
		}
		o.p, o.sent = 1-o.p, 0
	}
	o.busy = true
	return o.flight()[o.sent:]
}

// inFlight is how many bytes the send in flight was given (0 when none is in flight).
func (o *outbound) inFlight() int {
	if !o.busy {
		return 0
	}
	return len(o.flight()) - o.sent
}

// sendDone records that the send in flight wrote n bytes. It reports whether bytes remain.
func (o *outbound) sendDone(n int) bool {
	o.busy = false
	o.sent += n
	return o.Buffered() > 0
}

// release gives the buffers back to the pool, unless the kernel may still read one (a send in
// flight: they are left to the collector), and empties o.
func (o *outbound) release() {
	if !o.busy {
		for _, b := range o.bufs {
			if b != nil {
				outboundBufs.Put(b)
			}
		}
	}
	*o = outbound{}
}
