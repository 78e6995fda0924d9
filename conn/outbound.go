package conn

// outbound holds bytes written but not yet acknowledged by the kernel: flight is what the one
// send in flight reads (the kernel holds its address, so it is never written or moved until the
// send completes); pending collects everything written after it, sent next, in order.
type outbound struct {
	pending []byte
	flight  []byte
	sent    int  // bytes of flight the kernel has acknowledged (a short send continues from here)
	busy    bool // a send is in flight
}

// Buffered is how many bytes are written but not yet sent.
func (o *outbound) Buffered() int { return len(o.pending) + len(o.flight) - o.sent }

func (o *outbound) write(p []byte) { o.pending = append(o.pending, p...) }

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

func (o *outbound) release() { *o = outbound{} }
