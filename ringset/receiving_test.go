package ringset

import (
	"bytes"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/loopback"
)

// receiveRecorder keeps what its connections receive and says when their receiving stopped.
type receiveRecorder struct {
	echo
	got     chan []byte
	stopped chan struct{}
}

func (h *receiveRecorder) OnTraffic(c *conn.Conn) Action {
	b := make([]byte, c.InboundBuffered())
	c.Read(b)
	h.got <- b
	return None
}

func (h *receiveRecorder) OnReceiveStopped(*conn.Conn) { h.stopped <- struct{}{} }

// A connection opened with its receiving off leaves the socket's bytes alone until receiving is
// turned on; turned off again, the armed receive ends, the handler hears of it, and what the
// peer sends from then on waits in the socket for whoever reads it, the loop taking none of it.
func TestSetReceiving(t *testing.T) {
	h := &receiveRecorder{got: make(chan []byte, 64), stopped: make(chan struct{}, 4)}
	s := startClientSet(t, Config{Loops: 1}, h)
	peer, ours := loopback.TCPPair(t)
	o, conns, errs := openWaiter()
	o.ReceiveLater = true
	if err := s.AdoptConn(0, ours, o); err != nil {
		t.Fatal(err)
	}
	c := waitOpened(t, conns, errs)

	peer.Write([]byte("early"))
	expectNothing(t, h.got, "receiving off")

	onConnLoop(t, c, func() { s.SetReceiving(c, true) })
	if got := <-h.got; string(got) != "early" {
		t.Fatalf("after turning receiving on: %q", got)
	}

	onConnLoop(t, c, func() { s.SetReceiving(c, false) })
	select {
	case <-h.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the armed receive never ended")
	}
	peer.Write([]byte("late"))
	expectNothing(t, h.got, "receiving off again")
	// The bytes wait in the socket: a direct read of the adopted descriptor finds them.
	buf := make([]byte, 16)
	ours.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ours.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("direct read after receiving stopped: %q, %v", buf[:n], err)
	}

	// Turned off while none is armed, the handler hears at once; on again, receiving goes on.
	onConnLoop(t, c, func() { s.SetReceiving(c, true); s.SetReceiving(c, false) })
	<-h.stopped
	onConnLoop(t, c, func() { s.SetReceiving(c, true) })
	want := bytes.Repeat([]byte("x"), 100_000)
	go peer.Write(want)
	var got []byte
	for len(got) < len(want) {
		select {
		case b := <-h.got:
			got = append(got, b...)
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d of %d bytes", len(got), len(want))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
}

// onConnLoop runs f on c's loop and waits for it.
func onConnLoop(t *testing.T, c *conn.Conn, f func()) {
	t.Helper()
	if err := c.Call(f); err != nil {
		t.Fatal(err)
	}
}

func expectNothing(t *testing.T, got chan []byte, when string) {
	t.Helper()
	select {
	case b := <-got:
		t.Fatalf("%s: the loop received %q", when, b)
	case <-time.After(50 * time.Millisecond):
	}
}
