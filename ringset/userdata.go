package ringset

// A completion's user data says what it is for: the operation kind in the top byte, then the
// connection's generation (24 bits) and its slot (32 bits), so that a completion arriving after
// its connection closed and the slot was reused is recognised and dropped. Never a pointer.
type opKind uint8

const (
	opWake         opKind = iota + 1 // a wake-up message: run the task queue
	opNewConn                        // a descriptor passed by the acceptor; Res is its slot here
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
)

const genMask = 1<<24 - 1

func userData(kind opKind, gen, slot uint32) uint64 {
	return uint64(kind)<<56 | uint64(gen&genMask)<<32 | uint64(slot)
}

func splitUserData(ud uint64) (kind opKind, gen, slot uint32) {
	return opKind(ud >> 56), uint32(ud>>32) & genMask, uint32(ud)
}
