package ringset

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// After the kernel drops completions the acceptor arms its accepts afresh. A connection that an
// accept of before took, whose completion comes only after the fresh accepts have taken others
// (the kernel kept it on its overflow list), is still given its own peer's address: the fresh
// accepts do not write theirs where it waits to be read.
func TestAcceptorsAuditKeepsEachPeersAddress(t *testing.T) {
	f := &faults{}
	auditKeepsEachPeersAddress(t, Config{Loops: 1, acceptorFaults: f}, f, func(*Set) {})
}

// The same for a loop's own accept (ReusePort), which its audit arms afresh when its cancel finds
// nothing: the late completion is served with its own address, and does not arm a second accept.
func TestLoopsOwnAcceptAuditKeepsEachPeersAddress(t *testing.T) {
	f := &faults{}
	auditKeepsEachPeersAddress(t, Config{Loops: 1, ReusePort: true}, f, func(s *Set) {
		onLoop(t, s, 0, func(l *loop) { l.faults = f })
	})
}

// auditKeepsEachPeersAddress starts a set with cfg, whose accepts' completions f (installed by
// install, on the accepting goroutine's side) holds back the first of, reporting dropped
// completions: more connections than accepts in flight are then opened one at a time, and the
// held one last; every connection must open with its own address as its peer's, once.
func auditKeepsEachPeersAddress(t *testing.T, cfg Config, f *faults, install func(*Set)) {
	var release atomic.Bool
	heldOne := make(chan struct{})
	f.hold = func(c *poller.CQE) bool { // on the accepting goroutine, as is f
		kind, _, _ := splitUserData(c.UserData)
		if kind != opAccept || c.Res < 0 {
			return false
		}
		f.hold = func(*poller.CQE) bool {
			if release.Load() {
				f.hold = nil
			}
			return false
		}
		f.errs = append(f.errs, poller.ErrCompletionsDropped) // as the next wait reports it
		close(heldOne)
		return true
	}
	var mu sync.Mutex
	remotes := map[string]int{} // the server's RemoteAddr of each connection opened
	opens := make(chan struct{}, 64)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) {
		mu.Lock()
		remotes[c.RemoteAddr().String()]++
		mu.Unlock()
		opens <- struct{}{}
		return nil, None
	}}
	s := startSet(t, cfg, h)
	install(s)
	waitOpen := func(what string) {
		t.Helper()
		select {
		case <-opens:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not opened in 5 s", what)
		}
	}

	held := dial(t, s)
	select {
	case <-heldOne:
	case <-time.After(5 * time.Second):
		t.Fatal("the first connection's accept never completed, to be held back")
	}
	// More connections than accepts in flight, one at a time: after the audit (which the first
	// of them wakes), every fresh accept takes one.
	peers := []net.Conn{held}
	for range acceptsInFlight + 8 {
		peers = append(peers, dial(t, s))
		waitOpen("a connection accepted after the drop")
	}
	release.Store(true)
	peers = append(peers, dial(t, s)) // its completion ends the hold
	waitOpen("the connection dialed to end the hold")
	waitOpen("the connection whose accept's completion was held back")

	mu.Lock()
	defer mu.Unlock()
	for i, p := range peers {
		if n := remotes[p.LocalAddr().String()]; n != 1 {
			t.Errorf("connection %d (%v) opened with its own address as its peer's %d times, want 1 (%d connections, %d peer addresses)",
				i, p.LocalAddr(), n, len(peers), len(remotes))
		}
	}
	if err := echoRoundTrip(held, 4096, 1); err != nil {
		t.Fatalf("the connection whose completion was held back: %v", err)
	}
}
