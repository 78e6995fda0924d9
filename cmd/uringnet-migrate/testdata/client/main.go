// A client kept in a field, and handed to a function, as *gnet.Client.
package main

import (
	"log"

	"github.com/panjf2000/gnet/v2"
)

type handler struct {
	gnet.BuiltinEventEngine
}

type app struct {
	client *gnet.Client
}

func dial(cli *gnet.Client, addr string) (gnet.Conn, error) {
	return cli.Dial("tcp", addr)
}

func main() {
	cli, err := gnet.NewClient(&handler{}, gnet.WithMulticore(true))
	if err != nil {
		log.Fatal(err)
	}
	a := app{client: cli}
	if err := a.client.Start(); err != nil {
		log.Fatal(err)
	}
	defer a.client.Stop()
	if _, err := dial(a.client, "127.0.0.1:9000"); err != nil {
		log.Print(err)
	}
}
