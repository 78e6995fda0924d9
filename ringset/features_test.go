package ringset

// A kernel without a feature: the documented substitute, or the set refuses to start.

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// Below Linux 6.13 other goroutines wake loops through the messenger ring: forced here.
func TestMessengerWakerWithoutSyncMsgRing(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	f = f.Without(poller.CapSyncMsgRing)
	conns := make(chan *conn.Conn, 1)
	h := &hooks{open: func(c *conn.Conn) ([]byte, Action) { conns <- c; return nil, None }}
	s := startSet(t, Config{Features: &f}, h)
	if s.Waker() != "messenger-ring" {
		t.Fatalf("waker %q without the sync message, want messenger-ring", s.Waker())
	}
	client := dial(t, s)
	c := <-conns
	for i := 0; i < 100; i++ {
		c.AsyncWrite([]byte{byte(i)}, nil)
	}
	got := make([]byte, 100)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d is %d", i, b)
		}
	}
}

func TestMissingRequiredFeatureIsUnavailable(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	f = f.Without(poller.CapMsgRingFd)
	_, err = Start(Config{Network: "tcp", Address: "127.0.0.1:0", Features: &f}, &echo{})
	if !errors.Is(err, poller.ErrUnavailable) {
		t.Fatalf("Start without MSG_RING fd passing: %v, want ErrUnavailable", err)
	}
}
