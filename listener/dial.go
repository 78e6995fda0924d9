package listener

import (
	"context"
	"net"

	"github.com/uringnet/uringnet/ringset"
)

// Dial connects to address on network like net.Dial; for "tcp", "tcp4", "tcp6" and "unix" the
// connection is a *Conn, which the poller and the rings serve as they do accepted ones. Where
// io_uring cannot serve, and for other networks, it is net.Dial's connection.
func Dial(network, address string) (net.Conn, error) {
	return DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context that bounds the connecting.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if !ringset.IsStream(network) {
		return nc, nil
	}
	if !available() {
		return nc, nil
	}
	e, err := sharedEngine()
	if err != nil {
		nc.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: nc.RemoteAddr(), Err: err}
	}
	return newConn(e, nc.(stdConn)), nil
}
