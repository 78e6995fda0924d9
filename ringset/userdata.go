package ringset

import "github.com/uringnet/uringnet/conn"

// A completion's user data says what it is for: the operation kind in the top byte, then the
// connection's generation (24 bits) and its slot (32 bits), so that a completion arriving after
// its connection closed and the slot was reused is recognised and dropped. Never a pointer.
type opKind uint8

const (
	opWake         opKind = iota + 1 // a wake-up message: run the task queue
	opNewConn                        // a descriptor passed by the acceptor; Res is its slot here; slot and gen bits: handedPeers'
	opRecv                           // the connection's multishot receive
	opSend                           // the connection's send
	opCancel                         // the close protocol's cancel
	opClose                          // the close of the connection's descriptor
	opAccept                         // the acceptor's multishot accept
	opHandOff                        // the acceptor's MSG_RING passing a descriptor
	opHandOffClose                   // the acceptor's close of its copy once passed
	opInstall                        // FIXED_FD_INSTALL for a connection's real descriptor
	opRecvFrom                       // a UDP loop's multishot RECVMSG
	opSendTo                         // a datagram's SENDMSG; the slot bits index its send record
	opWakeSent                       // a wake-up MSG_RING this loop sent another (failures only)
	opSetup                          // an operation of a ring's setup, waited for on the spot
	opAdopt                          // FILES_UPDATE placing an adopted descriptor; slot bits: its record
	opDialSocket                     // a dial's SOCKET; slot bits: its record
	opDialOption                     // a dial's TCP_NODELAY, linked before its connect (failures only)
	opDialConnect                    // a dial's CONNECT; slot bits: its record
	opCloseOrphan                    // the close of a slot that never became a connection (failures only)
	opMoveIn                         // a moved connection's descriptor arrived; slot bits: its handoff token
	opMoveOut                        // this loop's pass of a moving connection (failures only); slot bits: token
	opMoveClose                      // the close of a moved connection's old slot
	opDialAux                        // a dial's linked timeout, or the cancel of its connect (both ignored)
	opAuditOwn                       // the audit's cancel of the loop's own accept or receive; slot bits: its kind
	opRecvCancel                     // the cancel of a connection's receive when its receiving is turned off
	opAuditFlush                     // the audit's cancel after a final-flush send, to learn whether its completion was lost
	opCancelIdle                     // the close protocol's cancel of an idle connection: its receive, by its user data
)

const genMask = 1<<24 - 1

// The constructors per kind of tag: what the generation and slot bits carry differs by kind,
// and each says which.

// connUserData tags an operation of connection c: its generation and slot.
func connUserData(kind opKind, c *conn.Conn) uint64 { return userData(kind, c.Gen, c.Slot) }

// recordUserData tags an operation whose slot bits index a record of the loop's or the
// acceptor's own (a dial, an adoption, a datagram's send, a move's token, a slot being
// closed), or carry nothing (idx 0); its generation bits are 0.
func recordUserData(kind opKind, idx uint32) uint64 { return userData(kind, 0, idx) }

// acceptUserData tags an accept: the generation bits carry the accepts' epoch (see audit) and
// whether it is single-shot accept i with the peer's address (the acceptor's) rather than a
// loop's own multishot one, the slot bits i.
func acceptUserData(epoch uint32, single bool, i uint32) uint64 {
	gen := epoch << 1
	if single {
		gen |= 1
	}
	return userData(opAccept, gen, i)
}

// splitAccept undoes acceptUserData's generation bits.
func splitAccept(gen uint32) (epoch uint32, single bool) { return gen >> 1, gen&1 == 1 }

// handOffUserData tags the acceptor's pass of slot to loop target, with how many loops were
// tried before, so that a failed pass can undo the target's count and try the next, and the
// tag of the accepts' epoch the connection is counted in (epochTag), which its close keeps.
func handOffUserData(target, tried int, tag, slot uint32) uint64 {
	return userData(opHandOff, uint32(target)|uint32(tried)<<8|tag<<17, slot)
}

// splitHandOff undoes handOffUserData's generation bits.
func splitHandOff(gen uint32) (target, tried int, tag uint32) {
	return int(gen & 0xff), int(gen >> 8 & 0x1ff), gen >> 17
}

// epochTag is the part of the acceptor's epoch that a pass and the close of the acceptor's
// copy carry (the bits left beside the target and the loops tried; MaxLoops fits in 9).
func epochTag(epoch uint32) uint32 { return epoch & 0x7f }

func userData(kind opKind, gen, slot uint32) uint64 {
	return uint64(kind)<<56 | uint64(gen&genMask)<<32 | uint64(slot)
}

func splitUserData(ud uint64) (kind opKind, gen, slot uint32) {
	return opKind(ud >> 56), uint32(ud>>32) & genMask, uint32(ud)
}
