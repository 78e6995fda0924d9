package ringset

import (
	"net"
	"sync/atomic"
)

// handedPeers carries the peer's address of each connection the acceptor passes, from the
// acceptor's goroutine to the receiving loop's, by the connection's slot in the acceptor's
// table; the pass's completion on the loop carries the slot and a sequence number. A slot is
// used again once its connection has been passed, possibly before the loop has read the
// address: the sequence number, cleared while the address is rewritten, tells the loop that it
// came too late, and it looks the address up itself then.
type handedPeers struct {
	slots [acceptorSlots]handedPeer
	seq   uint32 // the last sequence number given (1 to genMask; 0 means none)
}

type handedPeer struct {
	seq  atomic.Uint32
	addr atomic.Pointer[net.TCPAddr]
}

// publish records peer (nil: not known) as the address of the connection in slot. Acceptor
// only.
func (h *handedPeers) publish(slot uint32, peer *net.TCPAddr) {
	p := &h.slots[slot]
	p.seq.Store(0)
	if peer == nil {
		p.addr.Store(nil)
		return
	}
	h.seq = h.seq%genMask + 1
	p.addr.Store(peer)
	p.seq.Store(h.seq)
}

// seqOf is the sequence number of the address published for slot, 0 for none. Acceptor only.
func (h *handedPeers) seqOf(slot uint32) uint32 { return h.slots[slot].seq.Load() }

// take returns the address published for slot under seq, or nil if there is none or it has
// been written over since. Any loop.
func (h *handedPeers) take(slot, seq uint32) *net.TCPAddr {
	if seq == 0 || slot >= acceptorSlots {
		return nil
	}
	p := &h.slots[slot]
	if p.seq.Load() != seq {
		return nil
	}
	addr := p.addr.Load()
	if p.seq.Load() != seq {
		return nil
	}
	return addr
}
