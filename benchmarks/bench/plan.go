package main

import (
	"fmt"
	"time"

	"github.com/uringnet/uringnet/benchmarks/report"
)

// plan is which points a run measures, and how long.
type plan struct {
	echoSizes, echoConns, echoDepths []int
	// bulkSizes are echoed besides, each at bulkConns connections, unpipelined: the large
	// messages, where what counts is server CPU per byte.
	bulkSizes []int
	bulkConns int
	// pinnings: each echo and load-generator HTTP point is measured unpinned (false) and/or
	// with the server and the load generator on CPUs of their own (true).
	pinnings   []bool
	httpConns  int
	httpDepths []int
	// net/http's hello world on the goroutine engines under wrk, at each of netHTTPConns
	// (none: not run), unpipelined.
	netHTTPConns []int
	// net/http's hello world under our load generator's HTTP client, at each of
	// netHTTPLoadConns and netHTTPLoadDepths: as fast as the servers answer, then, at a fixed
	// offered load, offered times the slower engine's median.
	netHTTPLoadConns, netHTTPLoadDepths []int
	offered                             float64
	// RESP PING, SET and GET at redisConns connections and each of redisDepths, driven by
	// redis-benchmark (workload redis) and by our load generator's client (workload resp).
	redisConns    int
	redisDepths   []int
	redisSize     int // bytes of the value SET stores and GET reads (redis-benchmark -d)
	redisRequests int // per redis-benchmark run at depth 16 (a fifth at depth 1)
	// 64 B echo on examples/netpoll (gnet's pkg/netpoll API) at each of netpollConns and
	// netpollDepths (none: not run).
	netpollConns, netpollDepths []int
	// connectClients clients at a time open short-lived connections (connect, one 64 B round
	// trip, close), the server with its default acceptor and with WithReusePort(true); 0: not
	// run.
	connectClients   int
	idleConns        int
	repeats          int
	warmup, duration time.Duration
	// offeredDuration is the measured time at a fixed offered load (0: duration): a p99 over
	// a short window is the window's longest stall, which the machine's scheduling decides
	// (docs/listener.md, "Figures", has the arithmetic).
	offeredDuration time.Duration
}

// measuredTime is how long a run at the point measures: offeredDuration at a fixed offered
// load, if the plan sets it.
func (p plan) measuredTime(at report.Point) time.Duration {
	if at.Rate > 0 && p.offeredDuration > 0 {
		return p.offeredDuration
	}
	return p.duration
}

var plans = map[string]plan{
	// The everyday comparison: a few minutes on a 2-core machine.
	"quick": {
		echoSizes: []int{64}, echoConns: []int{100, 1000}, echoDepths: []int{1, 16}, pinnings: []bool{false},
		httpConns: 256, httpDepths: []int{16},
		redisConns: 50, redisDepths: []int{16}, redisSize: 3, redisRequests: 1_000_000,
		netpollConns: []int{100, 1000}, netpollDepths: []int{1},
		idleConns: 10_000,
		repeats:   3, warmup: 500 * time.Millisecond, duration: time.Second,
	},
	// Every point of the issue: 64 B, 512 B and 4 KiB echo at 1 to 10,000 connections,
	// pipelined 1 and 16 deep, and 64 KiB at 100; short-lived connections from 100 clients;
	// HTTP plaintext and RESP unpipelined and 16 deep; idle memory.
	"full": {
		echoSizes: []int{64, 512, 4096}, echoConns: []int{1, 10, 100, 1000, 10_000}, echoDepths: []int{1, 16}, pinnings: []bool{false},
		bulkSizes: []int{65536}, bulkConns: 100, connectClients: 100,
		httpConns: 256, httpDepths: []int{1, 16}, netHTTPConns: []int{256},
		redisConns: 50, redisDepths: []int{1, 16}, redisSize: 3, redisRequests: 2_000_000,
		netpollConns: []int{100, 1000}, netpollDepths: []int{1, 16},
		idleConns: 10_000,
		repeats:   3, warmup: time.Second, duration: 3 * time.Second,
	},
	// The speed targets of the gnet drop-in and net.Listener issues, five repeats each: HTTP
	// plaintext 16 deep at 256 connections (uringnet over gnet), 64 B echo at 1,000
	// connections and net/http's hello world at 256 (listener over net), idle memory.
	"accept": {
		echoSizes: []int{64}, echoConns: []int{1000}, echoDepths: []int{1}, pinnings: []bool{false},
		httpConns: 256, httpDepths: []int{16}, netHTTPConns: []int{256},
		idleConns: 10_000,
		repeats:   5, warmup: time.Second, duration: 3 * time.Second,
	},
	// RESP and HTTP against gnet (run with -engines uringnet,gnet -only http,redis,resp), seven
	// repeats: PING, SET and GET of a 3 B value at 50 connections 16 deep, driven by
	// redis-benchmark and by our uring client (which costs the load generator's CPU less per
	// request than either server, where redis-benchmark's one thread costs more and sets both
	// servers' rate), wrk HTTP plaintext 16 deep at 256 connections; each unpinned and pinned
	// (the load generator otherwise competes with the server for the same two CPUs).
	"resp": {
		pinnings:  []bool{false, true},
		httpConns: 256, httpDepths: []int{16},
		redisConns: 50, redisDepths: []int{16}, redisSize: 3, redisRequests: 1_000_000,
		repeats: 7, warmup: 500 * time.Millisecond, duration: 2 * time.Second,
	},
	// Large messages and short-lived connections, uringnet against gnet (run with -engines
	// uringnet,gnet), seven repeats, about eight minutes: echo at 64 B, 4 KiB and 64 KiB over
	// 100 connections, unpipelined (server CPU per byte); connect, one 64 B round trip, close,
	// from 100 clients at a time, with the default acceptor and with WithReusePort(true); each
	// unpinned and pinned (server and load generator on CPUs of their own).
	"sizes": {
		echoSizes: []int{64}, echoConns: []int{100}, echoDepths: []int{1}, pinnings: []bool{false, true},
		bulkSizes: []int{4096, 65536}, bulkConns: 100, connectClients: 100,
		repeats: 7, warmup: 500 * time.Millisecond, duration: 2 * time.Second,
	},
	// The engine at its own limit (run with -loops 1 -engines uringnet,gnet -only echo): 64 B
	// echo over one loop at 100 and 1,000 connections, unpipelined, the server on one CPU and
	// the load generator on the other, seven repeats: messages/s and server CPU per message
	// without the load generator's share of the CPUs in them.
	"pinned": {
		echoSizes: []int{64}, echoConns: []int{100, 1000}, echoDepths: []int{1}, pinnings: []bool{true},
		repeats: 7, warmup: 500 * time.Millisecond, duration: 2 * time.Second,
	},
	// The listener against net on what its users feel (run with -engines listener,net): one
	// connection's round trip; echo at 1,000 connections unpinned and pinned; net/http at 1, 64
	// and 256 connections, unpipelined and 16 deep, at saturation and at half of it (latency at
	// equal offered load); net/http under wrk at 256; idle memory. Seven repeats.
	"listener": {
		echoSizes: []int{64}, echoConns: []int{1, 1000}, echoDepths: []int{1, 16}, pinnings: []bool{false, true},
		netHTTPConns:     []int{256},
		netHTTPLoadConns: []int{1, 64, 256}, netHTTPLoadDepths: []int{1, 16}, offered: 0.5,
		idleConns: 10_000,
		repeats:   7, warmup: 500 * time.Millisecond, duration: 2 * time.Second, offeredDuration: 6 * time.Second,
	},
}

func planNamed(name string) (plan, error) {
	p, ok := plans[name]
	if !ok {
		return plan{}, fmt.Errorf("unknown plan %q (want quick, full, accept, sizes, pinned, listener or resp)", name)
	}
	return p, nil
}
