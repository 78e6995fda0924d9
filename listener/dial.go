package listener

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/ringset"
)

// Dial connects to address on network ("tcp", "tcp4", "tcp6" or "unix") like net.Dial, from
// one of the shared loops' rings (SOCKET and CONNECT); the connection is a *Conn. Where
// io_uring cannot serve, and for other networks, it is net.Dial.
func Dial(network, address string) (net.Conn, error) {
	return DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context that bounds the connecting.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	if !available() {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	e, err := sharedEngine()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	lc := newConn(e, e.pick(), network)
	// The dial's outcome is delivered once: to the caller, or, when the caller gave up first
	// (ctx), to nobody, and the connection is closed.
	const (
		waiting = iota
		delivered
		abandoned
	)
	var state atomic.Int32
	done := make(chan error, 1)
	o := ringset.Opening{
		Prepare: lc.attach,
		Opened: func(c *conn.Conn, err error) {
			if err == nil {
				lc.laddr, lc.raddr = c.LocalAddr(), c.RemoteAddr()
			}
			if !state.CompareAndSwap(waiting, delivered) {
				if c != nil {
					lc.loopClose()
				}
				return
			}
			done <- err
		},
	}
	if err := e.set.Dial(ctx, lc.loop, network, address, o); err != nil {
		return nil, dialError(network, address, err)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		if state.CompareAndSwap(waiting, abandoned) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
		}
		err = <-done
	}
	if err != nil {
		return nil, dialError(network, address, err)
	}
	return lc, nil
}

func dialError(network, address string, err error) error {
	if isOpError(err) {
		return err
	}
	return &net.OpError{Op: "dial", Net: network, Err: err}
}
