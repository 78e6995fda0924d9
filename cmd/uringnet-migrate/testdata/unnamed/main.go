// OnBoot with an unnamed receiver keeps the engine in a package variable.
package main

import (
	"log"

	"github.com/panjf2000/gnet/v2"
)

var engine gnet.Engine

type server struct{ gnet.BuiltinEventEngine }

func (*server) OnBoot(e gnet.Engine) gnet.Action {
	engine = e
	return gnet.None
}

func main() {
	log.Fatal(gnet.Run(&server{}, "tcp://:9000"))
}
