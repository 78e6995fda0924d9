package compat

import (
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// keepAlive is gnet's arithmetic for its keep-alive options (WithTCPKeepAlive,
// WithTCPKeepInterval, WithTCPKeepCount): the interval a fifth of the idle time unless given,
// 5 probes unless given, both times truncated to the kernel's whole seconds. As in gnet, a time
// that truncates to 0 is an error rather than rounded: the kernel takes no 0.
func keepAlive(idle, intvl time.Duration, cnt int) (idleSecs, intvlSecs, probes int, err error) {
	if intvl == 0 {
		intvl = idle / 5
	}
	if cnt == 0 {
		cnt = 5
	}
	idleSecs, intvlSecs = int(idle.Seconds()), int(intvl.Seconds())
	if idleSecs <= 0 || intvlSecs <= 0 || cnt <= 0 {
		return 0, 0, 0, errors.New("invalid time duration") // gnet's words
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
