package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// netClient drives each connection from a goroutine of its own with the standard library.
type netClient struct {
	s     *shared
	conns []net.Conn
	wg    sync.WaitGroup
	errMu sync.Mutex
	err   error
}

// startNet dials every connection, then starts driving them; no connection may take longer
// than limit (plus ten seconds of grace) in all.
func startNet(s *shared, limit time.Duration) (client, error) {
	c := &netClient{s: s}
	deadline := time.Now().Add(limit + 10*time.Second)
	for i := 0; i < s.cfg.Conns; i++ {
		nc, err := net.DialTimeout("tcp", s.cfg.Addr, 10*time.Second)
		if err != nil {
			c.closeAll()
			return nil, fmt.Errorf("loadgen: dial %d of %d: %w", i+1, s.cfg.Conns, err)
		}
		nc.SetDeadline(deadline)
		c.conns = append(c.conns, nc)
	}
	for id, nc := range c.conns {
		c.wg.Add(1)
		go c.drive(id, nc)
	}
	return c, nil
}

func (c *netClient) drive(id int, nc net.Conn) {
	defer c.wg.Done()
	size, depth := c.s.cfg.Size, c.s.cfg.Depth
	batch := make([]byte, size*depth)
	got := make([]byte, len(batch))
	for seq := uint64(0); c.s.phase.Load() != stopping; seq++ {
		fill(batch, size, id, seq)
		sent := time.Now()
		if _, err := nc.Write(batch); err != nil {
			c.fail(fmt.Errorf("loadgen: connection %d: write: %w", id, err))
			return
		}
		if _, err := io.ReadFull(nc, got); err != nil {
			c.fail(fmt.Errorf("loadgen: connection %d: read: %w", id, err))
			return
		}
		if !bytes.Equal(got, batch) {
			c.fail(mismatch(id, seq, firstDifference(got, batch)))
			return
		}
		if c.s.measuring() {
			c.s.hist.record(id, int64(time.Since(sent)), int64(depth))
			c.s.messages.Add(int64(depth))
		}
	}
}

func firstDifference(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func (c *netClient) fail(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.s.phase.Store(stopping)
}

func (c *netClient) finish() error {
	c.s.phase.Store(stopping)
	c.wg.Wait()
	c.closeAll()
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (c *netClient) closeAll() {
	for _, nc := range c.conns {
		nc.Close()
	}
}
