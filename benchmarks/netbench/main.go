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

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: netbench run [flags] | netbench serve [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netbench:", err)
		os.Exit(1)
	}
}
