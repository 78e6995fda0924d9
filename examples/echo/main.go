// Command echo is gnet's echo server on uringnet: identical to its gnet version but for the
// uringnet.Run call.
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet"
)

type echoServer struct {
	gnet.BuiltinEventEngine
	addr      string
	multicore bool
}

func (es *echoServer) OnBoot(gnet.Engine) gnet.Action {
	log.Printf("echo server with multi-core=%t is listening on %s", es.multicore, es.addr)
	return gnet.None
}

func (es *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	var port int
	var multicore bool
	flag.IntVar(&port, "port", 9000, "port to listen on")
	flag.BoolVar(&multicore, "multicore", false, "one event loop per CPU")
	flag.Parse()
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	es := &echoServer{addr: addr, multicore: multicore}
	log.Fatal(uringnet.Run(es, addr, gnet.WithMulticore(multicore)))
}
