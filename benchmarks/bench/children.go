package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/loadgen"
	"github.com/uringnet/uringnet/benchmarks/server"
)

// serve is the server child: it serves until the parent closes its standard input.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	engine := fs.String("engine", "uringnet", fmt.Sprintf("one of %v", server.Engines))
	program := fs.String("program", "echo", "echo, http (the harness's own HTTP handler) or "+server.NetHTTP+" (net/http's hello world; the listener and net engines only)")
	loops := fs.Int("loops", 2, "event loops")
	reusePort := fs.Bool("reuseport", false, "gnet.WithReusePort(true): a listener per loop (uringnet and gnet)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts []gnet.Option
	if *reusePort {
		opts = append(opts, gnet.WithReusePort(true))
	}
	addr, stop, err := server.Start(*engine, *program, *loops, opts...)
	if err != nil {
		return err
	}
	harness.ServeUntilParentGoes(addr)
	return stop()
}

// load is the load-generator child. It prints "MARK start" and "MARK end" at the edges of the
// measured window and then "RESULT <json>"; with -idle it prints "IDLE" once its connections
// are open and holds them until the parent closes its standard input.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cfg loadgen.Config
	fs.StringVar(&cfg.Client, "client", "uring", "uring or net")
	fs.StringVar(&cfg.Protocol, "protocol", loadgen.Echo, "echo, http (the net client only), resp-ping, resp-set or resp-get")
	fs.Float64Var(&cfg.Rate, "rate", 0, "offered messages or requests per second over all connections (0: as fast as answered; the net client only)")
	fs.StringVar(&cfg.Addr, "addr", "", "server host:port")
	fs.IntVar(&cfg.Conns, "conns", 100, "connections")
	fs.IntVar(&cfg.Size, "size", 64, "bytes per echo message; of RESP's SET and GET value")
	fs.IntVar(&cfg.Depth, "depth", 1, "messages pipelined per connection")
	fs.BoolVar(&cfg.Connect, "connect", false, "short-lived connections: connect, one round trip, close, again (the net client)")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time first")
	duration := fs.Duration("duration", 3*time.Second, "measured time")
	idle := fs.Bool("idle", false, "open the connections, one round trip each, and hold them idle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idle {
		closeAll, err := loadgen.Idle(cfg.Addr, cfg.Conns)
		if err != nil {
			return err
		}
		fmt.Println("IDLE")
		io.Copy(io.Discard, os.Stdin)
		closeAll()
		return nil
	}
	r, err := loadgen.Run(cfg, *warmup, *duration, func(event string) { fmt.Println("MARK", event) })
	if err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
	return nil
}
