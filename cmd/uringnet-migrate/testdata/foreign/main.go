// OnBoot hands its engine to another package that wants a gnet.Engine: reported, not rewritten.
package main

import (
	"log"

	"example.com/lib"

	"github.com/panjf2000/gnet/v2"
)

type server struct{ gnet.BuiltinEventEngine }

func (s *server) OnBoot(e gnet.Engine) gnet.Action {
	lib.Watch(e)
	return gnet.None
}

func main() {
	log.Fatal(gnet.Run(&server{}, "tcp://:9000"))
}
