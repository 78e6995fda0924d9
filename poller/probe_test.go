package poller

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"net/netip"
	"os"
	"testing"
)

// requireFeatures probes the kernel and skips the test, naming what is missing, when the
// running kernel lacks a capability the test exercises. On Linux 6.13+ nothing skips; CI sets
// URINGNET_REQUIRE_ALL_FEATURES=1 so that a skip there is a failure instead.
func requireFeatures(t testing.TB, caps ...Capability) Features {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("URINGNET_REQUIRE_ALL_FEATURES") == "1" {
		skip = t.Fatalf
	}
	f, err := Probe()
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			skip("io_uring unavailable on this machine: %v", err)
		}
		t.Fatalf("probe: %v", err)
	}
	if err := f.Require(caps...); err != nil {
		skip("%v", err)
	}
	return f
}

func TestProbeFindsEverythingOnThisKernel(t *testing.T) {
	f := requireFeatures(t)
	t.Logf("%v", f)
	// Every capability exists from Linux 6.13 on; an older kernel lacking some is fine.
	var major, minor int
	if _, err := fmt.Sscanf(f.Kernel(), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", f.Kernel(), err)
	}
	if major > 6 || major == 6 && minor >= 13 {
		for c := Capability(0); c < numCapabilities; c++ {
			if !f.Has(c) {
				t.Errorf("kernel %s has every feature, but the probe missed %v", f.Kernel(), c)
			}
		}
	}
	for _, op := range []Opcode{OpNop, OpSend, OpRecv, OpAccept, OpMsgRing} {
		if !f.SupportsOp(op) {
			t.Errorf("SupportsOp(%d) = false on a kernel with io_uring", op)
		}
	}
	if f.SupportsOp(255) {
		t.Errorf("SupportsOp(255) = true; no kernel has 256 opcodes")
	}
}

func TestFeaturesWithoutAndRequire(t *testing.T) {
	var f Features
	f.set(CapSyncMsgRing, true)
	f.set(CapFixedFdInstall, true)
	f.release = "test"
	if err := f.Require(CapSyncMsgRing, CapFixedFdInstall); err != nil {
		t.Fatalf("Require on present capabilities: %v", err)
	}
	g := f.Without(CapSyncMsgRing)
	if g.Has(CapSyncMsgRing) || !g.Has(CapFixedFdInstall) {
		t.Fatalf("Without removed the wrong capability: %v", g)
	}
	if !f.Has(CapSyncMsgRing) {
		t.Fatalf("Without changed its receiver")
	}
	err := g.Require(CapSyncMsgRing, CapFixedFdInstall, CapBindListen)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Require error %v does not match ErrUnavailable", err)
	}
	want := "poller: io_uring unavailable: probe: kernel test lacks sync-msg-ring, bind-listen"
	if err.Error() != want {
		t.Fatalf("Require error = %q, want %q", err, want)
	}
}

func TestSockaddr(t *testing.T) {
	for _, tc := range []struct {
		in     string
		family int
	}{{"127.0.0.1:80", unix.AF_INET}, {"[::1]:443", unix.AF_INET6}, {"[::ffff:127.0.0.1]:8080", unix.AF_INET6}, {"[fe80::1%2]:9", unix.AF_INET6}} {
		ap := netip.MustParseAddrPort(tc.in)
		sa, err := SockaddrInet(ap)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if sa.Family() != tc.family {
			t.Errorf("%s: family %d, want %d", tc.in, sa.Family(), tc.family)
		}
		if back, ok := sa.AddrPort(); !ok || back != ap {
			t.Errorf("%s: round trip gave %v, %v", tc.in, back, ok)
		}
	}
	if _, err := SockaddrInet(netip.MustParseAddrPort("[fe80::1%1abc]:9")); err == nil {
		t.Error("zone 1abc accepted as an interface index")
	}
	if _, err := SockaddrInet(netip.AddrPort{}); err == nil {
		t.Error("the zero AddrPort accepted")
	}
	for _, bad := range []string{"", string(make([]byte, 108))} {
		if _, err := SockaddrUnix(bad); err == nil {
			t.Errorf("unix path of %d bytes accepted", len(bad))
		}
	}
	if sa, err := SockaddrUnix("@abstract"); err != nil || sa.raw.Addr.Data[0] != 0 || sa.len != 2+9 {
		t.Errorf("abstract unix address: %v, %+v", err, sa)
	}
}
