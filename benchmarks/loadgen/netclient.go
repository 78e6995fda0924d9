package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/uringnet/uringnet/benchmarks/server"
)

// netClient drives each connection from a goroutine of its own with the standard library.
type netClient struct {
	goroutines
	conns []net.Conn
}

// startNet dials every connection, then starts driving them; no connection may take longer
// than limit (plus ten seconds of grace) in all.
func startNet(s *shared, limit time.Duration) (client, error) {
	c := &netClient{goroutines: goroutines{s: s}}
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

// drive runs connection id: a batch, its answers, the next batch; on a schedule when the
// offered load is fixed.
func (c *netClient) drive(id int, nc net.Conn) {
	defer c.wg.Done()
	cfg := c.s.cfg
	var exchange func(seq uint64) error
	if cfg.Protocol == HTTP {
		exchange = httpBatch(nc, cfg.Depth)
	} else {
		exchange = c.batchExchange(id, nc)
	}
	// On a schedule, connection id's batches fall due every interval, the connections' first
	// spread evenly over the first interval.
	var interval time.Duration
	var due time.Time
	var clock *schedule
	if cfg.Rate > 0 {
		var err error
		if clock, err = newSchedule(); err != nil {
			c.fail(fmt.Errorf("loadgen: connection %d: %w", id, err))
			return
		}
		defer clock.close()
		interval = time.Duration(float64(time.Second) * float64(cfg.Conns*cfg.Depth) / cfg.Rate)
		due = time.Now().Add(interval * time.Duration(id) / time.Duration(cfg.Conns))
	}
	for seq := uint64(0); c.s.phase.Load() != stopping; seq++ {
		start := time.Now()
		if interval > 0 {
			if err := clock.waitUntil(due); err != nil {
				c.fail(fmt.Errorf("loadgen: connection %d: %w", id, err))
				return
			}
			start = due // a late batch is charged from when it was due
			due = due.Add(interval)
		}
		if err := exchange(seq); err != nil {
			c.fail(fmt.Errorf("loadgen: connection %d: %w", id, err))
			return
		}
		if c.s.measuring() {
			c.s.hist.record(id, int64(time.Since(start)), int64(cfg.Depth))
			c.s.messages.Add(int64(cfg.Depth))
		}
	}
}

// batchExchange returns the exchange of connection id's echo or RESP batches: each request
// written whole, its reply read back and compared byte for byte.
func (c *netClient) batchExchange(id int, nc net.Conn) func(seq uint64) error {
	var request, reply, got []byte
	return func(seq uint64) error {
		request, reply = c.s.batches.next(id, seq, request)
		if len(got) != len(reply) {
			got = make([]byte, len(reply))
		}
		if _, err := nc.Write(request); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		// Checked as it arrives: a reply that falls short puts the bytes after it out of step,
		// and a connection waiting for bytes that will never come would hide that.
		for have := 0; have < len(reply); {
			n, err := nc.Read(got[have:])
			if !bytes.Equal(got[have:have+n], reply[have:have+n]) {
				return mismatch(seq, have, got[have:have+n], reply)
			}
			have += n
			if err != nil && have < len(reply) {
				return fmt.Errorf("read: %w", err)
			}
		}
		return nil
	}
}

// httpBatch returns the exchange of a connection's HTTP batches: depth pipelined requests in
// one write, then depth responses, each checked.
func httpBatch(nc net.Conn, depth int) func(seq uint64) error {
	batch := bytes.Repeat([]byte(server.Request), depth)
	r := bufio.NewReaderSize(nc, 16<<10)
	return func(uint64) error {
		if _, err := nc.Write(batch); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return server.ReadResponses(r, depth)
	}
}

func (c *netClient) finish() error {
	err := c.stopAndWait()
	c.closeAll()
	return err
}

func (c *netClient) closeAll() {
	for _, nc := range c.conns {
		nc.Close()
	}
}
