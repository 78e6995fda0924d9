package conn

import (
	"bytes"
	"io"
	"net"
	"testing"
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

type fakeLoop struct {
	scheduled int
	closed    []error
	out       OutboundBuffers
}

func (l *fakeLoop) ScheduleSend(*Conn)                   { l.scheduled++ }
func (l *fakeLoop) CloseConn(c *Conn, err error)         { l.closed = append(l.closed, err); c.BeginClose(err) }
func (l *fakeLoop) Post(f func()) error                  { f(); return nil }
func (l *fakeLoop) OnLoopThread() bool                   { return true }
func (l *fakeLoop) Index() int                           { return 0 }
func (l *fakeLoop) Wake(*Conn)                           {}
func (l *fakeLoop) InstallFd(*Conn) (int, error)         { return -1, ErrClosed }
func (l *fakeLoop) SendTo(*Conn, []byte, net.Addr) error { return nil }
func (l *fakeLoop) Consumed(*Conn)                       {}
func (l *fakeLoop) Call(_ *Conn, f func()) error         { f(); return nil }
func (l *fakeLoop) OutboundBuffers() *OutboundBuffers    { return &l.out }

// The handler reads a completion's bytes in place; what it leaves is copied before the
// provided buffer is recycled, and later bytes queue behind it.
func TestInboundViewThenLeftovers(t *testing.T) {
	c := New(&fakeLoop{}, 3, 1)
	provided := []byte("hello world")
	c.Receive(provided)
	if got, err := c.Peek(5); err != nil || &got[0] != &provided[0] {
		t.Fatalf("Peek did not return the provided buffer in place: %q, %v", got, err)
	}
	if got, _ := c.Next(6); string(got) != "hello " {
		t.Fatalf("Next(6) = %q", got)
	}
	if _, err := c.Next(100); err != io.ErrShortBuffer {
		t.Fatalf("Next beyond the buffered bytes: %v, want io.ErrShortBuffer", err)
	}
	c.KeepUnread()
	copy(provided, "XXXXXXXXXXX") // the loop recycles the buffer
	if got, _ := c.Peek(0); string(got) != "world" {
		t.Fatalf("after KeepUnread: %q, want the leftovers copied", got)
	}
	c.Receive([]byte("!!"))
	if got, _ := c.Next(-1); string(got) != "world!!" {
		t.Fatalf("leftovers then new bytes: %q", got)
	}
	if c.InboundBuffered() != 0 {
		t.Fatalf("%d bytes left after Next(-1)", c.InboundBuffered())
	}
	c.KeepUnread()
	c.Receive([]byte("abc"))
	if n := c.Discard(100); n != 3 || c.InboundBuffered() != 0 {
		t.Fatalf("Discard(100) = %d, %d left; want all 3 dropped", n, c.InboundBuffered())
	}
	c.Receive([]byte("defg"))
	p := make([]byte, 2)
	if n := c.Read(p); n != 2 || string(p) != "de" || c.InboundBuffered() != 2 {
		t.Fatalf("Read: %d %q, %d left", n, p, c.InboundBuffered())
	}
}

// Writes made while a send is in flight never touch the bytes the kernel holds, and go out
// next, in order; a short send continues where it stopped.
func TestOutboundDoubleBuffer(t *testing.T) {
	l := &fakeLoop{}
	c := New(l, 0, 0)
	c.Write([]byte("first "))
	flight := c.NextSend()
	if string(flight) != "first " || c.NextSend() != nil {
		t.Fatalf("first send %q; a second send must wait", flight)
	}
	c.Write([]byte("second "))
	c.Writev([][]byte{[]byte("third "), []byte("fourth")})
	if string(flight) != "first " {
		t.Fatalf("in-flight bytes changed to %q", flight)
	}
	if !c.SendDone(2) {
		t.Fatal("bytes remain after a short send")
	}
	var wire bytes.Buffer
	wire.Write(flight[:2])
	for {
		b := c.NextSend()
		if b == nil {
			break
		}
		wire.Write(b)
		c.SendDone(len(b))
	}
	if wire.String() != "first second third fourth" || c.OutboundBuffered() != 0 {
		t.Fatalf("wire %q, %d still buffered", wire.String(), c.OutboundBuffered())
	}
	if l.scheduled != 3 {
		t.Fatalf("scheduled %d sends, want one per write call", l.scheduled)
	}
}

func TestCloseOnceAndWritesAfter(t *testing.T) {
	l := &fakeLoop{}
	c := New(l, 0, 0)
	c.Close()
	c.Close()
	if len(l.closed) != 1 || c.State() != Closing {
		t.Fatalf("closes %v, state %v", l.closed, c.State())
	}
	if _, err := c.Write([]byte("x")); err != ErrClosed {
		t.Fatalf("Write after Close: %v", err)
	}
	if c.BeginClose(io.EOF) || c.Err() != nil {
		t.Fatalf("a later EOF replaced the local close's nil: %v", c.Err())
	}
	c.MarkClosed()
	c.ReleaseBuffers()
	if c.State() != Closed || c.InboundBuffered() != 0 || c.OutboundBuffered() != 0 {
		t.Fatal("MarkClosed and ReleaseBuffers left state behind")
	}
}

// A connection fits the 256-byte size class, and opening one allocates it alone: every
// connection pays both for as long as it lives, idle or not (docs/engine.md, "Memory per
// connection").
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 256 {
		t.Errorf("a Conn is %d bytes, over the 256-byte size class", n)
	}
	l := &fakeLoop{}
	if n := testing.AllocsPerRun(100, func() { New(l, 1, 1) }); n != 1 {
		t.Errorf("New allocates %v objects, want 1 (the Conn)", n)
	}
}

// A connection whose sends have drained holds no outbound buffer: they go back to the loop's
// free list, and the next write, on this connection or another, takes one from there.
func TestDrainedOutboundGoesBackToTheLoop(t *testing.T) {
	l := &fakeLoop{}
	c := New(l, 3, 1)
	c.Write([]byte("ping"))
	if got := c.NextSend(); string(got) != "ping" {
		t.Fatalf("NextSend = %q", got)
	}
	c.Write([]byte("pong")) // behind the send in flight
	if more := c.SendDone(4); !more {
		t.Fatal("SendDone with a write queued behind it reported nothing left")
	}
	if len(l.out.free) != 0 {
		t.Fatalf("%d buffers freed while bytes wait", len(l.out.free))
	}
	if got := c.NextSend(); string(got) != "pong" {
		t.Fatalf("NextSend = %q", got)
	}
	if more := c.SendDone(4); more {
		t.Fatal("SendDone of everything reported more")
	}
	if c.out.bufs != [2]*bytebufferpool.ByteBuffer{} || len(l.out.free) != 2 {
		t.Fatalf("drained: the connection holds %v, the loop's free list %d buffers; want none and 2", c.out.bufs, len(l.out.free))
	}
	kept := l.out.free[1]
	d := New(l, 4, 1)
	d.Write([]byte("x"))
	if d.out.bufs[d.out.p] != kept || len(kept.B) != 1 {
		t.Fatal("the next write did not take the most recently freed buffer, emptied")
	}
	if got := c.OutboundBuffered(); got != 0 {
		t.Fatalf("drained connection has %d bytes buffered", got)
	}
}
