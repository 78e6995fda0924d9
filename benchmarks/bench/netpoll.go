package main

import (
	"github.com/uringnet/uringnet/benchmarks/loadgen"
	"github.com/uringnet/uringnet/benchmarks/report"
)

// The netpoll rows run examples/netpoll, an echo server written against gnet's pkg/netpoll
// Poller, on compat/netpoll (engine uringnet) and, its import put back, on gnet's epoll
// Poller (engine gnet): the same source, level-triggered, with as many Pollers as the other
// engines have loops; the load is the echo rows' generator, every echoed byte verified.

func netpollPoints(o *options) []report.Point {
	var ps []report.Point
	for _, depth := range o.netpollDepths {
		for _, conns := range o.netpollConns {
			ps = append(ps, report.Point{Workload: "netpoll", Load: o.client, Size: 64, Conns: conns, Depth: depth, Unit: "msg/s"})
		}
	}
	return ps
}

// measureNetpoll runs the echo load against a fresh examples/netpoll built for the point's
// engine.
func measureNetpoll(o *options, at report.Point) (report.Sample, error) {
	srv, addr, _, err := startExample(o, "netpoll", at.Engine, at.Pinned)
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Kill()
	return loadServer(o, at, loadgen.Echo, addr, srv.Pid())
}
