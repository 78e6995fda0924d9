package netpoll

import (
	"sync"

	"github.com/panjf2000/gnet/v2/pkg/logging"
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
)

var fallbackOnce sync.Once

// openEpoll opens gnet's epoll Poller in place of a ring, saying why once per process in
// gnet's log.
func openEpoll(why error) (*Poller, error) {
	fallbackOnce.Do(func() {
		logging.GetDefaultLogger().Warnf("uringnet: netpoll: io_uring cannot serve (%v); using gnet's epoll poller", why)
	})
	ep, err := gnetpoll.OpenPoller()
	if err != nil {
		return nil, err
	}
	return &Poller{epoll: ep}, nil
}
