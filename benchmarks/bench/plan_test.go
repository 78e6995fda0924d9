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

// A filter keeps the plan's points at the connections, depths and pinning it names, and every
// point when it names none; a point without a depth is unpipelined.
func TestPointFilter(t *testing.T) {
	f, err := parsePointFilter("1,64", "1", "unpinned")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   report.Point
		want bool
	}{
		{report.Point{Conns: 1, Depth: 1}, true},
		{report.Point{Conns: 64}, true},
		{report.Point{Conns: 64, Depth: 1, Rate: 20000}, true},
		{report.Point{Conns: 256, Depth: 1}, false},
		{report.Point{Conns: 64, Depth: 16}, false},
		{report.Point{Conns: 64, Depth: 1, Pinned: true}, false},
	} {
		if got := f.keeps(c.at); got != c.want {
			t.Errorf("keeps(%+v) = %v, want %v", c.at, got, c.want)
		}
	}
	all, err := parsePointFilter("", "", "both")
	if err != nil {
		t.Fatal(err)
	}
	if !all.keeps(report.Point{Conns: 1000, Depth: 16, Pinned: true}) {
		t.Error("a filter naming nothing left a point out")
	}
	if got := f.narrowPinnings([]bool{false, true}); len(got) != 1 || got[0] {
		t.Errorf("unpinned points alone: pinnings %v, want [false]", got)
	}
	listener := &options{plan: plans["listener"], filter: f}
	if !anyPointKept(listener, "nethttp") {
		t.Error("the listener plan's net/http points at 1 and 64 connections were all left out")
	}
	listener.filter.conns = []int{3}
	if anyPointKept(listener, "echo,nethttp") {
		t.Error("a filter matching no point of the plan kept one")
	}
	for _, bad := range [][3]string{{"0", "", ""}, {"", "x", ""}, {"", "", "sometimes"}} {
		if _, err := parsePointFilter(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("parsePointFilter%q: no error", bad)
		}
	}
}
