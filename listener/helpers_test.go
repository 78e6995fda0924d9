package listener

import (
	"net"
	"testing"
)

// connPair returns our accepted connection and a standard dialed one, on TCP, closed when the
// test ends.
func connPair(t testing.TB) (ours *Conn, peer net.Conn) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, peer := acceptPair(t, ln)
	return c.(*Conn), peer
}

// acceptPair dials ln with net and accepts the connection: ours and the standard peer, both
// closed when the test ends (closing either before is fine).
func acceptPair(t testing.TB, ln net.Listener) (ours, peer net.Conn) {
	t.Helper()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ours, err = ln.Accept()
	if err != nil {
		peer.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { ours.Close(); peer.Close() })
	return ours, peer
}
