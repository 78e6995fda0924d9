// Command echobench measures an echo server on uringnet's engine against the same echo on gnet
// v2.10.0's epoll engine, side by side in one run.
//
// The servers run in child processes (this binary in serve mode), one at a time, alternating
// engine order every round; the load generator runs in this process: a closed loop over N
// connections, each writing a message and reading its echo, every echoed byte verified.
// For each point it reports the median messages per second and server CPU per message, their
// min-max over the rounds, and the ratio of uringnet to gnet.
//
//	echobench run -conns 100,1000 -size 64 -rounds 5 -duration 5s
//	echobench serve -engine gnet -addr 127.0.0.1:0     (what run starts)
package main

import "github.com/uringnet/uringnet/benchmarks/harness"

func main() { harness.Main("echobench", run, serve) }
