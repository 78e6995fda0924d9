package loopback

import (
	"io"
	"net"
	"testing"
)

// EchoAllocs is the allocations per round trip of a size-byte message over c to an echo server
// and back, at steady state: after a hundred round trips of warm-up, averaged over runs. It
// counts every allocation in the process, the server's when it runs in the test's own.
func EchoAllocs(t testing.TB, c net.Conn, size, runs int) float64 {
	t.Helper()
	msg, buf := make([]byte, size), make([]byte, size)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("loopback: echo: write: %v", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("loopback: echo: read: %v", err)
		}
	}
	for i := 0; i < 100; i++ {
		roundTrip() // warm up buffers and pools
	}
	return testing.AllocsPerRun(runs, roundTrip)
}
