package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// connectClient measures short-lived connections: each of its Conns goroutines connects,
// makes one echo round trip of Size bytes, closes, and connects again, as fast as the server
// accepts. A message is one such connection, its latency the time from the dial to the close;
// every echoed byte is checked.
type connectClient struct {
	goroutines
}

// startConnect starts the goroutines; none may run longer than limit (plus ten seconds of
// grace).
func startConnect(s *shared, limit time.Duration) (client, error) {
	c := &connectClient{goroutines{s: s}}
	deadline := time.Now().Add(limit + 10*time.Second)
	for id := 0; id < s.cfg.Conns; id++ {
		c.wg.Add(1)
		go c.drive(id, deadline)
	}
	return c, nil
}

// drive is goroutine id: one connection after another until the run stops.
func (c *connectClient) drive(id int, deadline time.Time) {
	defer c.wg.Done()
	size := c.s.cfg.Size
	msg, got := make([]byte, size), make([]byte, size)
	for seq := uint64(0); c.s.phase.Load() != stopping; seq++ {
		if time.Now().After(deadline) {
			c.fail(fmt.Errorf("loadgen: connect %d: still running past the run's end", id))
			return
		}
		start := time.Now()
		fill(msg, size, id, seq)
		if err := roundTripOnce(c.s.cfg.Addr, msg, got, deadline); err != nil {
			c.fail(fmt.Errorf("loadgen: connect %d, connection %d: %w", id, seq, err))
			return
		}
		if c.s.measuring() {
			c.s.hist.record(id, int64(time.Since(start)), 1)
			c.s.messages.Add(1)
		}
	}
}

// roundTripOnce connects to addr, sends msg, reads its echo into got, checks it and closes.
func roundTripOnce(addr string, msg, got []byte, deadline time.Time) error {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(deadline)
	if _, err := nc.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := io.ReadFull(nc, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return mismatch(0, 0, got, msg)
	}
	return nil
}

func (c *connectClient) finish() error { return c.stopAndWait() }

// goroutines is the part of a client that drives from goroutines of its own: they stop the
// run at the first error, which the client's finish reports once they are all done.
type goroutines struct {
	s   *shared
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error // the first failure
}

// fail keeps err if it is the first and stops the run.
func (g *goroutines) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.s.phase.Store(stopping)
}

// stopAndWait stops the run, waits for the goroutines and returns the first failure.
func (g *goroutines) stopAndWait() error {
	g.s.phase.Store(stopping)
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
