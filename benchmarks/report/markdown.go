package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/uringnet/uringnet/benchmarks/server"
)

// table is one markdown table: the rows of the workloads it holds.
type table struct {
	title     string
	workloads func(w string) bool
}

var tables = []table{
	{"Echo, our load generator (load `uring`: one io_uring thread drives every connection; `net`: a goroutine per connection)",
		func(w string) bool { return w == "echo" }},
	{"Short-lived connections, our load generator (load `uring`: one io_uring thread runs each connection as one linked chain, socket to close; `net`: a goroutine per client) (conns: clients at a time, each connecting, making one round trip of size bytes, closing and connecting again; the value is connections per second, server CPU per connection)",
		func(w string) bool { return w == "connect" }},
	{"HTTP plaintext, wrk -t2 with `benchmarks/wrk/pipeline.lua` (depth: requests per write), or our load generator's HTTP client (load `net`), as fast as the server answers or at a fixed offered load (`at N/s`: compare the latencies); nethttp is net/http's own server (listener and net only)",
		func(w string) bool { return w == "http" || w == "nethttp" }},
	{"RESP, redis-benchmark -P depth or our load generator (load `uring`: one io_uring thread, depth commands per batch, every reply checked), against `examples/resp` (a gnet-API program: uringnet.Run and gnet.Run only; size: the bytes of the value SET stores and GET reads)",
		func(w string) bool { return strings.HasPrefix(w, "redis-") }},
	{"Echo on gnet's pkg/netpoll API, `examples/netpoll` (our load generator; `uringnet` is compat/netpoll on io_uring, `gnet` the same source with its import put back: gnet's epoll Poller)",
		func(w string) bool { return w == "netpoll" }},
	{"Memory per idle connection (the server's resident memory growth over the connections, each idle after one round trip; less is better)",
		func(w string) bool { return w == "idle" }},
}

// Markdown renders the results: how they were made, the charts (found under imageDir, as
// Charts names them), the points where our engines are behind their baselines, and every row.
func (r *Results) Markdown(imageDir string, charts []string) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s on %s (%d cores), %s, %s, with\n\n    %s\n\n", m.Date, orUnknown(m.CPU), m.Cores, m.Kernel, m.Go, r.Command)
	s := r.Settings
	rings := s.ListenerRings
	if rings == 0 {
		rings = s.Loops
	}
	fmt.Fprintf(&b, "Plan %q: uringnet and gnet with %d event loops, the goroutine-per-connection servers `listener` with %d ring%s and `net` on GOMAXPROCS=%d%s; "+
		"each server in its own process and the load generator in another; engines alternate at every point "+
		"(A B C D, then B C D A, …), %s after %s of warm-up, %s. "+
		"Each row gives the median of its repeats (the \"runs\" column) with their range; "+
		"`×base` is the row's median over its baseline's at the same point (gnet's for uringnet and gnet, net's for listener and net: what the program would run on without uringnet), and for the p99 at a fixed offered load the median of the two engines' ratios round by round; server CPU is user+system time from /proc per message or request. "+
		"These machines are shared and noisy (±15 %% from one pair of runs to the next): compare medians, and read the ranges.\n\n",
		s.Plan, s.Loops, rings, plural(rings), m.Cores, pinnedProcs(s.PinnedServerCPUs), repeatsText(s), s.Warmup, measured(s))
	if len(m.Tools) > 0 {
		var tools []string
		for name, v := range m.Tools {
			tools = append(tools, fmt.Sprintf("%s (%s)", name, v))
		}
		sort.Strings(tools)
		fmt.Fprintf(&b, "External load generators: %s.\n\n", strings.Join(tools, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, c := range charts {
		fmt.Fprintf(&b, "![%s](%s)\n", c, imageDir+c)
	}
	if len(charts) > 0 {
		b.WriteString("\n")
	}
	rows := r.Rows()
	b.WriteString(lossSummary(rows))
	b.WriteString(copySummary(rows))
	b.WriteString(windowsSummary(r))
	for _, t := range tables {
		var in []Row
		for _, row := range rows {
			if t.workloads(row.Workload) {
				in = append(in, row)
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n#### %s\n\n", t.title)
		if in[0].Lower() {
			writeMemoryTable(&b, in)
		} else {
			writeRateTable(&b, in)
		}
	}
	return b.String()
}

// lossSummary lists, for each of our engines, the points where its median is worse than its
// baseline's, and those where its server uses more CPU per message or request (per byte, at
// one message size: what counts for large messages).
func lossSummary(rows []Row) string {
	var b strings.Builder
	for _, ours := range Ours {
		var losses, costlier []string
		compared, costed := 0, 0
		for _, row := range rows {
			if row.Engine != ours || row.VsValue == 0 {
				continue
			}
			compared++
			switch {
			case row.Loses() && row.Rate > 0:
				losses = append(losses, fmt.Sprintf("%s %s (p99 %s×)", row.Workload, row.Describe(), ratioText(row.VsP99)))
			case row.Loses():
				losses = append(losses, fmt.Sprintf("%s %s (%s×)", row.Workload, row.Describe(), ratioText(row.VsValue)))
			}
			if row.VsCPU != 0 {
				costed++
				if row.VsCPU > 1 {
					costlier = append(costlier, fmt.Sprintf("%s %s (%s×)", row.Workload, row.Describe(), ratioText(row.VsCPU)))
				}
			}
		}
		base := BaselineOf(ours)
		switch {
		case compared == 0:
		case len(losses) == 0:
			fmt.Fprintf(&b, "%s's median is at least %s's at all %d points compared.\n", ours, base, compared)
		default:
			fmt.Fprintf(&b, "%s is behind %s at %d of %d points: %s.\n", ours, base, len(losses), compared, strings.Join(losses, "; "))
		}
		if len(costlier) > 0 {
			fmt.Fprintf(&b, "%s's server uses more CPU per message or request than %s's at %d of %d points: %s.\n",
				ours, base, len(costlier), costed, strings.Join(costlier, "; "))
		}
	}
	return b.String()
}

// copySummary gives, for each engine run twice (server.IsCopy), how far apart the measure put
// the two: the spread of the copy's ratios to the engine, throughput where both ran as fast as
// they could and p99 where both served a fixed load. A difference between two engines inside it
// is the machine's, not theirs.
func copySummary(rows []Row) string {
	var b strings.Builder
	type spread struct{ lo, hi float64 }
	widen := func(s *spread, r float64) {
		if r == 0 {
			return
		}
		if s.lo == 0 || r < s.lo {
			s.lo = r
		}
		s.hi = max(s.hi, r)
	}
	var copies []string
	value, p99 := map[string]*spread{}, map[string]*spread{}
	for _, row := range rows {
		if !server.IsCopy(row.Engine) || row.Lower() {
			continue // memory is no rate, and varies little
		}
		if value[row.Engine] == nil {
			copies = append(copies, row.Engine)
			value[row.Engine], p99[row.Engine] = &spread{}, &spread{}
		}
		if row.Rate > 0 {
			widen(p99[row.Engine], row.VsP99)
		} else {
			widen(value[row.Engine], row.VsValue)
		}
	}
	for _, c := range copies {
		var parts []string
		if v := value[c]; v.hi > 0 {
			parts = append(parts, fmt.Sprintf("its median %s–%s× at the points run as fast as they go", ratioText(v.lo), ratioText(v.hi)))
		}
		if p := p99[c]; p.hi > 0 {
			parts = append(parts, fmt.Sprintf("its median p99 %s–%s× at a fixed offered load", ratioText(p.lo), ratioText(p.hi)))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "%s is %s run again, alternating with the others: %s. Differences inside these are the machine's.\n",
				c, server.Base(c), strings.Join(parts, ", "))
		}
	}
	return b.String()
}

// Describe says which point p is: its size, connections and depth, for people.
func (p Point) Describe() string {
	var parts []string
	if p.Size > 0 {
		parts = append(parts, fmt.Sprintf("%d B", p.Size))
	}
	parts = append(parts, fmt.Sprintf("%d conns", p.Conns))
	if p.Depth > 1 {
		parts = append(parts, fmt.Sprintf("depth %d", p.Depth))
	}
	if p.Rate > 0 {
		parts = append(parts, "at "+thousands(p.Rate)+"/s")
	}
	if p.Pinned {
		parts = append(parts, "pinned")
	}
	if p.ReusePort {
		parts = append(parts, "SO_REUSEPORT")
	}
	return strings.Join(parts, ", ")
}

func writeRateTable(b *strings.Builder, rows []Row) {
	b.WriteString("| workload | load | size | conns | depth | engine | runs | median (min–max) | ×base | p50 µs | ×base | p99 µs | ×base | server CPU ns/op | ×base |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range rows {
		valueVs, p99Vs := vsText(row, row.VsValue), ratioText(row.VsP99)
		if row.Rate > 0 { // the rate is the same for both: the latency is what loses
			valueVs, p99Vs = ratioText(row.VsValue), vsText(row, row.VsP99)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %d | %s | %d | %s %s (%s–%s) | %s | %s | %s | %s | %s | %s | %s |\n",
			row.Workload, loadText(row.Point), sizeText(row.Size), row.Conns, row.Depth, row.Engine, row.Value.N,
			thousands(row.Value.Median), row.Unit, thousands(row.Value.Min), thousands(row.Value.Max),
			valueVs, micros(row.P50), ratioText(row.VsP50), micros(row.P99), p99Vs, thousands(row.CPU), ratioText(row.VsCPU))
	}
}

// loadText is what generated a point's load, with its offered rate and whether it was pinned.
func loadText(p Point) string {
	t := p.Load
	if p.Rate > 0 {
		t += " at " + thousands(p.Rate) + "/s"
	}
	if p.Pinned {
		t += ", pinned"
	}
	if p.ReusePort {
		t += ", SO_REUSEPORT"
	}
	return t
}

func writeMemoryTable(b *strings.Builder, rows []Row) {
	b.WriteString("| conns | engine | runs | bytes per connection, median (min–max) | ×base |\n")
	b.WriteString("|---:|---|---:|---:|---:|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %d | %s | %d | %s (%s–%s) | %s |\n", row.Conns, row.Engine, row.Value.N,
			thousands(row.Value.Median), thousands(row.Value.Min), thousands(row.Value.Max), vsText(row, row.VsValue))
	}
}

// vsText is the ratio, in bold on a row of ours that loses.
func vsText(row Row, r float64) string {
	t := ratioText(r)
	if slices.Contains(Ours, row.Engine) && row.Loses() {
		return "**" + t + "**"
	}
	return t
}

func ratioText(r float64) string {
	if r == 0 {
		return "–"
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

func micros(us float64) string {
	if us == 0 {
		return "–"
	}
	if us >= 100 {
		return thousands(us)
	}
	return strconv.FormatFloat(us, 'f', 1, 64)
}

func sizeText(n int) string {
	if n == 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown CPU"
	}
	return s
}

// thousands renders x rounded, with thin commas: 1234567 → 1,234,567.
func thousands(x float64) string {
	if x == 0 {
		return "–"
	}
	s := strconv.FormatInt(int64(x+0.5), 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// repeatsText is how often each engine was measured at a point.
func repeatsText(s Settings) string {
	if s.Interleave == 0 {
		return fmt.Sprintf("%d repeats per point", s.Repeats)
	}
	return fmt.Sprintf("%d sets of servers per point, each engine measured in %d windows on each set, the engines taking turns window by window (%d windows per point, each one round)",
		s.Repeats, s.Interleave, s.Repeats*s.Interleave)
}

// measured is how long each run measured: Duration, and OfferedDuration at a fixed offered
// load where the run set one.
func measured(s Settings) string {
	if s.OfferedDuration == "" {
		return s.Duration + " measured"
	}
	return s.Duration + " measured (" + s.OfferedDuration + " at a fixed offered load)"
}

// pinnedProcs is what the header says of a pinned server's GOMAXPROCS, when the run pinned one.
func pinnedProcs(cpus int) string {
	if cpus == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d when pinned: Go's default is the CPUs a process may run on)", cpus)
}
