// Command resp is a small Redis-protocol (RESP2) server on uringnet: PING, ECHO, SET, GET, DEL
// and the CONFIG GET that redis-benchmark asks first, enough for `redis-benchmark -t
// ping,set,get` and `redis-cli`. Commands come as RESP arrays or inline, pipelined or split
// across reads; each OnTraffic answers every complete command it finds with one Write and
// leaves a partial one buffered. It is identical to its gnet version but for the Run call,
// which is uringnet.Run (run.go) — or, built with -tags gnetengine, gnet.Run itself
// (run_gnet.go), which is how the benchmark compares the two on the same handler.
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/panjf2000/gnet/v2"
)

// maxPending is the most a connection may hold without a complete command.
const maxPending = 1 << 20

type respServer struct {
	gnet.BuiltinEventEngine
	addr  string
	store *store
}

// session is a connection's reusable parsing and reply space.
type session struct {
	args [][]byte
	out  []byte
}

func (rs *respServer) OnBoot(gnet.Engine) gnet.Action {
	log.Printf("resp server is listening on %s (try: redis-cli -p %s ping)", rs.addr, rs.addr[len("tcp://127.0.0.1:"):])
	return gnet.None
}

func (rs *respServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&session{})
	return nil, gnet.None
}

func (rs *respServer) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*session)
	in, _ := c.Peek(-1)
	s.out = s.out[:0]
	consumed := 0
	for {
		args, n, err := parseCommand(in[consumed:], s.args[:0])
		if err != nil {
			s.out = appendError(s.out, "Protocol error: "+err.Error())
			c.Write(s.out)
			return gnet.Close
		}
		if n == 0 {
			break
		}
		s.args = args
		consumed += n
		s.out = rs.execute(s.out, args)
	}
	if len(s.out) > 0 {
		c.Write(s.out)
	}
	if consumed > 0 { // Discard(0) would discard everything
		c.Discard(consumed)
	}
	if c.InboundBuffered() > maxPending {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	var port, loops int
	flag.IntVar(&port, "port", 6380, "port to listen on")
	flag.IntVar(&loops, "loops", 0, "event loops (0: one per CPU)")
	flag.Parse()
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	rs := &respServer{addr: addr, store: newStore()}
	opts := []gnet.Option{gnet.WithMulticore(true)}
	if loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(loops))
	}
	log.Fatal(run(rs, addr, opts...))
}
