package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/report"
	"github.com/uringnet/uringnet/benchmarks/server"
	"github.com/uringnet/uringnet/listener"
)

// options are run's flags.
type options struct {
	plan
	loops   int
	client  string
	engines []string
	wrkLua  string
	filter  pointFilter
	// interleave, when not 0, measures each point on sets of servers that keep running, each
	// engine in this many windows a set, the engines taking turns window by window.
	interleave int
	// serverCPUs and loadCPUs are where pinned points run the server and the load generator.
	serverCPUs, loadCPUs []int
}

// cpus is where a child runs: anywhere unless pinned, else the server's or the load
// generator's CPUs.
func (o *options) cpus(pinned, server bool) []int {
	switch {
	case !pinned:
		return nil
	case server:
		return o.serverCPUs
	default:
		return o.loadCPUs
	}
}

// workload is one family of points and how to measure one engine at one of them.
type workload struct {
	name    string
	points  func(o *options) []report.Point
	engines func(o *options) []string
	measure func(o *options, at report.Point) (report.Sample, error)
	// serve, if set, starts the point's server alone, for a run that measures each server in
	// many windows (-interleave); workloads without it cannot run so.
	serve func(o *options, at report.Point) (served, error)
	skip  func() string // why it cannot run here ("" when it can)
	// offered, if set, follows each point with the same point at a fixed offered load: the
	// rate it returns from the engines' medians there.
	offered func(o *options, medians []float64) float64
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	planName := fs.String("plan", "quick", "quick (a few minutes), full (every point), accept (the issues' speed targets), sizes (large messages and short-lived connections), pinned (64 B echo on one pinned loop), listener (the listener against net) or resp (RESP and HTTP against gnet, pinned and not)")
	out := fs.String("out", "benchmarks/results/bench", "write prefix.json, prefix.md and prefix-*.png")
	only := fs.String("only", "echo,connect,http,nethttp,redis,resp,netpoll,idle", "workloads to run (redis: RESP under redis-benchmark; resp: RESP under -client)")
	repeats := fs.Int("repeats", 0, "repeats per point (0: the plan's)")
	warmup := fs.Duration("warmup", 0, "unmeasured time before each measurement (0: the plan's)")
	duration := fs.Duration("duration", 0, "measured time per run (0: the plan's)")
	offeredDuration := fs.Duration("offered-duration", 0, "measured time per run at a fixed offered load (0: the plan's, or -duration where the plan sets none)")
	loops := fs.Int("loops", 2, "event loops of uringnet and gnet (listener runs with listener.Listen's default)")
	client := fs.String("client", "uring", "echo load generator: uring (one io_uring) or net (a goroutine per connection)")
	engines := fs.String("engines", strings.Join(server.Engines, ","), "engines to compare; one named again with a suffix (net,net.2) runs twice, the copy's ratio to it the measure's own spread")
	wrkLua := fs.String("wrk-script", "benchmarks/wrk/pipeline.lua", "wrk's pipelining script")
	label := fs.String("label", "", "how the run was started (the make target), recorded with the command")
	conns := fs.String("conns", "", "only the plan's points at these connection counts (comma-separated; empty: all)")
	depths := fs.String("depths", "", "only the plan's points at these depths (comma-separated; empty: all)")
	pinning := fs.String("pinning", "", "only the plan's unpinned or pinned points (empty or both: all)")
	atSaturationOnly := fs.Bool("saturation-only", false, "measure no point at a fixed offered load (only as fast as the servers answer)")
	interleave := fs.Int("interleave", 0, "measure each engine in this many windows (of -duration) on each set of servers, the engines taking turns window by window, and -repeats sets per point (0: a fresh server for every run); for echo and nethttp under our load generator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	filter, err := parsePointFilter(*conns, *depths, *pinning)
	if err != nil {
		return err
	}
	p, err := planNamed(*planName)
	if err != nil {
		return err
	}
	o := &options{plan: p, loops: *loops, client: *client, engines: strings.Split(*engines, ","), wrkLua: *wrkLua, filter: filter,
		interleave: max(*interleave, 0)}
	o.pinnings = filter.narrowPinnings(o.pinnings)
	if !anyPointKept(o, *only) {
		return fmt.Errorf("plan %s has no point of %s at the -conns, -depths and -pinning asked for", *planName, *only)
	}
	if slices.Contains(o.pinnings, true) {
		var ok bool
		if o.serverCPUs, o.loadCPUs, ok = harness.Split(); !ok {
			return fmt.Errorf("plan %s pins the server and the load generator to CPUs of their own, and this machine has one CPU", *planName)
		}
	}
	if *repeats > 0 {
		o.repeats = *repeats
	}
	if *warmup > 0 {
		o.warmup = *warmup
	}
	if *duration > 0 {
		o.duration = *duration
	}
	if *atSaturationOnly {
		o.offered = 0
	}
	if *offeredDuration > 0 {
		o.offeredDuration = *offeredDuration
	}
	offered := ""
	if o.offeredDuration > 0 && o.offeredDuration != o.duration {
		offered = o.offeredDuration.String()
	}
	command := "bench run " + strings.Join(args, " ")
	if *label != "" {
		command = *label + " (" + command + ")"
	}
	res := &report.Results{
		Command: command,
		Machine: harness.ThisMachine(map[string]string{"wrk": "-v", "redis-benchmark": "--version"}),
		Settings: report.Settings{Plan: *planName, Repeats: o.repeats, Warmup: o.warmup.String(),
			Duration: o.duration.String(), OfferedDuration: offered, Loops: o.loops, ListenerRings: listener.DefaultLoops(), Client: o.client,
			PinnedServerCPUs: len(o.serverCPUs), Interleave: o.interleave},
	}
	defer removeExampleBinaries()
	started := time.Now()
	fmt.Fprintf(os.Stderr, "bench: plan %s, %d repeats, engines %v, %s, %d cores, %s\n",
		*planName, o.repeats, o.engines, res.Machine.Kernel, res.Machine.Cores, res.Machine.Go)
	for _, w := range workloadsNamed(*only) {
		why := w.skip()
		if o.interleave > 0 && w.serve == nil {
			why = fmt.Sprintf("The %s points that need a server of their own for each run were not run: -interleave measures servers that keep running from one window to the next.", w.name)
		}
		if why != "" {
			res.Notes = append(res.Notes, why)
			fmt.Fprintf(os.Stderr, "bench: %s\n", why)
			continue
		}
		alternate(o, w, res)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("The run took %s.", time.Since(started).Round(time.Second)))
	md, _, err := write(res, *out)
	if err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// alternate measures every point of w with the engines in turn, the order rotating from one
// repeat to the next, so that drift in the machine's load falls on every engine alike. Points
// the filter leaves out are not run. A run that fails is reported in the notes and leaves its
// point with fewer repeats. A workload with an offered load follows each point with the same
// point at that rate.
func alternate(o *options, w workload, res *report.Results) {
	engines := w.engines(o)
	compared := 0 // the engines that are not copies of another
	for _, e := range engines {
		if !server.IsCopy(e) {
			compared++
		}
	}
	for _, at := range w.points(o) {
		if !o.filter.keeps(at) {
			continue
		}
		medians := alternatePoint(o, w, at, engines, res)
		if w.offered != nil && o.offered > 0 && len(medians) == compared {
			at.Rate = math.Round(w.offered(o, medians))
			alternatePoint(o, w, at, engines, res)
		}
	}
}

// alternatePoint measures one point, every engine o.repeats times (or, interleaved, in
// o.repeats sets of o.interleave windows), and returns the medians of the engines compared (of
// those that ran; not of copies, whose rate must not set another engine's offered load).
func alternatePoint(o *options, w workload, at report.Point, engines []string, res *report.Results) []float64 {
	values := map[string][]float64{}
	record := func(at report.Point, round int, s report.Sample, err error) {
		if err != nil {
			note := fmt.Sprintf("%s %s %s, round %d, failed: %v", at.Workload, at.Describe(), at.Engine, round, err)
			res.Notes = append(res.Notes, note)
			fmt.Fprintf(os.Stderr, "bench: %s\n", note)
			return
		}
		s.Repeat = round
		res.Add(at, s)
		values[at.Engine] = append(values[at.Engine], s.Value)
		fmt.Fprintf(os.Stderr, "  %-10s %-34s %-8s #%d  %12.0f %-6s p50 %8.1f µs  p99 %8.1f µs  server %6.0f ns/op  client %6.0f ns/op\n",
			at.Workload, at.Describe(), at.Engine, round, s.Value, at.Unit, s.P50, s.P99, s.ServerCPU, s.ClientCPU)
	}
	if o.interleave > 0 {
		interleaveRounds(o, w, at, engines, record)
	} else {
		for r := 0; r < o.repeats; r++ {
			for i := range engines {
				at.Engine = engines[(i+r)%len(engines)]
				s, err := w.measure(o, at)
				record(at, r+1, s, err)
			}
		}
	}
	var medians []float64
	for e, v := range values {
		if !server.IsCopy(e) {
			medians = append(medians, harness.Median(v))
		}
	}
	return medians
}

// interleaveRounds measures one point on o.repeats sets of servers, one server an engine
// started afresh for each set, each engine in o.interleave windows on its set's server, the
// engines taking turns window by window, so that an engine's window is a second or so from the
// others' rather than a round's tens of seconds. Each turn is one round, in an order of its
// own (turnOrder): a rotation of one order would have each engine always follow the same
// other, and what a window leaves behind (a warm cache, a busy CPU) fall on it alone.
func interleaveRounds(o *options, w workload, at report.Point, engines []string, record func(report.Point, int, report.Sample, error)) {
	round := 0
	for set := 0; set < o.repeats; set++ {
		servers := map[string]served{}
		for _, e := range engines {
			at.Engine = e
			srv, err := w.serve(o, at)
			if err != nil {
				record(at, round+1, report.Sample{}, fmt.Errorf("starting its server: %w", err))
				continue
			}
			servers[e] = srv
		}
		for c := 0; c < o.interleave; c++ {
			round++
			for _, e := range turnOrder(engines, set, c) {
				at.Engine = e
				if srv, ok := servers[at.Engine]; ok {
					s, err := srv.measure(o, at)
					record(at, round, s, err)
				}
			}
		}
		for _, srv := range servers {
			srv.child.Stop()
		}
	}
}

// turnOrder is the engines' order in turn c of set: a shuffle, the same for the same set and
// turn, so that over many turns each engine runs first, last, after and before each other
// about as often as every other engine does.
func turnOrder(engines []string, set, c int) []string {
	order := slices.Clone(engines)
	r := rand.New(rand.NewPCG(uint64(set), uint64(c)))
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// write saves the results, the markdown table and the charts under prefix and returns the
// markdown.
func write(res *report.Results, prefix string) (md string, charts []string, err error) {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return "", nil, err
	}
	if err := res.Save(prefix + ".json"); err != nil {
		return "", nil, err
	}
	if charts, err = res.Charts(prefix); err != nil {
		return "", nil, err
	}
	md = res.Markdown("", charts)
	return md, charts, os.WriteFile(prefix+".md", []byte(md), 0o644)
}

// report redraws the table and charts from a results file, and rewrites the README's
// performance section from it when asked.
func reportMode(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "benchmarks/results/bench.json", "results file")
	readme := fs.String("readme", "", "rewrite this file's section between the bench markers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := report.Load(*in)
	if err != nil {
		return err
	}
	prefix := strings.TrimSuffix(*in, ".json")
	md, charts, err := write(res, prefix)
	if err != nil {
		return err
	}
	if *readme == "" {
		fmt.Print(md)
		return nil
	}
	rel, err := filepath.Rel(filepath.Dir(*readme), filepath.Dir(prefix))
	if err != nil {
		return err
	}
	file := filepath.ToSlash(filepath.Join(rel, filepath.Base(*in)))
	section := fmt.Sprintf("\nGenerated by `make bench-readme` from [`%s`](%s); do not edit by hand.\n\n", file, file)
	section += res.Markdown(filepath.ToSlash(rel)+"/", charts)
	return report.SpliceFile(*readme, section)
}
