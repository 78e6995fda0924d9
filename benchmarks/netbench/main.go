// Command netbench measures listener against the standard library on the same programs, with
// servers in child processes and the two alternating round by round:
//
//   - echo: a goroutine per connection echoing 64-byte messages, 1,000 connections, each
//     message checked;
//   - http: a net/http hello-world under wrk -c 256;
//   - idle: resident memory per idle connection, at 10,000 connections whose server goroutine
//     is blocked in Read.
//
// netbench run [-rounds 5] [-duration 5s] [-json file] prints the medians and the ratios.
package main

import "github.com/uringnet/uringnet/benchmarks/harness"

func main() { harness.Main("netbench", run, serve) }
