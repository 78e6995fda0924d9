// The deprecated package-level Stop.
package main

import (
	"context"
	"log"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type server struct{ gnet.BuiltinEventEngine }

func main() {
	go func() {
		time.Sleep(time.Second)
		log.Print(gnet.Stop(context.Background(), "tcp://:9000"))
	}()
	log.Fatal(gnet.Run(&server{}, "tcp://:9000"))
}
