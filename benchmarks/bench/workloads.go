package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/loadgen"
	"github.com/uringnet/uringnet/benchmarks/report"
	"github.com/uringnet/uringnet/benchmarks/server"
)

var workloads = []workload{
	{name: "echo", points: echoPoints, engines: allEngines, measure: measureLoad, serve: serveLoad, skip: never},
	{name: "connect", points: connectPoints, engines: gnetAPIEngines, measure: measureLoad, skip: never},
	{name: "http", points: httpPoints, engines: allEngines, measure: measureHTTP, skip: needs("wrk")},
	{name: server.NetHTTP, points: netHTTPPoints, engines: goroutineEngines, measure: measureHTTP, skip: needs("wrk")},
	{name: server.NetHTTP, points: netHTTPLoadPoints, engines: goroutineEngines, measure: measureLoad, serve: serveLoad, skip: never, offered: offeredHalf},
	{name: "redis", points: redisPoints, engines: gnetAPIEngines, measure: measureRedis, skip: needs("redis-benchmark")},
	{name: "resp", points: respPoints, engines: gnetAPIEngines, measure: measureRESP, skip: never},
	{name: "netpoll", points: netpollPoints, engines: gnetAPIEngines, measure: measureNetpoll, skip: never},
	{name: "idle", points: idlePoints, engines: allEngines, measure: measureIdle, skip: never},
}

// workloadsNamed are the workloads named in only (comma-separated), in run order.
func workloadsNamed(only string) []workload {
	names := strings.Split(only, ",")
	var ws []workload
	for _, w := range workloads {
		if slices.Contains(names, w.name) {
			ws = append(ws, w)
		}
	}
	return ws
}

func allEngines(o *options) []string { return o.engines }

// goroutineEngines are the chosen engines that run net.Listener programs, gnetAPIEngines
// those that run gnet.EventHandlers.
var goroutineEngines, gnetAPIEngines = enginesWhere(true), enginesWhere(false)

func enginesWhere(goroutinePerConn bool) func(o *options) []string {
	return func(o *options) []string {
		var es []string
		for _, e := range o.engines {
			if server.GoroutinePerConn(e) == goroutinePerConn {
				es = append(es, e)
			}
		}
		return es
	}
}

func never() string { return "" }

// needs skips a workload whose external load generator is not installed, saying so.
func needs(tool string) func() string {
	return func() string {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("%s is not installed, so its rows were not run (`make bench-deps` installs it).", tool)
		}
		return ""
	}
}

// echoPoints are every combination of the plan's echo sizes, connections and depths, then each
// bulk size at bulkConns unpipelined (those the combinations did not already hold).
func echoPoints(o *options) []report.Point {
	var ps []report.Point
	seen := map[string]bool{}
	add := func(p report.Point) {
		if !seen[p.Key()] {
			seen[p.Key()] = true
			ps = append(ps, p)
		}
	}
	for _, pinned := range o.pinnings {
		for _, depth := range o.echoDepths {
			for _, size := range o.echoSizes {
				for _, conns := range o.echoConns {
					add(report.Point{Workload: "echo", Load: o.client, Size: size, Conns: conns, Depth: depth, Pinned: pinned, Unit: "msg/s"})
				}
			}
		}
		for _, size := range o.bulkSizes {
			add(report.Point{Workload: "echo", Load: o.client, Size: size, Conns: o.bulkConns, Depth: 1, Pinned: pinned, Unit: "msg/s"})
		}
	}
	return ps
}

// connectPoints are short-lived connections from connectClients clients at a time, each one
// 64 B round trip, with the default acceptor and with gnet.WithReusePort(true), at each of the
// plan's pinnings (none when the plan has no clients). The uring client drives them: the net
// client spends more CPU per connection than either server, and so measures itself.
func connectPoints(o *options) []report.Point {
	if o.connectClients == 0 {
		return nil
	}
	var ps []report.Point
	for _, pinned := range o.pinnings {
		for _, reusePort := range []bool{false, true} {
			ps = append(ps, report.Point{Workload: "connect", Load: "uring", Size: 64, Conns: o.connectClients, Depth: 1,
				Pinned: pinned, ReusePort: reusePort, Unit: "conn/s"})
		}
	}
	return ps
}

// netHTTPLoadPoints are net/http's hello world under our load generator's HTTP client, as fast
// as the servers answer; the run follows each with the same point at a fixed offered load.
func netHTTPLoadPoints(o *options) []report.Point {
	var ps []report.Point
	for _, pinned := range o.pinnings {
		for _, depth := range o.netHTTPLoadDepths {
			for _, conns := range o.netHTTPLoadConns {
				ps = append(ps, report.Point{Workload: server.NetHTTP, Load: "net", Conns: conns, Depth: depth, Pinned: pinned, Unit: "req/s"})
			}
		}
	}
	return ps
}

// offeredHalf is the fixed offered load after a saturation point: half the slower engine's
// median there, a load both serve, so that their latencies compare at the same rate.
func offeredHalf(o *options, medians []float64) float64 { return o.offered * slices.Min(medians) }

// startServer starts the benchmark's own server for engine in a child process, on the
// server's CPUs when pinned; flags are more of serve's flags (-reuseport).
func startServer(o *options, engine, program string, pinned bool, flags ...string) (srv *harness.Child, addr string, err error) {
	err = harness.OnCPUs(o.cpus(pinned, true), func() error {
		args := append([]string{"serve", "-engine", engine, "-program", program, "-loops", strconv.Itoa(o.loops)}, flags...)
		srv, addr, err = harness.StartServer(args...)
		return err
	})
	return srv, addr, err
}

// startLoad starts the load generator in a child process, on the load generator's CPUs when
// pinned.
func startLoad(o *options, pinned bool, args ...string) (ld *harness.Child, err error) {
	err = harness.OnCPUs(o.cpus(pinned, false), func() error {
		ld, err = harness.Start(append([]string{"load"}, args...)...)
		return err
	})
	return ld, err
}

// measureLoad runs the load generator against a fresh server of the benchmark's own (echo, or
// net/http's hello world over HTTP, or echo for short-lived connections).
func measureLoad(o *options, at report.Point) (report.Sample, error) {
	srv, err := serveLoad(o, at)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.child.Stop()
	return srv.measure(o, at)
}

// served is a running server of the benchmark's own and the protocol its program speaks.
type served struct {
	child          *harness.Child
	addr, protocol string
}

// serveLoad starts a server of the benchmark's own for at's engine and workload.
func serveLoad(o *options, at report.Point) (served, error) {
	program, protocol := "echo", loadgen.Echo
	if at.Workload == server.NetHTTP {
		program, protocol = server.NetHTTP, loadgen.HTTP
	}
	var flags []string
	if at.ReusePort {
		flags = append(flags, "-reuseport")
	}
	srv, addr, err := startServer(o, at.Engine, program, at.Pinned, flags...)
	return served{child: srv, addr: addr, protocol: protocol}, err
}

// measure runs the load generator against the server once.
func (srv served) measure(o *options, at report.Point) (report.Sample, error) {
	s, err := loadServer(o, at, srv.protocol, srv.addr, srv.child.Pid())
	if logged := srv.child.Errors(); err != nil && logged != "" {
		// A load that failed may have met a server that logged why (a refused connection, a
		// failed ring): the error carries the log.
		err = fmt.Errorf("%w\nthe server's log:\n%s", err, logged)
	}
	return s, err
}

// loadServer runs the load generator in a child process against the server at addr, process
// pid, reading the server's and the client's CPU time at the edges of the measured window.
func loadServer(o *options, at report.Point, protocol, addr string, pid int) (report.Sample, error) {
	ld, err := startLoad(o, at.Pinned, "-client", at.Load, "-protocol", protocol, "-addr", addr, "-conns", strconv.Itoa(at.Conns),
		"-size", strconv.Itoa(max(at.Size, 1)), "-depth", strconv.Itoa(at.Depth), "-rate", strconv.FormatFloat(at.Rate, 'f', -1, 64),
		"-connect="+strconv.FormatBool(at.Workload == "connect"), "-warmup", o.warmup.String(), "-duration", o.measuredTime(at).String())
	if err != nil {
		return report.Sample{}, err
	}
	defer ld.Stop()
	if _, err := ld.Expect("MARK start"); err != nil {
		return report.Sample{}, err
	}
	srvCPU, ldCPU := harness.MeterCPU(pid), harness.MeterCPU(ld.Pid())
	if _, err := ld.Expect("MARK end"); err != nil {
		return report.Sample{}, err
	}
	srvUsed, ldUsed := srvCPU.Used(), ldCPU.Used()
	line, err := ld.Expect("RESULT ")
	if err != nil {
		return report.Sample{}, err
	}
	var r loadgen.Result
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return report.Sample{}, fmt.Errorf("load generator's result: %w", err)
	}
	msgs := float64(r.Messages)
	return report.Sample{Value: r.Rate(), P50: r.Latency.P50, P99: r.Latency.P99,
		ServerCPU: harness.PerOp(srvUsed, msgs), ClientCPU: harness.PerOp(ldUsed, msgs)}, nil
}

// idlePoints is memory per idle connection at idleConns (none when the plan has none).
func idlePoints(o *options) []report.Point {
	if o.idleConns == 0 {
		return nil
	}
	return []report.Point{{Workload: "idle", Load: "idle", Conns: o.idleConns, Unit: "B/conn"}}
}

// measureIdle is the growth of a fresh echo server's resident memory per connection once
// conns connections have made one round trip each and sit idle.
func measureIdle(o *options, at report.Point) (report.Sample, error) {
	srv, addr, err := startServer(o, at.Engine, "echo", false)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Stop()
	before, err := harness.RSS(srv.Pid())
	if err != nil {
		return report.Sample{}, err
	}
	ld, err := harness.Start("load", "-idle", "-addr", addr, "-conns", strconv.Itoa(at.Conns))
	if err != nil {
		return report.Sample{}, err
	}
	defer ld.Stop()
	if _, err := ld.Expect("IDLE"); err != nil {
		return report.Sample{}, err
	}
	time.Sleep(500 * time.Millisecond) // let the server finish settling the last connections
	after, err := harness.RSS(srv.Pid())
	if err != nil {
		return report.Sample{}, err
	}
	return report.Sample{Value: float64(after-before) / float64(at.Conns)}, nil
}
