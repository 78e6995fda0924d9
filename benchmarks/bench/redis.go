package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/report"
)

// The RESP rows run examples/resp, a gnet-API program, on uringnet.Run and (built with
// -tags gnetengine) on gnet.Run: the same handler, the two engines (gnetAPIEngines). Two load
// generators drive it, redis-benchmark (workload redis) and our own client (workload resp),
// with the same commands: PING, and SET and GET of one key to a value of redisSize bytes.

// redisTests are redis-benchmark's tests, one point each so that CPU time is the test's own.
var redisTests = []string{"ping_mbulk", "set", "get"}

func redisPoints(o *options) []report.Point { return respPointsOf(o, "redis-benchmark") }

// respPoints are the same points under our load generator's client (-client, uring unless
// told), which spends less CPU per request than redis-benchmark does, so that the servers'
// rates are their own.
func respPoints(o *options) []report.Point { return respPointsOf(o, o.client) }

// respPointsOf is every RESP command at each of the plan's pinnings and depths, load driving.
func respPointsOf(o *options, load string) []report.Point {
	var ps []report.Point
	for _, pinned := range o.pinnings {
		for _, depth := range o.redisDepths {
			for _, t := range redisTests {
				p := report.Point{Workload: "redis-" + strings.TrimSuffix(t, "_mbulk"), Load: load,
					Conns: o.redisConns, Depth: depth, Pinned: pinned, Unit: "req/s"}
				if t != "ping_mbulk" {
					p.Size = o.redisSize
				}
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// measureRESP runs our load generator's client against a fresh examples/resp, each message one
// command and its reply checked byte for byte; its own warm-up precedes the measured window.
func measureRESP(o *options, at report.Point) (report.Sample, error) {
	srv, addr, _, err := startExample(o, "resp", at.Engine, at.Pinned)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Kill()
	return loadServer(o, at, "resp-"+strings.TrimPrefix(at.Workload, "redis-"), addr, srv.Pid())
}

// measureRedis runs one redis-benchmark test against a fresh examples/resp, after a short
// unmeasured run of the same test; pinned, each on CPUs of its own.
func measureRedis(o *options, at report.Point) (report.Sample, error) {
	srv, _, port, err := startExample(o, "resp", at.Engine, at.Pinned)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Kill()
	test := strings.TrimPrefix(at.Workload, "redis-")
	if test == "ping" {
		test = "ping_mbulk"
	}
	requests := o.redisRequests
	if at.Depth < 16 {
		requests /= 5
	}
	if _, err := redisBenchmark(o, port, test, at, requests/10); err != nil {
		return report.Sample{}, fmt.Errorf("warm-up: %w", err)
	}
	cpu := harness.MeterCPU(srv.Pid())
	s, err := redisBenchmark(o, port, test, at, requests)
	if err != nil {
		return report.Sample{}, err
	}
	s.ServerCPU = harness.PerOp(cpu.Used(), float64(requests))
	return s, nil
}

// redisBenchmark runs one test, on the load generator's CPUs when the point is pinned.
func redisBenchmark(o *options, port, test string, at report.Point, requests int) (report.Sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := loadOutput(o.cpus(at.Pinned, false), exec.CommandContext(ctx, "redis-benchmark", "-h", "127.0.0.1", "-p", port,
		"-c", strconv.Itoa(at.Conns), "-n", strconv.Itoa(requests), "-P", strconv.Itoa(at.Depth), "-d", strconv.Itoa(o.redisSize),
		"-t", test, "--csv"), false)
	if err != nil {
		return report.Sample{}, fmt.Errorf("redis-benchmark -t %s: %v\n%s", test, err, out)
	}
	s, err := parseRedisCSV(out)
	if err != nil {
		return s, fmt.Errorf("redis-benchmark -t %s: %w", test, err)
	}
	return s, nil
}

// parseRedisCSV reads the one test's line of redis-benchmark --csv: its rate, then latencies
// in milliseconds (avg, min, p50, p95, p99, max).
func parseRedisCSV(out []byte) (report.Sample, error) {
	records, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(records) != 2 || len(records[1]) != 8 || records[0][1] != "rps" {
		return report.Sample{}, fmt.Errorf("unexpected output %q (%v)", out, err)
	}
	var v [8]float64
	for i, f := range records[1][1:] {
		if v[i+1], err = strconv.ParseFloat(f, 64); err != nil {
			return report.Sample{}, fmt.Errorf("unexpected output %q: %w", out, err)
		}
	}
	return report.Sample{Value: v[1], P50: v[4] * 1e3, P99: v[6] * 1e3}, nil
}
