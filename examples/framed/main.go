// Command framed serves a length-prefixed protocol on uringnet: each frame is a 4-byte
// big-endian length and that many bytes. It reads frames with Peek and Discard (a partial frame
// stays buffered until the rest arrives), hands each to a worker goroutine, and the worker
// answers with AsyncWrite. When the worker's queue is full, OnTraffic leaves the rest buffered
// and the worker Wakes the connection once it has taken a frame, so parsing resumes. Each
// connection has one worker, so answers keep the frames' order. Identical to its gnet version
// but for the uringnet.Run call.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet"
)

type framedServer struct {
	gnet.BuiltinEventEngine
	addr string
}

// session is a connection's state: its worker's queue, and whether OnTraffic stopped parsing
// because that queue was full (the worker then wakes the connection).
type session struct {
	frames  chan []byte
	stalled atomic.Bool
}

func (fs *framedServer) OnBoot(gnet.Engine) gnet.Action {
	log.Printf("framed server is listening on %s", fs.addr)
	return gnet.None
}

func (fs *framedServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := &session{frames: make(chan []byte, 64)}
	c.SetContext(s)
	go work(c, s)
	return nil, gnet.None
}

func (fs *framedServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	close(c.Context().(*session).frames)
	return gnet.None
}

func (fs *framedServer) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*session)
	for {
		head, err := c.Peek(4)
		if errors.Is(err, io.ErrShortBuffer) {
			return gnet.None
		}
		n := int(binary.BigEndian.Uint32(head))
		if n > 16<<20 {
			return gnet.Close // a frame this large is not one we serve
		}
		frame, err := c.Peek(4 + n)
		if errors.Is(err, io.ErrShortBuffer) {
			return gnet.None
		}
		payload := bytes.Clone(frame[4:]) // frame is valid only until OnTraffic returns
		select {
		case s.frames <- payload:
		default:
			// The worker is behind. Say so, then try once more: a queue still full after the
			// flag is set has a frame the worker takes after seeing it, and wakes us then.
			s.stalled.Store(true)
			select {
			case s.frames <- payload:
			default:
				return gnet.None // leave the rest buffered until the worker wakes us
			}
		}
		c.Discard(4 + n)
	}
}

// work runs off the loop, one per connection: it sends each frame back, upper-cased, and
// wakes the connection when OnTraffic stopped for a full queue, which now has room again.
func work(c gnet.Conn, s *session) {
	for payload := range s.frames {
		if s.stalled.CompareAndSwap(true, false) {
			c.Wake(nil)
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
		out = append(out, bytes.ToUpper(payload)...)
		c.AsyncWrite(out, nil)
	}
}

func main() {
	var port int
	flag.IntVar(&port, "port", 9001, "port to listen on")
	flag.Parse()
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	log.Fatal(uringnet.Run(&framedServer{addr: addr}, addr, gnet.WithMulticore(true)))
}
