// Command framed serves a length-prefixed protocol on uringnet: each frame is a 4-byte
// big-endian length and that many bytes. It reads frames with Peek and Discard (a partial frame
// stays buffered until the rest arrives), hands each to a worker goroutine, and the worker
// answers with AsyncWrite and then Wakes the connection, whose OnTraffic (with nothing new
// inbound) counts the answer. Each connection has one worker, so answers keep the frames'
// order. Identical to its gnet version but for the uringnet.Run call.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet"
)

type framedServer struct {
	gnet.BuiltinEventEngine
	addr string
}

// session is a connection's state: its worker's queue and the frames answered so far.
type session struct {
	frames   chan []byte
	answered int
}

func (fs *framedServer) OnBoot(gnet.Engine) gnet.Action {
	log.Printf("framed server is listening on %s", fs.addr)
	return gnet.None
}

func (fs *framedServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := &session{frames: make(chan []byte, 64)}
	c.SetContext(s)
	go work(c, s.frames)
	return nil, gnet.None
}

func (fs *framedServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	close(c.Context().(*session).frames)
	return gnet.None
}

func (fs *framedServer) OnTraffic(c gnet.Conn) gnet.Action {
	s := c.Context().(*session)
	if c.InboundBuffered() == 0 { // woken by the worker
		s.answered++
		return gnet.None
	}
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
		select {
		case s.frames <- bytes.Clone(frame[4:]): // frame is valid only until OnTraffic returns
		default:
			return gnet.None // the worker is behind: leave the rest buffered until it wakes us
		}
		c.Discard(4 + n)
	}
}

// work runs off the loop, one per connection: it sends each frame back, upper-cased, then
// wakes the connection (which also resumes parsing frames left buffered while it was behind).
func work(c gnet.Conn, frames <-chan []byte) {
	for payload := range frames {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
		out = append(out, bytes.ToUpper(payload)...)
		c.AsyncWrite(out, func(c gnet.Conn, err error) error {
			if err == nil {
				c.Wake(nil)
			}
			return nil
		})
	}
}

func main() {
	var port int
	flag.IntVar(&port, "port", 9001, "port to listen on")
	flag.Parse()
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	log.Fatal(uringnet.Run(&framedServer{addr: addr}, addr, gnet.WithMulticore(true)))
}
