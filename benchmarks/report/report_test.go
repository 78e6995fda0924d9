package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleResults has a point where uringnet wins over gnet and listener loses to net, one
// where uringnet loses, one where no baseline ran, and idle memory (where less is better) that
// uringnet loses.
func sampleResults() *Results {
	r := &Results{Command: "make bench (bench run -plan quick)", Settings: Settings{Plan: "quick", Repeats: 3, Loops: 2}}
	echo := Point{Workload: "echo", Load: "uring", Size: 64, Conns: 100, Depth: 1, Unit: "msg/s"}
	http := Point{Workload: "http", Load: "wrk", Conns: 256, Depth: 16, Unit: "req/s"}
	idle := Point{Workload: "idle", Load: "idle", Conns: 10000, Unit: "B/conn"}
	add := func(p Point, engine string, values ...float64) {
		p.Engine = engine
		for _, v := range values {
			r.Add(p, Sample{Value: v, P99: v / 1000, ServerCPU: 1e9 / v})
		}
	}
	add(echo, "uringnet", 200, 220, 180)
	add(echo, "gnet", 100, 110, 90)
	add(echo, "net", 150)
	add(echo, "listener", 120)
	add(http, "uringnet", 90, 95, 99)
	add(http, "gnet", 100, 100, 100)
	add(idle, "uringnet", 900)
	add(idle, "gnet", 600)
	add(Point{Workload: "echo", Load: "uring", Size: 64, Conns: 1000, Depth: 1, Unit: "msg/s"}, "listener", 70)
	return r
}

func TestRowsComparesWithTheBaseline(t *testing.T) {
	rows := sampleResults().Rows()
	if len(rows) != 9 {
		t.Fatalf("%d rows, want one per engine and point (9)", len(rows))
	}
	first := rows[0]
	if first.Engine != "uringnet" || first.Value.Median != 200 || first.Value.Min != 180 || first.Value.Max != 220 || first.Value.N != 3 {
		t.Fatalf("uringnet echo row %+v", first)
	}
	if first.VsValue != 2 || first.Loses() {
		t.Fatalf("uringnet at twice gnet's rate: ratio %v, loses %v", first.VsValue, first.Loses())
	}
	for _, row := range rows {
		switch {
		case row.Workload == "http" && row.Engine == "uringnet" && !(row.VsValue == 0.95 && row.Loses()):
			t.Fatalf("http: ratio %v, loses %v", row.VsValue, row.Loses())
		case row.Workload == "idle" && row.Engine == "uringnet" && !(row.VsValue == 1.5 && row.Loses()):
			t.Fatalf("idle (less is better): ratio %v, loses %v", row.VsValue, row.Loses())
		case row.Workload == "echo" && row.Engine == "listener" && row.Conns == 100 && !(row.VsValue == 0.8 && row.Loses()):
			t.Fatalf("listener is compared with net: ratio %v, loses %v", row.VsValue, row.Loses())
		case row.Workload == "echo" && row.Engine == "net" && row.VsValue != 1:
			t.Fatalf("net is its own baseline: ratio %v", row.VsValue)
		case row.Conns == 1000 && (row.VsValue != 0 || row.Loses()):
			t.Fatalf("a point net did not run has ratio %v", row.VsValue)
		}
	}
}

// The header gives a pinned server's GOMAXPROCS only for a run that pinned one.
func TestMarkdownSaysPinnedServersGOMAXPROCS(t *testing.T) {
	r := sampleResults()
	r.Machine.Cores = 2
	if md := r.Markdown("", nil); !strings.Contains(md, "`net` on GOMAXPROCS=2; ") {
		t.Errorf("unpinned run: header does not say GOMAXPROCS=2 alone:\n%s", md)
	}
	r.Settings.PinnedServerCPUs = 1
	if md := r.Markdown("", nil); !strings.Contains(md, "`net` on GOMAXPROCS=2 (1 when pinned: ") {
		t.Errorf("pinned run: header does not give the pinned server's GOMAXPROCS:\n%s", md)
	}
}

// A run that measured longer at a fixed offered load says so, and one that did not says
// nothing of it.
func TestMarkdownSaysTheOfferedLoadsWindow(t *testing.T) {
	r := sampleResults()
	r.Settings.Duration = "2s"
	if md := r.Markdown("", nil); !strings.Contains(md, ", 2s measured. ") {
		t.Errorf("a run with one window: header does not say it alone:\n%s", md)
	}
	r.Settings.OfferedDuration = "6s"
	if md := r.Markdown("", nil); !strings.Contains(md, ", 2s measured (6s at a fixed offered load). ") {
		t.Errorf("a run with a longer window at a fixed load: header does not give it:\n%s", md)
	}
}

func TestMarkdownShowsEveryRowAndTheLosses(t *testing.T) {
	md := sampleResults().Markdown("img/", []string{"x-throughput.png"})
	for _, want := range []string{
		"| echo | uring | 64 | 100 | 1 | uringnet | 3 | 200 msg/s (180–220) | 2.00 |",
		"| echo | uring | 64 | 100 | 1 | gnet | 3 | 100 msg/s (90–110) | 1.00 |",
		"| echo | uring | 64 | 100 | 1 | net | 1 | 150 msg/s (150–150) | 1.00 |",
		"| echo | uring | 64 | 100 | 1 | listener | 1 | 120 msg/s (120–120) | **0.80** |",
		"| echo | uring | 64 | 1000 | 1 | listener | 1 | 70 msg/s (70–70) | – |",
		"| http | wrk | – | 256 | 16 | uringnet | 3 | 95 req/s (90–99) | **0.95** |",
		"| 10000 | uringnet | 1 | 900 (900–900) | **1.50** |",
		"| 10000 | gnet | 1 | 600 (600–600) | 1.00 |",
		"uringnet is behind gnet at 2 of 3 points: http 256 conns, depth 16 (0.95×); idle 10000 conns (1.50×).",
		"listener is behind net at 1 of 1 points: echo 64 B, 100 conns (0.80×).",
		"uringnet's server uses more CPU per message or request than gnet's at 1 of 3 points: http 256 conns, depth 16 (1.05×).",
		"listener's server uses more CPU per message or request than net's at 1 of 1 points: echo 64 B, 100 conns (1.25×).",
		"![x-throughput.png](img/x-throughput.png)",
		"make bench (bench run -plan quick)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown lacks %q:\n%s", want, md)
		}
	}
	if rows := strings.Count(md, "\n| ") - 3; rows != 9 { // less the three header rows
		t.Errorf("%d table rows, want 9:\n%s", rows, md)
	}
}

func TestSpliceReplacesOnlyTheSection(t *testing.T) {
	doc := "# T\n\n## Performance\n\nhand-written\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\n## After\n"
	got, err := Splice(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\n## Performance\n\nhand-written\n\n" + BeginMarker + "\nnew table\n" + EndMarker + "\n\n## After\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := Splice("no markers", "x"); err == nil {
		t.Fatal("a document without markers was accepted")
	}
}

func TestSaveLoadAndCharts(t *testing.T) {
	dir := t.TempDir()
	r := sampleResults()
	if err := r.Save(filepath.Join(dir, "bench.json")); err != nil {
		t.Fatal(err)
	}
	back, err := Load(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Markdown("", nil) != r.Markdown("", nil) {
		t.Fatal("the results read back render differently")
	}
	names, err := back.Charts(filepath.Join(dir, "bench"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Fatalf("charts %v", names)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n")) || len(b) < 5000 {
			t.Fatalf("%s: %d bytes, %v", n, len(b), err)
		}
	}
}

// A copy of an engine (net.2) is compared with the engine itself, and the markdown gives the
// spread of its ratios: throughput where the engines ran flat out, p99 at a fixed load.
func TestACopyOfAnEngineShowsTheMeasuresSpread(t *testing.T) {
	r := &Results{Settings: Settings{Plan: "listener", Repeats: 1}}
	flat := Point{Workload: "nethttp", Load: "net", Conns: 64, Depth: 1, Unit: "req/s"}
	fixed := flat
	fixed.Rate = 1000
	add := func(p Point, engine string, value, p99 float64) {
		p.Engine = engine
		r.Add(p, Sample{Value: value, P99: p99, ServerCPU: 1e9 / value})
	}
	add(flat, "listener", 1100, 10)
	add(flat, "net", 1000, 10)
	add(flat, "net.2", 950, 10)
	add(fixed, "listener", 1000, 300)
	add(fixed, "net", 1000, 200)
	add(fixed, "net.2", 1000, 260)
	idle := Point{Workload: "idle", Load: "idle", Conns: 10000, Unit: "B/conn"}
	add(idle, "net", 8000, 0)
	add(idle, "net.2", 12000, 0) // memory is no rate: not in the copy's spread
	for _, row := range r.Rows() {
		if row.Engine == "net.2" && row.Workload == "nethttp" && row.Rate == 0 && row.VsValue != 0.95 {
			t.Errorf("net.2 at saturation: ratio %v, want 0.95 (against net)", row.VsValue)
		}
		if row.Engine == "listener" && row.Rate > 0 && row.VsP99 != 1.5 {
			t.Errorf("listener at a fixed load: p99 ratio %v, want 1.5 (against net, not its copy)", row.VsP99)
		}
	}
	md := r.Markdown("", nil)
	want := "net.2 is net run again, alternating with the others: its median 0.95–0.95× at the points run as fast as they go, its median p99 1.30–1.30× at a fixed offered load."
	if !strings.Contains(md, want) {
		t.Errorf("the markdown lacks %q:\n%s", want, md)
	}
	if strings.Contains(md, "net.2 is behind") {
		t.Errorf("a copy is listed as one of ours:\n%s", md)
	}
}

// At a fixed offered load the p99 is compared round by round: the median of the rounds' ratios,
// over the rounds both engines completed, not the ratio of the two medians.
func TestFixedLoadP99IsComparedRoundByRound(t *testing.T) {
	r := &Results{}
	at := Point{Workload: "nethttp", Load: "net", Conns: 1, Depth: 1, Rate: 7000, Unit: "req/s"}
	add := func(engine string, round int, p99 float64) {
		p := at
		p.Engine = engine
		r.Add(p, Sample{Value: 7000, P99: p99, Repeat: round})
	}
	// net's rounds stall in turn; the listener is 1.1x net in rounds 1 and 3 and its round 2
	// failed (no sample): the medians would say 0.12x.
	add("net", 1, 1)
	add("listener", 1, 1.1)
	add("net", 2, 10)
	add("net", 3, 30)
	add("listener", 3, 33)
	add("listener", 4, 1.2)
	for _, row := range r.Rows() {
		if row.Engine != "listener" {
			continue
		}
		if row.VsP99 < 1.0999 || row.VsP99 > 1.1001 || !row.Loses() {
			t.Fatalf("listener p99 ratio %v (loses %v), want 1.1: rounds 1 and 3 paired, 2 and 4 alone", row.VsP99, row.Loses())
		}
		return
	}
	t.Fatal("no listener row")
}

// Results recorded before samples carried their round pair in order, when both engines have
// every sample; otherwise the medians are compared.
func TestFixedLoadP99WithoutRoundsPairsInOrder(t *testing.T) {
	for _, c := range []struct {
		name          string
		listener, net []float64
		want          float64
	}{
		{"all samples, paired in order", []float64{2, 20, 1}, []float64{1, 10, 30}, 2}, // ratios 2, 2, 1/30
		{"one missing: the medians", []float64{2, 20}, []float64{1, 10, 30}, 1.1},      // 11 over 10
	} {
		r := &Results{}
		at := Point{Workload: "nethttp", Load: "net", Conns: 1, Depth: 1, Rate: 7000, Unit: "req/s"}
		for engine, p99s := range map[string][]float64{"listener": c.listener, "net": c.net} {
			p := at
			p.Engine = engine
			for _, v := range p99s {
				r.Add(p, Sample{Value: 7000, P99: v})
			}
		}
		for _, row := range r.Rows() {
			if row.Engine == "listener" && (row.VsP99 < c.want*0.9999 || row.VsP99 > c.want*1.0001) {
				t.Errorf("%s: listener p99 ratio %v, want %v", c.name, row.VsP99, c.want)
			}
		}
	}
}

// A run of the points at one connection count (bench run -conns 1) draws its charts: a
// logarithmic axis over a single value has no range of its own.
func TestChartsOfASingleConnectionCount(t *testing.T) {
	r := &Results{Settings: Settings{Plan: "full", Repeats: 1, Loops: 2}}
	for _, engine := range []string{"uringnet", "gnet"} {
		r.Add(Point{Workload: "echo", Load: "uring", Size: 64, Conns: 1, Depth: 1, Unit: "msg/s", Engine: engine},
			Sample{Value: 20000, P99: 90, ServerCPU: 25000})
	}
	names, err := r.Charts(filepath.Join(t.TempDir(), "one"))
	if err != nil || len(names) != 3 {
		t.Fatalf("charts %v, %v", names, err)
	}
}
