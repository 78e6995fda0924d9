// Package loopback is for tests that need a standard TCP connection to work against: both ends
// of one over loopback, made by the net package, or a standard dial accepted by a listener
// under test.
package loopback

import (
	"net"
	"testing"
)

// TCPPair returns the dialed and the accepted end of a new loopback TCP connection. Both are
// closed when the test ends; a test may close either earlier.
func TCPPair(t testing.TB) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback: listen: %v", err)
	}
	defer ln.Close()
	c, a := DialAccept(t, ln)
	return c.(*net.TCPConn), a.(*net.TCPConn)
}

// DialAccept dials ln's address with net and accepts the connection on ln: the dialed end and
// the accepted one, both closed when the test ends (a test may close either earlier).
func DialAccept(t testing.TB, ln net.Listener) (dialed, accepted net.Conn) {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatalf("loopback: dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := ln.Accept()
	if err != nil {
		t.Fatalf("loopback: accept: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return c, a
}
