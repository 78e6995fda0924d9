package main

import (
	"net"
	"strconv"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/loadgen"
	"github.com/uringnet/uringnet/benchmarks/report"
	"github.com/uringnet/uringnet/benchmarks/server"
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
	bin, err := exampleBinary("netpoll", at.Engine)
	if err != nil {
		return report.Sample{}, err
	}
	addr, err := server.FreeAddr()
	if err != nil {
		return report.Sample{}, err
	}
	_, port, _ := net.SplitHostPort(addr)
	var srv *harness.Child
	err = harness.OnCPUs(o.cpus(at.Pinned, true), func() error {
		srv, err = harness.StartProgram(bin, "-port", port, "-loops", strconv.Itoa(o.loops))
		return err
	})
	if err != nil {
		return report.Sample{}, err
	}
	defer srv.Kill() // it does not watch its standard input
	if err := server.WaitAccepting(addr); err != nil {
		return report.Sample{}, err
	}
	return loadServer(o, at, loadgen.Echo, addr, srv.Pid())
}
