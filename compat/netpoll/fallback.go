package netpoll

import (
	"github.com/panjf2000/gnet/v2/pkg/logging"
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
	"github.com/uringnet/uringnet/ringset"
)

var fallback ringset.Fallback

// openEpoll opens gnet's epoll Poller in place of a ring, saying why once per process in
// gnet's log.
func openEpoll(why error) (*Poller, error) {
	fallback.Note(logging.GetDefaultLogger().Warnf, "netpoll", "using gnet's epoll poller", why)
	ep, err := gnetpoll.OpenPoller()
	if err != nil {
		return nil, err
	}
	return &Poller{epoll: ep}, nil
}
