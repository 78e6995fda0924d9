package ringset

// The ticker: OnTick's cadence, shutting down from it, and no ticks unless asked for.

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ticker counts OnTick calls and asks for the next one after 10ms.
type ticker struct {
	echo
	ticks atomic.Int64
	mu    sync.Mutex
	at    []time.Time
}

func (h *ticker) OnTick() (time.Duration, Action) {
	h.mu.Lock()
	h.at = append(h.at, time.Now())
	h.mu.Unlock()
	if h.ticks.Add(1) == 5 {
		return 10 * time.Millisecond, Shutdown
	}
	return 10 * time.Millisecond, None
}

// OnTick runs, driven by the loop's wait timeout, at the delay it returns; its Shutdown stops
// the set.
func TestTickerDrivesOnTickAndCanShutDown(t *testing.T) {
	h := &ticker{}
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Ticker: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		s.Stop()
		t.Fatalf("OnTick ran %d times in 5s; its Shutdown after 5 did not stop the set", h.ticks.Load())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.at) != 5 {
		t.Fatalf("%d ticks, want 5", len(h.at))
	}
	for i := 1; i < len(h.at); i++ {
		// The loop's wait times out at the tick; allow for the clocks' granularity.
		if gap := h.at[i].Sub(h.at[i-1]); gap < 9*time.Millisecond || gap > time.Second {
			t.Fatalf("tick %d came %v after the one before, want about 10ms", i+1, gap)
		}
	}
	if h.shut.Load() != 1 {
		t.Fatalf("OnShutdown ran %d times", h.shut.Load())
	}
}

func TestTickerOffByDefault(t *testing.T) {
	h := &ticker{}
	startSet(t, Config{}, h)
	time.Sleep(50 * time.Millisecond)
	if h.ticks.Load() != 0 {
		t.Fatalf("OnTick ran %d times without Ticker", h.ticks.Load())
	}
}
