// A server whose OnBoot keeps the engine in a local variable that a closure, run on SIGTERM,
// captures; OnTick counts connections through a package variable.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// stopped carries what the engine's Stop returned.
var stopped = make(chan error, 1)

var counted gnet.Engine

type server struct{ gnet.BuiltinEventEngine }

func (s *server) OnBoot(e gnet.Engine) gnet.Action {
	eng := e
	counted = eng
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- eng.Stop(ctx)
	}()
	return gnet.None
}

func (s *server) OnTick() (time.Duration, gnet.Action) {
	fmt.Printf("conns=%d\n", counted.CountConnections())
	return 50 * time.Millisecond, gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}

func main() {
	addr := flag.String("addr", "tcp://127.0.0.1:9000", "")
	flag.Parse()
	err := gnet.Run(&server{}, *addr, gnet.WithTicker(true))
	fmt.Printf("stopped: %v\n", err)
	fmt.Printf("stop: %v\n", <-stopped)
}
