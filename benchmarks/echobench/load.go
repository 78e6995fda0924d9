package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// load is a closed-loop echo client: each connection writes a message and reads its echo,
// checking every byte, as fast as the server answers.
type load struct {
	conns []net.Conn
	size  int
	count atomic.Int64 // verified round trips
	stop  atomic.Bool
	wg    sync.WaitGroup
	errMu sync.Mutex
	err   error
}

func dialLoad(addr string, n, size int) (*load, error) {
	l := &load{size: size}
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("dial %d of %d: %w", i+1, n, err)
		}
		l.conns = append(l.conns, c)
	}
	return l, nil
}

func (l *load) start() {
	for i, c := range l.conns {
		l.wg.Add(1)
		go l.drive(i, c)
	}
}

// drive runs one connection: every message carries the connection's id and a sequence number,
// so that a byte echoed to the wrong connection or out of order is caught.
func (l *load) drive(id int, c net.Conn) {
	defer l.wg.Done()
	msg := make([]byte, l.size)
	got := make([]byte, l.size)
	for seq := uint64(0); !l.stop.Load(); seq++ {
		fill(msg, id, seq)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg); err != nil {
			l.fail(fmt.Errorf("connection %d write: %w", id, err))
			return
		}
		if _, err := io.ReadFull(c, got); err != nil {
			l.fail(fmt.Errorf("connection %d read: %w", id, err))
			return
		}
		if !bytes.Equal(got, msg) {
			l.fail(fmt.Errorf("connection %d: echo of message %d differs from what was sent", id, seq))
			return
		}
		l.count.Add(1)
	}
}

func (l *load) fail(err error) {
	l.errMu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.errMu.Unlock()
	l.stop.Store(true)
}

// finish stops the load and returns its first error.
func (l *load) finish() error {
	l.stop.Store(true)
	l.wg.Wait()
	l.close()
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

func (l *load) close() {
	for _, c := range l.conns {
		c.Close()
	}
}
