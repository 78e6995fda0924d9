package poller

import (
	"errors"
	"testing"
)

// requireFeatures probes the kernel and skips the test, naming what is missing, when the
// running kernel lacks a capability the test exercises. On Linux 6.13+ nothing skips.
func requireFeatures(t testing.TB, caps ...Capability) Features {
	t.Helper()
	f, err := Probe()
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("io_uring unavailable on this machine: %v", err)
		}
		t.Fatalf("probe: %v", err)
	}
	if err := f.Require(caps...); err != nil {
		t.Skipf("skipping: %v", err)
	}
	return f
}

func TestProbeFindsEverythingOnThisKernel(t *testing.T) {
	f := requireFeatures(t)
	t.Logf("%v", f)
	for c := Capability(0); c < numCapabilities; c++ {
		if !f.Has(c) {
			t.Logf("kernel %s lacks %v", f.Kernel(), c)
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
