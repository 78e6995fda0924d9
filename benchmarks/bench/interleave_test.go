package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uringnet/uringnet/benchmarks/report"
	"github.com/uringnet/uringnet/benchmarks/server"
)

// The harness starts its servers and load generators by running its own binary again: here,
// the test binary, which serves as bench for those modes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "load") {
		main()
		return
	}
	os.Exit(m.Run())
}

// An interleaved run starts a server for each engine once a set, measures every engine in
// each of the set's windows, one round a window, and reports each engine over its baseline
// window by window.
func TestInterleavedRunTakesTurnsOnServersThatKeepRunning(t *testing.T) {
	o := &options{plan: plan{repeats: 2, warmup: 20 * time.Millisecond, duration: 60 * time.Millisecond}, loops: 1, interleave: 3}
	w := workloadsNamed("echo")[0]
	starts := map[string]int{}
	serve := w.serve
	w.serve = func(o *options, at report.Point) (served, error) {
		starts[at.Engine]++
		return serve(o, at)
	}
	engines := []string{"net", "net.2"}
	res := &report.Results{Settings: report.Settings{Repeats: o.repeats, Interleave: o.interleave}}
	at := report.Point{Workload: "echo", Load: "net", Size: 64, Conns: 2, Depth: 1, Unit: "msg/s"}
	if medians := alternatePoint(o, w, at, engines, res); len(medians) != 1 {
		t.Fatalf("%d medians, want net's alone (not its copy's)", len(medians))
	}
	if len(res.Notes) > 0 {
		t.Fatalf("failures: %q", res.Notes)
	}
	for _, e := range engines {
		if starts[e] != o.repeats {
			t.Errorf("%s: %d servers started, want one a set (%d)", e, starts[e], o.repeats)
		}
	}
	if len(res.Points) != len(engines) {
		t.Fatalf("%d points, want %d", len(res.Points), len(engines))
	}
	for _, p := range res.Points {
		var rounds []int
		for _, s := range p.Samples {
			if s.Value <= 0 || s.ServerCPU <= 0 {
				t.Errorf("%s round %d: %+v, want a rate and the server's CPU", p.Engine, s.Repeat, s)
			}
			rounds = append(rounds, s.Repeat)
		}
		slices.Sort(rounds)
		if want := []int{1, 2, 3, 4, 5, 6}; !slices.Equal(rounds, want) {
			t.Errorf("%s measured in rounds %v, want %v", p.Engine, rounds, want)
		}
	}
	md := res.Markdown("", nil)
	for _, want := range []string{"2 sets of servers per point, each engine measured in 3 windows", "#### Window by window", "| echo | 64 B, 2 conns | net.2 | 6 | "} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

// net/http's points under our load generator are followed by the same point at a fixed
// offered load, unless the run measures at saturation only (-saturation-only: offered 0).
func TestSaturationOnlyMeasuresNoFixedLoad(t *testing.T) {
	for _, offered := range []float64{0.5, 0} {
		o := &options{plan: plan{repeats: 1, warmup: 20 * time.Millisecond, duration: 60 * time.Millisecond,
			netHTTPLoadConns: []int{1}, netHTTPLoadDepths: []int{1}, pinnings: []bool{false}, offered: offered},
			engines: []string{"net"}}
		res := &report.Results{}
		for _, w := range workloadsNamed(server.NetHTTP) {
			if w.serve != nil { // our load generator's points, not wrk's
				alternate(o, w, res)
			}
		}
		var rates []float64
		for _, p := range res.Points {
			rates = append(rates, p.Rate)
		}
		if len(res.Notes) > 0 {
			t.Fatalf("failures: %q", res.Notes)
		}
		if want := map[bool]int{true: 2, false: 1}[offered > 0]; len(rates) != want {
			t.Errorf("offered %v: points at rates %v, want %d", offered, rates, want)
		}
	}
}

// Over an interleaved run's turns (make bench-listener-windows: 20 sets of 15), each engine
// runs in each place of a turn, and after each other engine, about as often as the others do:
// no engine always follows the same one.
func TestTurnsTakeEveryOrder(t *testing.T) {
	engines := []string{"listener", "net", "net.2"}
	places, follows := map[string]int{}, map[string]int{}
	for set := range 20 {
		var seq []string
		for c := range 15 {
			order := turnOrder(engines, set, c)
			if got := slices.Sorted(slices.Values(order)); !slices.Equal(got, []string{"listener", "net", "net.2"}) {
				t.Fatalf("set %d turn %d: %v", set, c, order)
			}
			for i, e := range order {
				places[fmt.Sprint(e, " in place ", i)]++
			}
			seq = append(seq, order...)
		}
		for i := 1; i < len(seq); i++ {
			if seq[i] != seq[i-1] {
				follows[seq[i]+" after "+seq[i-1]]++
			}
		}
	}
	for _, c := range []struct {
		counts map[string]int
		kinds  int
	}{{places, 3 * 3}, {follows, 3 * 2}} {
		n := slices.Collect(maps.Values(c.counts))
		if len(n) != c.kinds || float64(slices.Max(n)) > 1.4*float64(slices.Min(n)) {
			t.Errorf("uneven: %v", c.counts)
		}
	}
}
