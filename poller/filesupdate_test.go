package poller

import (
	"bytes"
	"testing"

	"github.com/uringnet/uringnet/internal/loopback"
	"golang.org/x/sys/unix"
)

// FILES_UPDATE with AllocSlot adopts a regular socket into a free slot, writes the slot back
// into the array, and leaves the caller's descriptor open (the table holds its own reference):
// after the caller closes it, the slot still serves the connection.
func TestFilesUpdateAllocAdoptsRegularSocket(t *testing.T) {
	requireFeatures(t, CapSparseFiles)
	r := loopRing(t, 16)
	fileTable(t, r, 8)
	c, peer := loopback.TCPPair(t)
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	fds := []int32{int32(f.Fd()), int32(f.Fd())}
	prep(t, r, 1, func(s *SQE) { s.PrepFilesUpdate(fds[:1], AllocSlot) })
	if n := mustRes(t, waitCQE(t, r, 1), "files update"); n != 1 {
		t.Fatalf("files update placed %d descriptors, want 1", n)
	}
	slot := fds[0]
	if slot < 0 || slot >= 8 {
		t.Fatalf("allocated slot %d outside the table", slot)
	}
	f.Close()
	c.Close() // the ring's reference keeps the socket open

	msg := []byte("adopted")
	prep(t, r, 2, func(s *SQE) { s.PrepSend(slot, msg, 0); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, r, 2), "send on adopted slot")
	buf := make([]byte, 16)
	n, err := peer.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("peer read %q, %v; want %q", buf[:n], err, msg)
	}

	// A descriptor that is not open fails the update with -EBADF and places nothing.
	bad := []int32{int32(fds[1])}
	prep(t, r, 3, func(s *SQE) { s.PrepFilesUpdate(bad, AllocSlot) })
	if c := waitCQE(t, r, 3); c.Res != -int32(unix.EBADF) {
		t.Fatalf("update with a closed descriptor: res %d, want -EBADF", c.Res)
	}
}
