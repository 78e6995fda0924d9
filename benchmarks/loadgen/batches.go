package loadgen

import "bytes"

// batches are what a connection of the closed loop sends and what must come back. For
// connection id's batch seq, next returns the request, sent whole, and the reply that must
// come back for it, byte for byte, perMessage bytes to a message; buf is the request next
// returned for the connection's previous batch (nil the first time), which it may reuse.
type batches struct {
	perMessage int
	next       func(id int, seq uint64, buf []byte) (request, reply []byte)
}

// batchesFor returns the batches of cfg's protocol (echo or RESP).
func batchesFor(cfg Config) batches {
	if isRESP(cfg.Protocol) {
		command, reply := respCommand(cfg.Protocol, cfg.Size)
		request, replies := bytes.Repeat(command, cfg.Depth), bytes.Repeat(reply, cfg.Depth)
		// The same bytes every time, shared by every connection: the kernel only reads them.
		return batches{perMessage: len(reply), next: func(int, uint64, []byte) ([]byte, []byte) {
			return request, replies
		}}
	}
	size, depth := cfg.Size, cfg.Depth
	return batches{perMessage: size, next: func(id int, seq uint64, buf []byte) ([]byte, []byte) {
		if buf == nil {
			buf = make([]byte, size*depth)
		}
		fill(buf, size, id, seq)
		return buf, buf // an echo's reply is its request
	}}
}
