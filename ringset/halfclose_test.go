package ringset

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
)

// halfCloseEcho echoes, and answers its peer's EOF with "bye" before closing.
type halfCloseEcho struct {
	echo
	eofs chan int // the inbound bytes left when OnReadEOF ran
}

func (h *halfCloseEcho) OnReadEOF(c *conn.Conn) Action {
	h.eofs <- c.InboundBuffered()
	c.Write([]byte("bye"))
	return Close
}

// TestHalfCloserKeepsWriting: with a HalfCloser, the peer's CloseWrite does not close the
// connection; the handler still writes, and only its Close ends the connection.
func TestHalfCloserKeepsWriting(t *testing.T) {
	h := &halfCloseEcho{eofs: make(chan int, 1)}
	h.closeErrs = make(chan error, 1)
	s := startSet(t, Config{}, h)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if string(got) != "hellobye" {
		t.Fatalf("read %q, want %q", got, "hellobye")
	}
	if left := <-h.eofs; left != 0 {
		t.Errorf("OnReadEOF with %d bytes unconsumed, want 0", left)
	}
	if err := <-h.closeErrs; err != nil {
		t.Errorf("OnClose error %v, want nil (closed by the handler)", err)
	}
}
