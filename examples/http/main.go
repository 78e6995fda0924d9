// Command http is the TechEmpower "plaintext" shape on uringnet: a minimal HTTP/1.1 server that
// answers every request with "Hello, World!", pipelining included (each OnTraffic answers
// every complete request it finds and leaves a partial one buffered). It is identical to its
// gnet version but for the Run call, which is uringnet.Run (run.go) — or, built with
// -tags gnetengine, gnet.Run itself (run_gnet.go), which is how the benchmark compares the two
// on the same handler.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type httpServer struct {
	gnet.BuiltinEventEngine
	addr string
	// date is the Date header, swapped whole by OnTick (its own goroutine) and read by every
	// loop, so it is published atomically.
	date atomic.Pointer[[]byte]
}

var (
	headerEnd = []byte("\r\n\r\n")
	body      = []byte("Hello, World!")
)

func (hs *httpServer) OnBoot(gnet.Engine) gnet.Action {
	log.Printf("http server is listening on %s (try: curl http://%s/)", hs.addr, hs.addr[len("tcp://"):])
	return gnet.None
}

// OnTick refreshes the Date header once a second.
func (hs *httpServer) OnTick() (time.Duration, gnet.Action) {
	hs.refreshDate()
	return time.Second, gnet.None
}

func (hs *httpServer) refreshDate() {
	d := []byte(time.Now().UTC().Format(time.RFC1123))
	hs.date.Store(&d)
}

// httpConn is a connection's state: the buffer its responses are built in, reused for every
// batch (Write copies what it is given), so that serving a request allocates nothing.
type httpConn struct{ out []byte }

func (hs *httpServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&httpConn{})
	return nil, gnet.None
}

func (hs *httpServer) OnTraffic(c gnet.Conn) gnet.Action {
	hc := c.Context().(*httpConn)
	buf, _ := c.Peek(-1)
	answered := 0
	out := hc.out[:0]
	date := *hs.date.Load()
	for {
		end := bytes.Index(buf[answered:], headerEnd)
		if end < 0 {
			break
		}
		answered += end + len(headerEnd)
		out = appendResponse(out, date)
	}
	if answered > 0 {
		c.Write(out)
		c.Discard(answered)
	}
	hc.out = out
	if c.InboundBuffered() > 64<<10 { // no complete request in 64 KiB: not HTTP we serve
		return gnet.Close
	}
	return gnet.None
}

func appendResponse(out, date []byte) []byte {
	out = append(out, "HTTP/1.1 200 OK\r\nServer: uringnet\r\nContent-Type: text/plain\r\nDate: "...)
	out = append(out, date...)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n\r\n"...)
	return append(out, body...)
}

func main() {
	var port, loops int
	flag.IntVar(&port, "port", 8080, "port to listen on")
	flag.IntVar(&loops, "loops", 0, "event loops (0: one per CPU)")
	flag.Parse()
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	hs := &httpServer{addr: addr}
	hs.refreshDate()
	opts := []gnet.Option{gnet.WithMulticore(true), gnet.WithTicker(true)}
	if loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(loops))
	}
	log.Fatal(run(hs, addr, opts...))
}
