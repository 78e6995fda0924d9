package listener

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/net/nettest"
)

// Each pairing runs golang.org/x/net/nettest's whole net.Conn suite.

// ours accepted (c1) against the standard library's dialed conn (c2).
func TestNettestAcceptedVsStdDialed(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			ln, err := Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, nil, nil, err
			}
			defer ln.Close()
			return pair(ln, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }, false)
		})
	})
}

// ours dialed (c1) against a standard listener's accepted conn (c2).
func TestNettestDialedVsStdListener(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, nil, nil, err
			}
			defer ln.Close()
			return pair(ln, func() (net.Conn, error) { return Dial("tcp", ln.Addr().String()) }, true)
		})
	})
}

// ours against ours, over TCP and over a unix socket.
func TestNettestOursVsOurs(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(network, func(t *testing.T) {
				nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
					address := "127.0.0.1:0"
					if network == "unix" {
						address = t.TempDir() + "/s"
					}
					ln, err := Listen(network, address)
					if err != nil {
						return nil, nil, nil, err
					}
					defer ln.Close()
					return pair(ln, func() (net.Conn, error) { return Dial(network, ln.Addr().String()) }, false)
				})
			})
		}
	})
}

// pair accepts one connection from ln while dial connects; c1 is the accepted end, or the
// dialed one with dialedFirst, and must be ours. It runs inside nettest's subtests, so it
// reports failures as errors (nettest fails the subtest with them) rather than through the
// parent test's t.
func pair(ln net.Listener, dial func() (net.Conn, error), dialedFirst bool) (c1, c2 net.Conn, stop func(), err error) {
	type accepted struct {
		c   net.Conn
		err error
	}
	ac := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ac <- accepted{c, err}
	}()
	d, err := dial()
	a := <-ac
	if err != nil || a.err != nil {
		if d != nil {
			d.Close()
		}
		if a.c != nil {
			a.c.Close()
		}
		if err == nil {
			err = a.err
		}
		return nil, nil, nil, err
	}
	c1, c2 = a.c, d
	if dialedFirst {
		c1, c2 = d, a.c
	}
	if _, ok := c1.(*Conn); !ok {
		c1.Close()
		c2.Close()
		return nil, nil, nil, fmt.Errorf("c1 is %T, want *listener.Conn", c1)
	}
	return c1, c2, func() { c1.Close(); c2.Close() }, nil
}
