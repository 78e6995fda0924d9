package fdbridge

import (
	"net"
	"strconv"
	"testing"
)

// An IPv6 zone is named as net names it: by the interface's name, or by the index in decimal
// when no interface has it; names are asked of the kernel again for an index not yet known.
func TestZoneNamesAsNet(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if got := zoneName(uint32(lo.Index)); got != "lo" {
		t.Errorf("zone of the loopback's index %d: %q", lo.Index, got)
	}
	if got := zoneName(0); got != "" {
		t.Errorf("zone of index 0: %q, want none", got)
	}
	const none = 1 << 30
	if got := zoneName(none); got != strconv.Itoa(none) {
		t.Errorf("zone of an index no interface has: %q", got)
	}
	zones.Lock()
	delete(zones.byIndex, uint32(lo.Index)) // as if the interface came after the names were kept
	zones.Unlock()
	if got := zoneName(uint32(lo.Index)); got != "lo" {
		t.Errorf("an interface not yet known: %q", got)
	}
}
