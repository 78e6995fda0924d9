package netpoll

// A completion's user data: its kind in the top byte, a generation in the next three, the
// descriptor in the low four. Never a pointer.
const (
	kindPoll   uint8 = iota + 1 // a registration's poll
	kindWake                    // Trigger's wake-up: run the task queues
	kindNudge                   // a change from another goroutine, or Close: go round before waiting
	kindUpdate                  // a POLL_UPDATE that failed (success posts nothing)
	kindRemove                  // a POLL_REMOVE that failed (success posts nothing)
)

const genMask = 1<<24 - 1

func userData(kind uint8, gen uint32, fd int32) uint64 {
	return uint64(kind)<<56 | uint64(gen&genMask)<<32 | uint64(uint32(fd))
}

func splitUserData(ud uint64) (kind uint8, gen uint32, fd int32) {
	return uint8(ud >> 56), uint32(ud>>32) & genMask, int32(uint32(ud))
}
