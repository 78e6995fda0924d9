package ringset

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/loopback"
)

// closeRecorder says which connections closed.
type closeRecorder struct {
	echo
	closed chan error
}

func (h *closeRecorder) OnClose(_ *conn.Conn, err error) Action {
	h.closed <- err
	return None
}

// A loop closing many connections at once cancels each one's operations once: idle ones have
// their receive armed, the others also a send the peer does not read. A cancel by descriptor
// finds what it cancels by walking every operation armed on the ring, and a second cancel,
// made while the first one's finds were still completing, walked them all again; an idle
// connection's receive is cancelled by its user data instead, which needs no walk. Each
// closes, and each peer gets what the loop had sent and then its end of stream.
func TestClosingManyConnectionsCancelsEachOnce(t *testing.T) {
	const conns = 48
	h := &closeRecorder{closed: make(chan error, conns)}
	s := startClientSet(t, Config{Loops: 1}, h)
	cs := make([]*conn.Conn, conns)
	peers := make([]*net.TCPConn, conns)
	big := bytes.Repeat([]byte("s"), 4<<20) // far more than the small buffers take: the send stays in flight
	for i := range conns {
		var ours *net.TCPConn
		peers[i], ours = loopback.TCPPair(t)
		peers[i].SetReadBuffer(64 << 10)
		ours.SetWriteBuffer(64 << 10)
		o, opened, errs := openWaiter()
		if err := s.AdoptConn(0, ours, o); err != nil {
			t.Fatal(err)
		}
		cs[i] = waitOpened(t, opened, errs)
		ours.Close() // the loop holds its own descriptor
	}
	onConnLoop(t, cs[0], func() {
		for _, c := range cs[conns/2:] {
			c.Write(big)
		}
	})
	first := make([][]byte, conns)
	for i := conns / 2; i < conns; i++ { // a byte arrived: the loop's send is in flight
		first[i] = make([]byte, 1)
		peers[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(peers[i], first[i]); err != nil {
			t.Fatalf("peer %d: the send's first byte: %v", i, err)
		}
	}
	onConnLoop(t, cs[0], func() {
		for i, c := range cs {
			if busy := i >= conns/2; c.SendBusy() != busy || !c.Ops.RecvArmed {
				t.Errorf("connection %d before the close: send in flight %v, receive armed %v", i, c.SendBusy(), c.Ops.RecvArmed)
			}
		}
	})
	before, beforeFd := s.OpsCancels(0), s.FdCancels(0)
	onConnLoop(t, cs[0], func() {
		for _, c := range cs {
			c.Close()
		}
	})
	for range conns {
		if err := waitFor(t, h.closed, "the connections' closes"); err != nil {
			t.Errorf("OnClose of a connection the loop closed: %v", err)
		}
	}
	if n := s.OpsCancels(0) - before; n != conns {
		t.Fatalf("%d cancels to close %d connections, want one each", n, conns)
	}
	// Only those with a send in flight are cancelled by descriptor (a walk of the ring each);
	// the idle ones' receives by their user data.
	if n := s.FdCancels(0) - beforeFd; n != conns/2 {
		t.Fatalf("%d of the cancels by descriptor, want %d (the connections with a send in flight)", n, conns/2)
	}
	for i, p := range peers {
		p.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(p)
		got = append(first[i], got...)
		if err != nil || len(got) > len(big) || !bytes.Equal(got, big[:len(got)]) {
			t.Fatalf("peer %d: %d bytes, %v", i, len(got), err)
		}
	}
}
