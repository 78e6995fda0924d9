package report

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/uringnet/uringnet/benchmarks/server"
)

// chart is one PNG: a metric of the echo rows against connections, one panel per message
// size and pipelining depth, one line per engine.
type chart struct {
	name, ylabel string
	value        func(Row) float64
}

var charts = []chart{
	{"throughput", "messages/s (median)", func(r Row) float64 { return r.Value.Median }},
	{"p99", "p99 latency, µs (median)", func(r Row) float64 { return r.P99 }},
	{"cpu", "server CPU per message, ns (median)", func(r Row) float64 { return r.CPU }},
}

// engineColors keeps each engine's colour the same on every chart.
var engineColors = map[string]color.Color{
	"uringnet": color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"gnet":     color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"listener": color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"net":      color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// panel is one (size, depth) of the echo workload.
type panel struct{ size, depth int }

// Charts draws the echo rows into prefix-<chart>.png and returns the files' base names; none
// when there are no echo rows.
func (r *Results) Charts(prefix string) ([]string, error) {
	seen := map[panel]bool{}
	var panels []panel
	rows := r.Rows()
	for _, row := range rows {
		if k := (panel{row.Size, row.Depth}); row.Workload == "echo" && !seen[k] {
			seen[k] = true
			panels = append(panels, k)
		}
	}
	if len(panels) == 0 {
		return nil, nil
	}
	sort.Slice(panels, func(i, j int) bool {
		if panels[i].depth != panels[j].depth {
			return panels[i].depth < panels[j].depth
		}
		return panels[i].size < panels[j].size
	})
	var names []string
	for _, c := range charts {
		name := filepath.Base(prefix) + "-" + c.name + ".png"
		if err := drawChart(c, rows, panels, prefix+"-"+c.name+".png"); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

func drawChart(c chart, rows []Row, panels []panel, path string) error {
	sizes, depths := map[int]int{}, map[int]int{}
	for _, p := range panels {
		if _, ok := sizes[p.size]; !ok {
			sizes[p.size] = len(sizes)
		}
		if _, ok := depths[p.depth]; !ok {
			depths[p.depth] = len(depths)
		}
	}
	grid := make([][]*plot.Plot, len(depths))
	for i := range grid {
		grid[i] = make([]*plot.Plot, len(sizes))
		for j := range grid[i] {
			grid[i][j] = plot.New()
		}
	}
	for _, p := range panels {
		pl := grid[depths[p.depth]][sizes[p.size]]
		pl.Title.Text = fmt.Sprintf("echo %d B, pipelining %d", p.size, p.depth)
		pl.X.Label.Text = "connections"
		pl.Y.Label.Text = c.ylabel
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = plot.LogTicks{Prec: -1}
		pl.Y.Min = 0 // ratios between lines read true only from zero
		pl.Y.Tick.Marker = shortTicks{}
		pl.Legend.Top, pl.Legend.Left = true, true
		pl.Legend.XOffs = vg.Millimeter * 3
		top := 0.0
		pl.Add(plotter.NewGrid())
		for _, engine := range engineOrder(rows) {
			var xys plotter.XYs
			for _, row := range rows {
				if row.Workload == "echo" && row.Size == p.size && row.Depth == p.depth && row.Engine == engine {
					if v := c.value(row); v > 0 {
						xys = append(xys, plotter.XY{X: float64(row.Conns), Y: v})
					}
				}
			}
			if len(xys) == 0 {
				continue
			}
			sort.Slice(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
			for _, xy := range xys {
				top = max(top, xy.Y)
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return fmt.Errorf("report: chart %s: %w", c.name, err)
			}
			ink := engineColors[server.Base(engine)]
			line.Color, points.Color = ink, ink
			line.Width = vg.Points(1.5)
			if server.IsCopy(engine) { // its engine's colour, dashed
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			pl.Add(line, points)
			pl.Legend.Add(engine, line, points)
		}
		pl.Y.Max = top * 1.45 // the legend's room, above the lines
		if pl.X.Min == pl.X.Max {
			// One connection count: the axis gets a range around it (the plot's own would
			// reach zero, which a logarithmic axis cannot show).
			pl.X.Min, pl.X.Max = pl.X.Min/2, pl.X.Max*2
		}
	}
	const tile = 9 * vg.Centimeter
	img := vgimg.New(vg.Length(len(sizes))*tile*1.5, vg.Length(len(depths))*tile)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(depths), Cols: len(sizes), PadX: vg.Centimeter, PadY: vg.Centimeter,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, t, dc)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: chart %s: %w", c.name, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("report: chart %s: %w", c.name, err)
	}
	return f.Close()
}

// engineOrder is the engines in the order they first appear.
func engineOrder(rows []Row) []string {
	var order []string
	seen := map[string]bool{}
	for _, row := range rows {
		if !seen[row.Engine] {
			seen[row.Engine] = true
			order = append(order, row.Engine)
		}
	}
	return order
}

// shortTicks labels the default ticks 250k, 2.5M and so on instead of 2500000.00.
type shortTicks struct{}

func (shortTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = short(ts[i].Value)
		}
	}
	return ts
}

func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
