package ringset

import "github.com/uringnet/uringnet/poller"

// prepPass prepares on r the pass of the direct descriptor in slot to the ring targetFd by
// MSG_RING (IORING_MSG_SEND_FD into a slot the target allocates; the target's completion
// carries arrive), linked to the close of slot here, so that once passed the descriptor lives
// in the target's table alone. The pass is silent on success; if it fails, its completion
// carries failed and the linked close is cancelled with it (its completion, carrying closed,
// says -ECANCELED unless closeFlags silence it). Acceptor and loops pass descriptors so.
func prepPass(r *poller.Ring, targetFd int, slot uint32, arrive, failed, closed uint64, closeFlags poller.SQEFlags) error {
	// The pass and the close are one chain: keep the queue from being submitted between them.
	if err := r.Reserve(2); err != nil {
		return err
	}
	pass, err := r.GetSQE()
	if err != nil {
		return err
	}
	pass.PrepMsgRingFd(targetFd, slot, poller.AllocSlot, arrive)
	pass.SetFlags(poller.FlagIOLink | poller.FlagCQESkipSuccess)
	pass.SetUserData(failed)
	cl, err := r.GetSQE() // cannot fail after Reserve
	if err != nil {
		return err
	}
	cl.PrepCloseDirect(slot)
	cl.SetFlags(closeFlags)
	cl.SetUserData(closed)
	return nil
}
