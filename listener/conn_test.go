package listener

import (
	"testing"
	"unsafe"
)

// A connection the poller serves costs what net's does plus this struct: it must stay within
// the allocator's 48-byte size class, and what the ring path needs lives behind link.
func TestConnFitsFortyEightBytes(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 48 {
		t.Fatalf("Conn is %d bytes, over 48", n)
	}
	if n := unsafe.Sizeof(ringLink{}); n > 32 {
		t.Fatalf("ringLink is %d bytes, over 32", n)
	}
}
