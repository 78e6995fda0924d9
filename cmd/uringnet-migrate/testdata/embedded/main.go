// The handler embeds a struct that keeps the engine.
package main

import (
	"log"

	"github.com/panjf2000/gnet/v2"
)

type engineKeeper struct {
	eng *gnet.Engine
}

func (k *engineKeeper) count() int { return k.eng.CountConnections() }

type server struct {
	*gnet.BuiltinEventEngine
	engineKeeper
}

func (s *server) OnBoot(e gnet.Engine) gnet.Action {
	s.eng = &e
	log.Printf("%d connections", s.count())
	return gnet.None
}

func main() {
	log.Fatal(gnet.Rotate(&server{BuiltinEventEngine: new(gnet.BuiltinEventEngine)}, []string{"tcp://:9000", "tcp://:9001"}))
}
