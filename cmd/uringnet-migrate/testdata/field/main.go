// A server that keeps its engine in a field from OnBoot, counts connections in OnTick and stops
// through the engine on SIGTERM.
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

type server struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
}

func (s *server) OnBoot(e gnet.Engine) gnet.Action {
	s.eng = e
	return gnet.None
}

func (s *server) OnTick() (time.Duration, gnet.Action) {
	fmt.Printf("conns=%d\n", s.eng.CountConnections())
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
	s := &server{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.eng.Stop(ctx)
	}()
	err := gnet.Run(s, *addr, gnet.WithTicker(true))
	fmt.Printf("stopped: %v\n", err)
	fmt.Printf("stop: %v\n", <-stopped)
}
