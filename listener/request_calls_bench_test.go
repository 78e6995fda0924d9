package listener

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/loopback"
)

// What the calls net/http makes on a connection for every request cost where none reaches the
// kernel, on the poller path against net's own: the background read's abort (a read deadline
// in the past, the Read it ends, the deadline cleared). What the listener adds to them is its
// wrapper's cost on that path (docs/listener.md, "Figures").
func BenchmarkRequestCallsListener(b *testing.B) {
	forcePath(b, pathsPoller)
	c, _ := connPair(b)
	benchmarkRequestCalls(b, c)
}

func BenchmarkRequestCallsNet(b *testing.B) {
	c, _ := loopback.TCPPair(b)
	benchmarkRequestCalls(b, c)
}

func benchmarkRequestCalls(b *testing.B, c net.Conn) {
	past := time.Unix(1, 0)
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c.SetReadDeadline(past)
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			b.Fatalf("Read past its deadline: %v", err)
		}
		c.SetReadDeadline(time.Time{})
	}
}
