package listener

import (
	"testing"
	"unsafe"
)

// An accepted connection the poller serves costs this struct and its socket, which together
// must stay below what net's connection costs beyond the File a socket keeps (a netFD, the
// TCPConn and two addresses): each within its allocator's size class, and what the ring path
// needs behind link. (The socket's count of the uses of its File, and the state it makes when
// it first retires it, take it from 32 bytes to 48: TestTwoThousandConnectionsIdleHeap holds
// the whole below net's. A connection with a deadline set keeps a link of its own, in 64
// bytes with what its File was last given: net/http's, which hold kilobytes each.)
func TestConnFitsFortyEightBytes(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 48 {
		t.Fatalf("Conn is %d bytes, over 48", n)
	}
	if n := unsafe.Sizeof(socket{}); n > 48 {
		t.Fatalf("socket is %d bytes, over 48", n)
	}
	if n := unsafe.Sizeof(ringLink{}); n > 64 {
		t.Fatalf("ringLink is %d bytes, over 64", n)
	}
}
