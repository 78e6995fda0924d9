// OnBoot captures its engine in a closure directly, and OnShutdown uses its own.
package main

import (
	"context"
	"log"

	"github.com/panjf2000/gnet/v2"
)

type server struct {
	gnet.BuiltinEventEngine
	stop func() error
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.stop = func() error { return eng.Stop(context.Background()) }
	return gnet.None
}

func (s *server) OnShutdown(eng gnet.Engine) {
	log.Printf("shutting down with %d connections", eng.CountConnections())
}

func main() {
	log.Fatal(gnet.Run(&server{}, "tcp://:9000"))
}
