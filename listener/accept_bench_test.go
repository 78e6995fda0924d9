package listener

import (
	"net"
	"testing"
)

// What accepting a connection costs, against net's Accept: a dial, the server's Accept and
// Close, and the client's wait for the close, one at a time, in this process (docs/listener.md,
// "Accepting and dialing").
func BenchmarkAcceptNet(b *testing.B)      { benchmarkAccept(b, net.Listen) }
func BenchmarkAcceptListener(b *testing.B) { benchmarkAccept(b, Listen) }

func benchmarkAccept(b *testing.B, listen func(network, address string) (net.Listener, error)) {
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	var one [1]byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Read(one[:]) // returns at the server's close
		c.Close()
	}
}
