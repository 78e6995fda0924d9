package report

import (
	"fmt"
	"strings"

	"github.com/uringnet/uringnet/benchmarks/harness"
)

// windowsSummary is, for an interleaved run (Settings.Interleave), each engine's ratios to its
// baseline window by window: the medians, over the windows, of the two engines' ratio in
// windows side by side, with 95 % intervals. Windows a second apart on servers that keep
// running share the machine's state, and a few hundred of them resolve differences of about a
// per cent that separate runs, each with its own processes, cannot.
func windowsSummary(r *Results) string {
	if r.Settings.Interleave == 0 {
		return ""
	}
	byKey := map[string]Point{}
	for _, p := range r.Points {
		byKey[p.Key()+"/"+p.Engine] = p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n#### Window by window: each engine over its baseline in the same window, medians with 95 %% intervals\n\n")
	b.WriteString("| workload | point | engine | windows | rate ×base | server CPU ×base | p99 ×base |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|\n")
	for _, p := range r.Points {
		base, ok := byKey[p.Key()+"/"+BaselineOf(p.Engine)]
		if !ok || base.Engine == p.Engine {
			continue
		}
		rate := harness.IntervalOf(pairedRatios(p, base, func(s Sample) float64 { return s.Value }))
		cpu := harness.IntervalOf(pairedRatios(p, base, func(s Sample) float64 { return s.ServerCPU }))
		p99 := harness.IntervalOf(pairedRatios(p, base, func(s Sample) float64 { return s.P99 }))
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", p.Workload, p.Describe(), p.Engine, rate.N,
			intervalText(rate), intervalText(cpu), intervalText(p99))
	}
	return b.String()
}

// intervalText is a median ratio with its interval, to three places: an interleaved run's
// ratios differ in the second.
func intervalText(i harness.Interval) string {
	if i.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f (%.3f–%.3f)", i.Median, i.Lo, i.Hi)
}
