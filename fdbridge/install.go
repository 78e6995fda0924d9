package fdbridge

import (
	"fmt"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Install returns a new regular descriptor (close-on-exec) for direct descriptor slot of r,
// synchronously. It is for a ring's owner in the middle of other work: every other completion
// it reaps while waiting is handed to stash, in order, for the owner to dispatch afterwards.
// ud tags the install's own completion and must not be used by anything else in flight.
func Install(r *poller.Ring, slot uint32, ud uint64, stash func(poller.CQE)) (int, error) {
	sqe, err := r.GetSQE()
	if err != nil {
		return -1, fmt.Errorf("fdbridge: install slot %d: %w", slot, err)
	}
	sqe.PrepFixedFdInstall(slot, 0)
	sqe.SetUserData(ud)
	var batch [16]poller.CQE
	for {
		if _, err := r.SubmitAndWait(1); err != nil {
			return -1, fmt.Errorf("fdbridge: install slot %d: %w", slot, err)
		}
		n := r.ReapCompletions(batch[:])
		res, found := int32(0), false
		for i := range batch[:n] {
			if !found && batch[i].UserData == ud {
				res, found = batch[i].Res, true
				continue
			}
			stash(batch[i])
		}
		if found {
			if res < 0 {
				return -1, fmt.Errorf("fdbridge: install slot %d: %w", slot, unix.Errno(-res))
			}
			return int(res), nil
		}
	}
}
