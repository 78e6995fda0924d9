package ringset

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// echo is the handler most tests run: it writes back whatever arrives.
type echo struct {
	opened, closed atomic.Int64
	closeErrs      chan error // if set, receives every OnClose error
	boot, shut     atomic.Int64
}

func (h *echo) OnBoot(*Set) Action { h.boot.Add(1); return None }
func (h *echo) OnShutdown(*Set)    { h.shut.Add(1) }
func (h *echo) OnOpen(*conn.Conn) ([]byte, Action) {
	h.opened.Add(1)
	return nil, None
}
func (h *echo) OnClose(_ *conn.Conn, err error) Action {
	h.closed.Add(1)
	if h.closeErrs != nil {
		h.closeErrs <- err
	}
	return None
}
func (h *echo) OnTraffic(c *conn.Conn) Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return None
}
func (h *echo) OnTick() (time.Duration, Action) { return time.Second, None }

// waitUntil polls cond every millisecond until it holds, and fails the test if it does not
// within timeout: every wait in the tests is bounded.
func waitUntil(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// startSet starts a set and stops it (checking Wait) when the test ends.
func startSet(t testing.TB, cfg Config, h Handler) *Set {
	t.Helper()
	if cfg.Network == "" {
		cfg.Network, cfg.Address = "tcp", "127.0.0.1:0"
	}
	s, err := Start(cfg, h)
	if err != nil {
		t.Fatalf("Start(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		s.Stop()
		if err := s.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
	return s
}

// echoRoundTrip writes size random bytes to c in random-sized writes and checks that exactly
// those bytes come back, in order.
func echoRoundTrip(c net.Conn, size int, seed uint64) error {
	rnd := rand.New(rand.NewPCG(seed, 7))
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(rnd.Uint32())
	}
	errc := make(chan error, 1)
	go func() {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+rnd.IntN(8192))
			if _, err := c.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
		}
		errc <- nil
	}()
	got := make([]byte, size)
	// A guard against a hang, not a speed limit: the thousand-connection test echoes 2 GiB and
	// shares the machine's two cores with whatever else runs.
	c.SetReadDeadline(time.Now().Add(90 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errMismatch
	}
	return nil
}

var errMismatch = &net.AddrError{Err: "echoed bytes differ from those sent"}

// requireCap skips (naming the feature) when the kernel lacks c; CI, whose kernel has every
// feature, sets URINGNET_REQUIRE_ALL_FEATURES=1 to make that a failure.
// eachWaker runs f as a subtest per way other goroutines wake a loop, named as Set.Waker names
// it: the synchronous MSG_RING (where the kernel has it) and the messenger ring; features
// selects it.
func eachWaker(t *testing.T, f func(t *testing.T, name string, features poller.Features)) {
	all, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name string
		f    poller.Features
	}{{"sync-msg-ring", all}, {"messenger-ring", all.Without(poller.CapSyncMsgRing)}} {
		t.Run(w.name, func(t *testing.T) {
			if w.name == "sync-msg-ring" {
				requireCap(t, all, poller.CapSyncMsgRing)
			}
			f(t, w.name, w.f)
		})
	}
}

func requireCap(t testing.TB, f poller.Features, c poller.Capability) {
	t.Helper()
	if err := f.Require(c); err != nil {
		if os.Getenv("URINGNET_REQUIRE_ALL_FEATURES") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// eachClient dials n connections to s, at most parallel at once, and runs f on each (f closes
// the connection, or keeps it); it returns how many failed and the first failure.
func eachClient(s *Set, n, parallel int, f func(i int, c net.Conn) error) (failed int64, first error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, parallel)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.Dial(s.Addr().Network(), s.Addr().String())
			if err == nil {
				err = f(i, c)
			}
			if err != nil {
				mu.Lock()
				if failed++; failed == 1 {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed, first
}
