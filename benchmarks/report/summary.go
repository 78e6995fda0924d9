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
