// Command nethttp is a net/http server on uringnet's listener: the only change from a
// standard server is listener.Listen in place of net.Listen.
//
//	go run ./examples/nethttp -addr :8080 &
//	curl http://localhost:8080/hello
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"

	"github.com/uringnet/uringnet/listener"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	ln, err := listener.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over %T\n", r.URL.Path, ln)
	})
	log.Printf("serving on %v", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
