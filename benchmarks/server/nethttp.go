package server

import (
	"io"
	"net"
	"net/http"
	"strconv"
)

// NetHTTP is the program name of a net/http hello-world server, which only the
// goroutine-per-connection engines run: it is what a net/http program gains by swapping
// net.Listen for listener.Listen.
const NetHTTP = "nethttp"

// serveNetHTTP answers every request on ln with net/http's own server, "Hello, World!" in
// plain text (the shape ReadResponses checks), until ln closes.
func serveNetHTTP(ln net.Listener) {
	length := strconv.Itoa(len(responseBody))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		io.WriteString(w, responseBody)
	})}
	srv.Serve(ln)
}
