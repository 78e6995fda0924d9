// A program already on uringnet: nothing to change.
package main

import (
	"log"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet"
)

type server struct {
	gnet.BuiltinEventEngine
	eng uringnet.Engine
}

func (s *server) OnBoot(gnetEngine gnet.Engine) gnet.Action {
	e := uringnet.BootEngine(s, gnetEngine)
	s.eng = e
	return gnet.None
}

func main() {
	log.Fatal(uringnet.Run(&server{}, "tcp://:9000"))
}
