// Command bench is uringnet's side-by-side benchmark: uringnet (uringnet.Run), gnet v2.10.0
// (gnet.Run, epoll), listener.Listen and the standard library's net.Listen, every one running
// the same handler code (benchmarks/server) with the same number of event loops, each server
// in a process of its own and the load generator in another.
//
//	bench run -plan quick|full [-out benchmarks/results/bench] [-repeats N] [-duration d] …
//	bench report -in results.json [-readme README.md]   (redraws prefix.md and the charts beside it)
//	bench serve -engine E -program P -loops N        (a server, started by run)
//	bench load -addr A -conns N -size S -depth D …   (the load generator, started by run)
//
// run measures every point of the plan with the engines alternating, repeat after repeat,
// prints the table and writes prefix.json (every sample), prefix.md (the table) and the PNG
// charts prefix-{throughput,p99,cpu}.png. report redraws the table and charts from a results
// file and, with -readme, rewrites the README's performance section from it.
package main

import "github.com/uringnet/uringnet/benchmarks/harness"

func main() {
	harness.Main("bench", map[string]func([]string) error{
		"run":    run,
		"report": reportMode,
		"serve":  serve,
		"load":   load,
	})
}
