package compat

import (
	"testing"
	"unsafe"
)

// The gnet face of a connection fits the 48-byte size class: every connection keeps one for its
// life (docs/engine.md, "Memory per connection").
func TestGconnSize(t *testing.T) {
	if n := unsafe.Sizeof(gconn{}); n > 48 {
		t.Errorf("a gconn is %d bytes, over the 48-byte size class", n)
	}
}
