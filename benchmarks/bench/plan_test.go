package main

import (
	"testing"
	"time"

	"github.com/uringnet/uringnet/benchmarks/report"
)

// A point at a fixed offered load measures for the plan's offeredDuration where it sets one;
// every other point, and every point of a plan that sets none, for its duration.
func TestMeasuredTimeAtAFixedLoad(t *testing.T) {
	p := plan{duration: 2 * time.Second, offeredDuration: 6 * time.Second}
	flat, fixed := report.Point{Workload: "nethttp"}, report.Point{Workload: "nethttp", Rate: 1000}
	if got := p.measuredTime(flat); got != 2*time.Second {
		t.Errorf("as fast as answered: %v, want 2s", got)
	}
	if got := p.measuredTime(fixed); got != 6*time.Second {
		t.Errorf("at a fixed load: %v, want 6s", got)
	}
	p.offeredDuration = 0
	if got := p.measuredTime(fixed); got != 2*time.Second {
		t.Errorf("at a fixed load, the plan setting no window of its own: %v, want 2s", got)
	}
	if plans["listener"].offeredDuration == 0 {
		t.Error("the listener plan measures its fixed loads over the same window as its saturation")
	}
}
