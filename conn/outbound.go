package conn

import "github.com/valyala/bytebufferpool"

// outbound holds bytes written but not yet acknowledged by the kernel: flight is what the one
// send in flight reads (the kernel holds its address, so it is never written or moved until the
// send completes); pending collects everything written after it, sent next, in order.
//
// The two buffers come from outboundBufs when the connection first writes into each and go back
// at its close, so that connections that come and go reuse them (internal/poolbench,
// docs/engine.md).
type outbound struct {
	pending []byte
	flight  []byte
	sent    int  // bytes of flight the kernel has acknowledged (a short send continues from here)
	busy    bool // a send is in flight
	// boxes are the pool's wrappers of the buffers taken (any box holds either buffer).
	boxes [2]*bytebufferpool.ByteBuffer
}

// outboundBufs are the connections' outbound buffers, a pool of their own so that its sizes
// are calibrated on them alone.
var outboundBufs bytebufferpool.Pool

// Buffered is how many bytes are written but not yet sent.
func (o *outbound) Buffered() int { return len(o.pending) + len(o.flight) - o.sent }

func (o *outbound) write(p []byte) {
	if o.pending == nil {
		o.pending = o.take()
	}
	o.pending = append(o.pending, p...)
}

// take returns an empty buffer from the pool, keeping its box for release.
func (o *outbound) take() []byte {
	for i, box := range o.boxes {
		if box == nil {
			o.boxes[i] = outboundBufs.Get()
			return o.boxes[i].B[:0]
		}
	}
	return nil // both buffers are taken: pending was emptied to nil, append allocates
}

// nextSend returns the bytes the next send should carry, or nil when a send is in flight or
// nothing waits. It marks the send as in flight.
func (o *outbound) nextSend() []byte {
	if o.busy {
		return nil
	}
	if o.sent == len(o.flight) {
		if len(o.pending) == 0 {
			return nil
		}
		// The drained flight buffer becomes the next pending buffer: two buffers, reused.
		o.flight, o.pending, o.sent = o.pending, o.flight[:0], 0
	}
	o.busy = true
	return o.flight[o.sent:]
}

// inFlight is how many bytes the send in flight was given (0 when none is in flight).
func (o *outbound) inFlight() int {
	if !o.busy {
		return 0
	}
	return len(o.flight) - o.sent
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
		bufs := [2][]byte{o.pending, o.flight}
		if cap(bufs[0]) == 0 {
			bufs[0], bufs[1] = bufs[1], bufs[0] // with one box taken, it gets the buffer there is
		}
		for i, box := range o.boxes {
			if box != nil {
				box.B = bufs[i]
				outboundBufs.Put(box)
			}
		}
	}
	*o = outbound{}
}
