package listener

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A deadline passes once, wakes its direction once, and is revived by the next set; a timer
// armed by a set that was replaced never marks the new deadline passed; and the paths net/http
// takes around every request (a past deadline, then none; future deadlines) allocate nothing.
func TestDeadlineSetsAndFires(t *testing.T) {
	var wakes atomic.Int32
	woke := make(chan struct{}, 1)
	var d deadline
	d.init(func() {
		wakes.Add(1)
		select {
		case woke <- struct{}{}:
		default:
		}
	})

	d.set(time.Now().Add(-time.Second))
	if !d.expired() || wakes.Load() != 1 {
		t.Fatalf("past deadline: expired %v, wakes %d", d.expired(), wakes.Load())
	}
	d.set(time.Now().Add(-time.Second))
	if wakes.Load() != 1 {
		t.Fatalf("a second past deadline woke again (%d)", wakes.Load())
	}
	d.set(time.Time{})
	if d.expired() {
		t.Fatal("clearing the deadline did not revive the direction")
	}

	select {
	case <-woke: // the past deadline's wake
	default:
	}
	d.set(time.Now().Add(20 * time.Millisecond))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("the timed deadline did not wake its direction within 5s")
	}
	if !d.expired() || wakes.Load() != 2 {
		t.Fatalf("timed deadline: expired %v, wakes %d", d.expired(), wakes.Load())
	}

	// A firing that lost the race to a later set (the timer armed by the first) finds the
	// deadline now set still ahead.
	d.set(time.Now().Add(time.Hour))
	d.set(time.Now().Add(2 * time.Hour))
	d.onTimer()
	if d.expired() || wakes.Load() != 2 {
		t.Fatalf("a stale timer fired: expired %v, wakes %d", d.expired(), wakes.Load())
	}
	d.set(time.Time{})

	if n := testing.AllocsPerRun(1000, func() {
		d.set(time.Unix(1, 0))
		d.set(time.Time{})
	}); n != 0 {
		t.Fatalf("a past deadline and clearing it allocate %v times", n)
	}
	d.set(time.Now().Add(time.Hour)) // the timer exists already: the timed deadline made it
	if n := testing.AllocsPerRun(1000, func() {
		d.set(time.Now().Add(time.Hour))
	}); n != 0 {
		t.Fatalf("a future deadline set again allocates %v times", n)
	}
	d.set(time.Time{})
}

// A Read past a deadline set long ago (net/http's, a second after the epoch, which a Read
// answers without a path's work: Conn.Read) says what net's says, on every path: the deadline
// even with a byte waiting, which the next Read without a deadline returns; nothing, for a
// read of nothing, whatever the deadline; and once the connection is closed, that it is
// closed, whatever the deadline.
func TestReadPastALongPastDeadlineIsNets(t *testing.T) {
	describedAsNets(t, describeLongPastDeadline)
}

func describeLongPastDeadline(t *testing.T, c, peer net.Conn) string {
	var b strings.Builder
	longAgo := time.Unix(1, 0)
	buf := make([]byte, 8)
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		fmt.Fprintf(&b, "set long past: %v\n", c.SetReadDeadline(longAgo))
		n, err := c.Read(buf)
		fmt.Fprintf(&b, "read %d, a byte waiting: %d %s\n", i, n, describeError(err))
	}
	n, err := c.Read(buf[:0])
	fmt.Fprintf(&b, "read of nothing: %d %v\n", n, err)
	c.SetReadDeadline(time.Now()) // passed, and after start: not kept as long past
	n, err = c.Read(buf[:0])
	fmt.Fprintf(&b, "read of nothing past a deadline just passed: %d %v\n", n, err)
	n, err = c.Read(buf)
	fmt.Fprintf(&b, "read past it, a byte waiting: %d %s\n", n, describeError(err))
	fmt.Fprintf(&b, "cleared: %v\n", c.SetReadDeadline(time.Time{}))
	n, err = c.Read(buf)
	fmt.Fprintf(&b, "read without one: %q %v\n", buf[:n], err)
	c.SetReadDeadline(longAgo)
	fmt.Fprintf(&b, "closed: %v\n", c.Close())
	_, err = c.Read(buf)
	fmt.Fprintf(&b, "read after close: %s\n", describeError(err))
	err = c.SetReadDeadline(longAgo)
	_, rerr := c.Read(buf)
	fmt.Fprintf(&b, "set long past after close: %s; read: %s\n", describeError(err), describeError(rerr))
	return b.String()
}
