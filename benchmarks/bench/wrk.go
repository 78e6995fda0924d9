package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/report"
	"github.com/uringnet/uringnet/benchmarks/server"
)

func httpPoints(o *options) []report.Point {
	var ps []report.Point
	for _, pinned := range o.pinnings {
		for _, depth := range o.httpDepths {
			ps = append(ps, report.Point{Workload: "http", Load: "wrk", Conns: o.httpConns, Depth: depth, Pinned: pinned, Unit: "req/s"})
		}
	}
	return ps
}

// netHTTPPoints are net/http's hello world under wrk, unpipelined: the request pattern of a
// browser or an HTTP/1.1 client pool.
func netHTTPPoints(o *options) []report.Point {
	var ps []report.Point
	for _, conns := range o.netHTTPConns {
		ps = append(ps, report.Point{Workload: server.NetHTTP, Load: "wrk", Conns: conns, Depth: 1, Unit: "req/s"})
	}
	return ps
}

// measureHTTP checks a fresh HTTP server's answers, warms it up with a short wrk run and
// measures it with another (wrk -t2, pipelining by benchmarks/wrk/pipeline.lua); pinned, each
// on CPUs of its own. A run in
// which wrk reports any non-2xx answer or socket error fails: a fast wrong server is not fast.
// The point's workload names the server's program (the handler's HTTP, or net/http's).
func measureHTTP(o *options, at report.Point) (report.Sample, error) {
	srv, addr, err := startServer(o, at.Engine, at.Workload, at.Pinned)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Stop()
	if err := checkPipelined(addr, 16); err != nil {
		return report.Sample{}, fmt.Errorf("server check: %w", err)
	}
	if _, err := runWrk(o, addr, at, o.warmup); err != nil {
		return report.Sample{}, fmt.Errorf("warm-up: %w", err)
	}
	cpu := harness.MeterCPU(srv.Pid())
	w, err := runWrk(o, addr, at, o.duration)
	if err != nil {
		return report.Sample{}, err
	}
	return report.Sample{Value: w.rate, P50: w.p50, P99: w.p99, ServerCPU: harness.PerOp(cpu.Used(), w.requests)}, nil
}

type wrkResult struct {
	rate, requests, p50, p99 float64 // p50 and p99 in µs
}

var (
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkQuantile = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// runWrk runs wrk for d (whole seconds, at least one: wrk counts no finer).
func runWrk(o *options, addr string, at report.Point, d time.Duration) (wrkResult, error) {
	secs := max(1, int(math.Ceil(d.Seconds())))
	threads := min(2, at.Conns) // wrk wants a connection per thread at least
	out, err := loadOutput(o.cpus(at.Pinned, false), exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(at.Conns),
		"-d"+strconv.Itoa(secs)+"s", "--latency", "-s", o.wrkLua, "http://"+addr+"/", "--", strconv.Itoa(at.Depth)), true)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		return wrkResult{}, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	return parseWrk(out)
}

func parseWrk(out []byte) (wrkResult, error) {
	var r wrkResult
	m := wrkRate.FindSubmatch(out)
	n := wrkRequests.FindSubmatch(out)
	if m == nil || n == nil {
		return r, fmt.Errorf("no rate in wrk's output:\n%s", out)
	}
	r.rate, _ = strconv.ParseFloat(string(m[1]), 64)
	r.requests, _ = strconv.ParseFloat(string(n[1]), 64)
	for _, q := range wrkQuantile.FindAllStringSubmatch(string(out), -1) {
		which, v, unit := q[1], q[2], q[3]
		us, _ := strconv.ParseFloat(v, 64)
		switch unit {
		case "ms":
			us *= 1e3
		case "s":
			us *= 1e6
		}
		if which == "50" {
			r.p50 = us
		} else {
			r.p99 = us
		}
	}
	return r, nil
}

// checkPipelined sends n pipelined requests in one write and checks that n correct responses
// come back, in order.
func checkPipelined(addr string, n int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(bytes.Repeat([]byte(server.Request), n)); err != nil {
		return err
	}
	return server.ReadResponses(bufio.NewReader(c), n)
}

// loadOutput runs an external load generator to its end on cpus (anywhere when none) and
// returns its standard output, and its standard error too when combined.
func loadOutput(cpus []int, cmd *exec.Cmd, combined bool) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	if combined {
		cmd.Stderr = &out
	}
	if err := harness.OnCPUs(cpus, cmd.Start); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	return out.Bytes(), err
}
