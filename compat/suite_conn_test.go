package compat_test

// The suite on one connection's buffers and context: Peek and Discard, WriteTo, ReadFrom.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// safeContext sets SafeContext from another goroutine and reads it back on the loop.
type safeContext struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
}

func (h *safeContext) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *safeContext) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext("plain")
	done := make(chan struct{})
	go func() { c.SetSafeContext("safe"); close(done) }()
	<-done
	return nil, gnet.None
}

func (h *safeContext) OnTraffic(c gnet.Conn) gnet.Action {
	c.Discard(-1)
	c.Write([]byte(fmt.Sprintf("%v/%v", c.Context(), c.SafeContext())))
	return gnet.None
}

func TestSafeContext(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &safeContext{booted: make(chan struct{})}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		c.Write([]byte("?"))
		got := make([]byte, len("plain/safe"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "plain/safe" {
			t.Fatalf("contexts: %q, %v", got, err)
		}
	})
}

// framer answers length-prefixed frames using Peek and Discard, leaving partial frames buffered
// for the next OnTraffic.
type framer struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
}

func (h *framer) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *framer) OnTraffic(c gnet.Conn) gnet.Action {
	for {
		head, err := c.Peek(4)
		if err != nil {
			if !errors.Is(err, io.ErrShortBuffer) {
				return gnet.Close
			}
			return gnet.None
		}
		n := int(binary.BigEndian.Uint32(head))
		frame, err := c.Peek(4 + n)
		if err != nil {
			return gnet.None
		}
		c.Write(frame)
		if d, _ := c.Discard(4 + n); d != 4+n {
			return gnet.Close
		}
	}
}

func TestFramingPeekDiscard(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &framer{booted: make(chan struct{})}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		rnd := rand.New(rand.NewPCG(3, 4))
		var stream []byte
		for i := 0; i < 200; i++ {
			body := make([]byte, rnd.IntN(3000))
			for j := range body {
				body[j] = byte(rnd.Uint32())
			}
			stream = binary.BigEndian.AppendUint32(stream, uint32(len(body)))
			stream = append(stream, body...)
		}
		go func() {
			for rest := stream; len(rest) > 0; { // fragmented, frame boundaries anywhere
				k := min(len(rest), 1+rnd.IntN(700))
				c.Write(rest[:k])
				rest = rest[k:]
				time.Sleep(time.Duration(rnd.IntN(200)) * time.Microsecond)
			}
		}()
		got := make([]byte, len(stream))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, stream) {
			t.Fatalf("frames back: %v, equal %v", err, bytes.Equal(got, stream))
		}
	})
}

// stingyWriter takes at most take bytes of each Write, then fails.
type stingyWriter struct{ take int }

func (w stingyWriter) Write(p []byte) (int, error) {
	return min(w.take, len(p)), errors.New("stingy writer")
}

// writeToKeeper drains five-byte messages through writers that fail, one after taking two bytes
// and one at once, and echoes what is left: WriteTo consumes only what the writer took.
type writeToKeeper struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
}

func (h *writeToKeeper) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *writeToKeeper) OnTraffic(c gnet.Conn) gnet.Action {
	if c.InboundBuffered() < 5 {
		return gnet.None // the rest is kept for the next call
	}
	if n, err := c.WriteTo(stingyWriter{take: 2}); n != 2 || err == nil {
		return gnet.Close
	}
	if n, err := c.WriteTo(stingyWriter{take: 0}); n != 0 || err == nil {
		return gnet.Close
	}
	rest, _ := c.Next(-1)
	c.Write(rest)
	return gnet.None
}

func TestWriteToKeepsWhatTheWriterRefused(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &writeToKeeper{booted: make(chan struct{})}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 3)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "llo" {
			t.Fatalf("left after the failed WriteTo: %q, %v; want \"llo\"", got, err)
		}
	})
}

// readFromEcho answers each whole 16 KiB message with it three times over through ReadFrom,
// which takes more than one of its buffers for that.
type readFromEcho struct {
	gnet.BuiltinEventEngine
	booted chan struct{}
}

const readFromMsg = 16 << 10

func (h *readFromEcho) OnBoot(gnet.Engine) gnet.Action { close(h.booted); return gnet.None }

func (h *readFromEcho) OnTraffic(c gnet.Conn) gnet.Action {
	in, err := c.Next(readFromMsg)
	if err != nil {
		return gnet.None // the rest of the message is still to come
	}
	if n, err := c.ReadFrom(bytes.NewReader(bytes.Repeat(in, 3))); err != nil || n != 3*readFromMsg {
		return gnet.Close
	}
	if err := c.Flush(); err != nil { // gnet's ReadFrom only buffers
		return gnet.Close
	}
	return gnet.None
}

func TestReadFrom(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &readFromEcho{booted: make(chan struct{})}
		addr := freeAddr(t, "tcp")
		serve(t, e, h, h.booted, []string{addr})
		c := dialT(t, addr)
		msg := bytes.Repeat([]byte("0123456789abcdef"), readFromMsg/16)
		for round := 0; round < 3; round++ {
			go c.Write(msg)
			got := make([]byte, 3*len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, bytes.Repeat(msg, 3)) {
				t.Fatalf("round %d: %v, equal %v", round, err, bytes.Equal(got, bytes.Repeat(msg, 3)))
			}
		}
	})
}
