package conn

import "github.com/valyala/bytebufferpool"

// outbound holds bytes written but not yet acknowledged by the kernel: the flight buffer is what
// the one send in flight reads (the kernel holds its address, so it is never written or moved
// until the send completes); the pending buffer collects everything written after it, sent
// next, in order.
//
// The two buffers come from the loop's free list (OutboundBuffers) when the connection writes
// into each and go back to it as soon as every byte written has been sent, so that an idle
// connection holds none; at a close they go back to outboundBufs (internal/poolbench,
// docs/engine.md). They are kept in the pool's wrappers themselves (bufs), the pending one at
// index p and the flight one at 1-p, rather than as slices of their own beside them: 32 bytes of
// the connection instead of 80.
type outbound struct {
	bufs [2]*bytebufferpool.ByteBuffer // taken when first written into; nil until then and once drained
	sent int                           // bytes of flight the kernel has acknowledged (a short send continues from here)
	p    uint8                         // which of bufs is pending; the other is in flight
	busy bool                          // a send is in flight
}

// outboundBufs are the connections' outbound buffers, a pool of their own so that its sizes
// are calibrated on them alone.
var outboundBufs bytebufferpool.Pool

// OutboundBuffers is a loop's free list of outbound buffers. Only the loop's goroutine uses it,
// so taking and giving back a buffer at every message costs no lock and no shared counter, as
// the pool behind it would (its Put calibrates sizes with atomic counters).
type OutboundBuffers struct {
	free []*bytebufferpool.ByteBuffer
}

// The free list keeps at most maxFreeOutbound buffers of at most maxKeptOutbound bytes: beyond
// those, the pool takes them, and it lets the collector have what it does not need.
const (
	maxFreeOutbound = 1024
	maxKeptOutbound = 64 << 10
)

func (f *OutboundBuffers) get() *bytebufferpool.ByteBuffer {
	n := len(f.free)
	if n == 0 {
		return outboundBufs.Get()
	}
	b := f.free[n-1]
	f.free[n-1] = nil
	f.free = f.free[:n-1]
	return b
}

func (f *OutboundBuffers) put(b *bytebufferpool.ByteBuffer) {
	if len(f.free) >= maxFreeOutbound || cap(b.B) > maxKeptOutbound {
		outboundBufs.Put(b)
		return
	}
	b.B = b.B[:0]
	f.free = append(f.free, b)
}

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

func (o *outbound) write(p []byte, free *OutboundBuffers) {
	b := o.bufs[o.p]
	if b == nil {
		b = free.get()
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

// sendDone records that the send in flight wrote n bytes. It reports whether bytes remain;
// when none do, the buffers go back to free.
func (o *outbound) sendDone(n int, free *OutboundBuffers) bool {
	o.busy = false
	o.sent += n
	if o.Buffered() > 0 {
		return true
	}
	for i, b := range o.bufs {
		if b != nil {
			free.put(b)
			o.bufs[i] = nil
		}
	}
	o.sent = 0
	return false
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
