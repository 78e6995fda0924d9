package report

import (
	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/server"
)

// Ours are the engines this project builds, each compared with its BaselineOf.
var Ours = []string{"uringnet", "listener"}

// BaselineOf is the engine a row of engine is compared with: what a program on it would run
// on without uringnet — gnet for the gnet-API engines, the standard library for the
// goroutine-per-connection ones.
// A copy of an engine (server.IsCopy) is compared with the engine itself.
func BaselineOf(engine string) string {
	switch {
	case server.IsCopy(engine):
		return server.Base(engine)
	case server.GoroutinePerConn(engine):
		return "net"
	}
	return "gnet"
}

// Row is a point's summary: medians over its repeats and their ratio to its baseline engine
// (BaselineOf) at the same point (0 when the baseline did not run there).
type Row struct {
	Point
	Value          harness.Spread
	P50, P99, CPU  float64 // medians
	VsValue, VsP50 float64
	VsP99, VsCPU   float64
}

// Lower reports whether smaller values are better for the point's unit.
func (p Point) Lower() bool { return p.Unit == "B/conn" }

// Rows summarises every point, in the order they were first measured.
func (r *Results) Rows() []Row {
	rows := make([]Row, len(r.Points))
	base := map[string]*Row{}
	for i, p := range r.Points {
		row := Row{Point: p, Value: harness.SpreadOf(collect(p, func(s Sample) float64 { return s.Value })),
			P50: harness.Median(collect(p, func(s Sample) float64 { return s.P50 })),
			P99: harness.Median(collect(p, func(s Sample) float64 { return s.P99 })),
			CPU: harness.Median(collect(p, func(s Sample) float64 { return s.ServerCPU }))}
		rows[i] = row
		base[p.Key()+"/"+p.Engine] = &rows[i]
	}
	for i := range rows {
		b := base[rows[i].Key()+"/"+BaselineOf(rows[i].Engine)]
		if b == nil {
			continue
		}
		rows[i].VsValue = ratio(rows[i].Value.Median, b.Value.Median)
		rows[i].VsP50 = ratio(rows[i].P50, b.P50)
		rows[i].VsP99 = ratio(rows[i].P99, b.P99)
		if rows[i].Rate > 0 {
			if paired := pairedP99Ratio(rows[i].Point, b.Point); paired > 0 {
				rows[i].VsP99 = paired
			}
		}
		rows[i].VsCPU = ratio(rows[i].CPU, b.CPU)
	}
	return rows
}

// Loses reports whether the row's median is worse than the baseline's: its p99 latency at a
// fixed offered load (where both serve the same rate), else its throughput or memory.
func (row Row) Loses() bool {
	if row.Rate > 0 {
		return row.VsP99 > 1
	}
	if row.VsValue == 0 {
		return false
	}
	if row.Lower() {
		return row.VsValue > 1
	}
	return row.VsValue < 1
}

// pairedP99Ratio is the median, over the rounds both p and base were measured in, of p's p99
// over base's in that round (0 when no round has both). At a fixed offered load a run's p99 is
// its few longest stalls, which this machine's scheduling decides and which come and go with
// its load from one minute to the next: two runs of one round share that load, and the median
// of their ratios moves less than the ratio of the two medians (docs/listener.md has a copy of
// net measured against net both ways).
func pairedP99Ratio(p, base Point) float64 {
	return harness.Median(pairedRatios(p, base, func(s Sample) float64 { return s.P99 }))
}

// pairedRatios are p's values over base's, f picking the value, one for each round both were
// measured in with a value. Samples without their round are paired in order when both points
// have them all.
func pairedRatios(p, base Point, f func(Sample) float64) []float64 {
	inOrder := len(p.Samples) == len(base.Samples)
	byRound := func(q Point) map[int]float64 {
		m := map[int]float64{}
		for i, s := range q.Samples {
			round := s.Repeat
			if round == 0 {
				if !inOrder {
					return nil
				}
				round = i + 1
			}
			if v := f(s); v > 0 {
				m[round] = v
			}
		}
		return m
	}
	ours, theirs := byRound(p), byRound(base)
	var ratios []float64
	for round, v := range ours {
		if b, ok := theirs[round]; ok {
			ratios = append(ratios, v/b)
		}
	}
	return ratios
}

func collect(p Point, f func(Sample) float64) []float64 {
	var xs []float64
	for _, s := range p.Samples {
		if v := f(s); v != 0 {
			xs = append(xs, v)
		}
	}
	return xs
}

func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}
