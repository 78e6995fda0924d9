// Package report turns the benchmark's samples into what people read: the results file
// (JSON, every sample), a markdown table with every point (the rows where uringnet loses
// included), PNG charts, and the README's performance section between its markers.
package report

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/uringnet/uringnet/benchmarks/harness"
)

// Results is one run of the benchmark: how it was made, on what, and every sample.
type Results struct {
	Command  string          `json:"command"` // the command line that produced the file
	Machine  harness.Machine `json:"machine"`
	Settings Settings        `json:"settings"`
	Notes    []string        `json:"notes,omitempty"` // what was not run, and why
	Points   []Point         `json:"points"`
}

// Settings are the method's parameters.
type Settings struct {
	Plan     string `json:"plan"`
	Repeats  int    `json:"repeats"`
	Warmup   string `json:"warmup"`
	Duration string `json:"duration"`
	// OfferedDuration is the measured time at a fixed offered load where it differs from
	// Duration; empty otherwise, and in results from before.
	OfferedDuration string `json:"offered_duration,omitempty"`
	Loops           int    `json:"loops"` // event loops of uringnet and gnet
	// ListenerRings are the listener engine's rings: listener.Listen's default since the
	// listener runs as programs call it; 0 in results from before, when it had Loops.
	ListenerRings int    `json:"listener_rings,omitempty"`
	Client        string `json:"client"` // the echo load generator: uring or net
	// PinnedServerCPUs is how many CPUs a pinned point's server may run on, and so its
	// GOMAXPROCS (Go's default); 0 where no point is pinned, and in results from before.
	PinnedServerCPUs int `json:"pinned_server_cpus,omitempty"`
	// Interleave is how many windows each engine was measured for on each set of servers, the
	// engines taking turns window by window (Repeats sets, each with servers started afresh);
	// 0: a fresh server for every run.
	Interleave int `json:"interleave,omitempty"`
}

// Point is one engine at one workload point, with its repeated samples.
type Point struct {
	Workload string `json:"workload"` // echo, connect, http, nethttp, redis-ping, redis-set, redis-get, netpoll, idle
	Load     string `json:"load"`     // what generated it: uring, net, wrk, redis-benchmark, idle
	Size     int    `json:"size,omitempty"`
	Conns    int    `json:"conns"`
	Depth    int    `json:"depth,omitempty"` // requests or messages pipelined
	// Rate is the offered load in messages or requests per second (0: a closed loop, as fast
	// as the server answers); at a fixed rate the latencies are what compares.
	Rate float64 `json:"rate,omitempty"`
	// Pinned: the server ran on CPUs of its own, the load generator on the others.
	Pinned bool `json:"pinned,omitempty"`
	// ReusePort: the server ran with gnet.WithReusePort(true), a listener per loop.
	ReusePort bool     `json:"reuseport,omitempty"`
	Engine    string   `json:"engine"`
	Unit      string   `json:"unit"` // msg/s, req/s (higher is better) or B/conn (lower is better)
	Samples   []Sample `json:"samples"`
}

// Sample is one measured run.
type Sample struct {
	Value     float64 `json:"value"`
	P50       float64 `json:"p50_us,omitempty"`
	P99       float64 `json:"p99_us,omitempty"`
	ServerCPU float64 `json:"server_cpu_ns_per_op,omitempty"`
	ClientCPU float64 `json:"client_cpu_ns_per_op,omitempty"`
	// Repeat is the round it was measured in, from 1 (0: not recorded): the engines alternate
	// within a round, so samples of one round were measured side by side.
	Repeat int `json:"repeat,omitempty"`
}

// Key names the point without its engine.
func (p Point) Key() string {
	return fmt.Sprintf("%s/%s/%d/%d/%d/%g/%t/%t", p.Workload, p.Load, p.Size, p.Conns, p.Depth, p.Rate, p.Pinned, p.ReusePort)
}

// Add records s at the point that matches at (engine included), creating it if needed.
func (r *Results) Add(at Point, s Sample) {
	for i := range r.Points {
		if p := &r.Points[i]; p.Key() == at.Key() && p.Engine == at.Engine {
			p.Samples = append(p.Samples, s)
			return
		}
	}
	at.Samples = []Sample{s}
	r.Points = append(r.Points, at)
}

// Save writes r as indented JSON.
func (r *Results) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: save results: %w", err)
	}
	return nil
}

// Load reads a results file.
func Load(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: load results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: load results %s: %w", path, err)
	}
	return &r, nil
}
