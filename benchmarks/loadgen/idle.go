package loadgen

import (
	"fmt"
	"io"
	"net"
	"time"
)

// Idle opens conns connections to the echo server at addr and makes one one-byte round trip
// on each, so that the server holds every connection's state, then leaves them idle. Closing
// the returned function closes them all.
func Idle(addr string, conns int) (closeAll func(), err error) {
	cs := make([]net.Conn, 0, conns)
	closeAll = func() {
		for _, c := range cs {
			c.Close()
		}
	}
	b := []byte{1}
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("loadgen: idle connection %d of %d: %w", i+1, conns, err)
		}
		cs = append(cs, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = c.Write(b); err == nil {
			_, err = io.ReadFull(c, b)
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("loadgen: idle connection %d of %d: round trip: %w", i+1, conns, err)
		}
	}
	return closeAll, nil
}
