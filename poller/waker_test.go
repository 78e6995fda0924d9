package poller

import (
	"testing"
)

// A Waker of either kind posts a completion with the caller's user data to a ring owned by
// another goroutine, from a goroutine that owns none.
func TestWakerPostsToARingItDoesNotOwn(t *testing.T) {
	f := requireFeatures(t, CapMsgRing)
	for _, tc := range []struct {
		kind string
		f    Features
	}{{"sync-msg-ring", f}, {"messenger-ring", f.Without(CapSyncMsgRing)}} {
		t.Run(tc.kind, func(t *testing.T) {
			if tc.kind == "sync-msg-ring" {
				requireFeatures(t, CapSyncMsgRing)
			}
			w, err := NewWaker(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := w.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			if w.Kind() != tc.kind {
				t.Fatalf("Kind %q, want %q", w.Kind(), tc.kind)
			}
			r := loopRing(t, 8)
			errc := make(chan error, 1)
			go func() { errc <- w.Wake(r.Fd(), 0xabc) }()
			waitCQE(t, r, 0xabc)
			if err := <-errc; err != nil {
				t.Fatalf("Wake: %v", err)
			}
		})
	}
}
