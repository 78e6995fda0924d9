//go:build !race

// The race detector allocates on its own; `make test` runs this file in its pass without it.

package ringset

import (
	"io"
	"testing"
)

// The echo steady state — a message arrives, the handler writes it back, the loop sends it —
// allocates nothing, on the server or (with the standard library) on the client. AllocsPerRun
// counts every allocation in the process.
func TestEchoSteadyStateAllocatesNothing(t *testing.T) {
	s := startSet(t, Config{}, &echo{})
	c := dial(t, s)
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		roundTrip() // warm up buffers and pools
	}
	if n := testing.AllocsPerRun(2000, roundTrip); n > 0 {
		t.Fatalf("%v allocations per echoed message, want 0", n)
	}
}

// A polling loop asks the runtime whether goroutines wait for a P every pollBudget; the
// question allocates nothing.
func TestGoroutinesWaitingAllocatesNothing(t *testing.T) {
	var p pace
	if n := testing.AllocsPerRun(1000, func() { p.goroutinesWaiting() }); n > 0 {
		t.Fatalf("%v allocations per question, want 0", n)
	}
}
