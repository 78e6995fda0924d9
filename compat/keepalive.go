package compat

import (
	"fmt"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// keepAlive is gnet's keep-alive rule (WithTCPKeepAlive, Conn.SetKeepAlivePeriod) in the
// kernel's whole seconds: the idle time truncated to seconds, the interval a fifth of it (at
// least a second) unless given, and 5 probes unless given. As in gnet, an idle time or a given
// interval under a second is an error rather than rounded: the kernel takes no 0.
func keepAlive(idle, intvl time.Duration, cnt int) (idleSecs, intvlSecs, probes int, err error) {
	idleSecs = int(idle / time.Second)
	intvlSecs = max(1, idleSecs/5)
	if intvl != 0 {
		intvlSecs = int(intvl / time.Second)
	}
	if cnt == 0 {
		cnt = 5
	}
	if idleSecs <= 0 || intvlSecs <= 0 || cnt <= 0 {
		return 0, 0, 0, fmt.Errorf("uringnet: keep-alive idle %v, interval %v, count %d: invalid time duration", idle, intvl, cnt)
	}
	return idleSecs, intvlSecs, cnt, nil
}

// keepAliveOption is the error gnet reports for o's keep-alive options on a TCP socket (its Run
// fails on a TCP listener, its client on a TCP connection); nil when they are valid or unset.
func keepAliveOption(o *gnet.Options) error {
	if o.TCPKeepAlive <= 0 {
		return nil
	}
	_, _, _, err := keepAlive(o.TCPKeepAlive, o.TCPKeepInterval, o.TCPKeepCount)
	return err
}
