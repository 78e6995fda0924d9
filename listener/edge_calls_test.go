package listener

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringnet/uringnet/internal/loopback"
)

// The calls at the edges of a connection's life (reads and writes of nothing, past a deadline,
// past the peer's end, after either side's half-close and after Close) answer what net's do,
// on every path: each is described for a connection net accepted and for ours, and the two
// descriptions must be the same.
func TestEdgeCallsAreNets(t *testing.T) { describedAsNets(t, describeEdgeCalls) }

type halfCloser interface {
	CloseRead() error
	CloseWrite() error
}

func describeEdgeCalls(t *testing.T, c, peer net.Conn) string {
	var b transcript
	buf := make([]byte, 8)

	n, err := c.Read(buf[:0])
	b.say("read of nothing", n, err)
	n, err = c.Write(nil)
	b.say("write of nothing", n, err)
	c.SetWriteDeadline(time.Now())
	n, err = c.Write(nil)
	b.say("write of nothing past the deadline", n, err)
	n, err = c.Write([]byte("x"))
	b.say("write past the deadline", n, err)
	c.SetWriteDeadline(time.Time{})

	if _, err := peer.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := peer.(halfCloser).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	n, err = io.ReadFull(c, buf[:2])
	b.say("read what the peer sent", n, err)
	n, err = c.Read(buf)
	b.say("read past the peer's end", n, err)
	n, err = c.Read(buf[:0])
	b.say("read of nothing past the peer's end", n, err)
	n, err = c.Read(buf)
	b.say("read past the peer's end again", n, err)
	n, err = c.Write([]byte("cd"))
	b.say("write after the peer's end", n, err)

	b.say("CloseWrite", 0, c.(halfCloser).CloseWrite())
	n, err = c.Write(nil)
	b.say("write of nothing after CloseWrite", n, err)
	n, err = c.Write([]byte("x"))
	b.say("write after CloseWrite", n, err)
	c.SetWriteDeadline(time.Now())
	n, err = c.Write([]byte("x"))
	b.say("write after CloseWrite past a deadline", n, err)
	c.SetWriteDeadline(time.Time{})
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	fmt.Fprintf(&b, "the peer read %q %s\n", got, describeError(err))

	b.say("CloseRead", 0, c.(halfCloser).CloseRead())
	n, err = c.Read(buf[:0])
	b.say("read of nothing after CloseRead", n, err)
	n, err = c.Read(buf)
	b.say("read after CloseRead", n, err)
	c.SetReadDeadline(time.Now())
	n, err = c.Read(buf)
	b.say("read after CloseRead past a deadline", n, err)
	c.SetReadDeadline(time.Time{})

	b.say("Close", 0, c.Close())
	n, err = c.Read(buf[:0])
	b.say("read of nothing after Close", n, err)
	n, err = c.Write(nil)
	b.say("write of nothing after Close", n, err)
	b.say("CloseRead after Close", 0, c.(halfCloser).CloseRead())
	b.say("Close again", 0, c.Close())
	return b.String()
}

// What had arrived when the reading side was shut down is still read, as net's reads it on
// Linux, then io.EOF at once: on every path.
func TestCloseReadLeavesWhatArrived(t *testing.T) { describedAsNets(t, describeCloseRead) }

func describeCloseRead(t *testing.T, c, peer net.Conn) string {
	var b strings.Builder
	buf := make([]byte, 8)
	// One byte read first, so that the ring serves the reads (on its path) and holds the rest.
	if _, err := peer.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		t.Fatal(err)
	}
	if err := c.(halfCloser).CloseRead(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a Read that would wait fails the test
	got, err := io.ReadAll(c)
	fmt.Fprintf(&b, "read after CloseRead: %q %s\n", got, describeError(err))
	n, err := c.Read(buf)
	fmt.Fprintf(&b, "read again: %d %s\n", n, describeError(err))
	if _, err := peer.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // arrived
	n, err = c.Read(buf)
	fmt.Fprintf(&b, "read of what the peer sent after CloseRead: %q %s\n", buf[:n], describeError(err))
	return b.String()
}

// A Read blocked when the reading side is shut down returns io.EOF, on every path, as net's.
func TestCloseReadEndsABlockedRead(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		if _, err := peer.Write([]byte("a")); err != nil { // the ring serves the reads from here
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		if _, err := io.ReadFull(c, buf[:1]); err != nil {
			t.Fatal(err)
		}
		read := make(chan error, 1)
		go func() {
			_, err := c.Read(buf)
			read <- err
		}()
		time.Sleep(20 * time.Millisecond) // the Read is blocked by now, or soon finds the shutdown
		if err := c.CloseRead(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-read:
			if err != io.EOF {
				t.Fatalf("the blocked Read returned %v, want io.EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("CloseRead did not end a blocked Read within 10s")
		}
	})
}

// After the peer's reset, reads and writes fail as net's do, on every path: the reset is told
// once, to the first call, and the socket answers from then on (a Write of nothing too, which
// net's makes a system call of).
func TestPeerResetIsNets(t *testing.T) {
	t.Run("read first", func(t *testing.T) {
		describedAsNets(t, func(t *testing.T, c, peer net.Conn) string { return describePeerReset(t, c, peer, false) })
	})
	// Not alternating: a write the ring takes while the poller reads is queued before the ring
	// can know of the reset, as a send buffer takes one before the reset arrives; the write
	// succeeds and the next read is told.
	t.Run("write first", func(t *testing.T) {
		describedAsNets(t, func(t *testing.T, c, peer net.Conn) string { return describePeerReset(t, c, peer, true) },
			pollerPath, ringPath)
	})
	t.Run("CloseWrite first", func(t *testing.T) {
		describedAsNets(t, describeCloseWriteAfterReset, pollerPath, ringPath)
	})
	t.Run("write of nothing first", func(t *testing.T) {
		describedAsNets(t, describeWriteNothingAfterReset, pollerPath, ringPath)
	})
}

func describePeerReset(t *testing.T, c, peer net.Conn, writeFirst bool) string {
	var b transcript
	buf := make([]byte, 8)
	resetAfterARead(t, c, peer)
	if writeFirst {
		time.Sleep(20 * time.Millisecond) // the reset has arrived
		n, err := c.Write([]byte("x"))
		b.say("write after the peer's reset", n, err)
	}
	n, err := c.Read(buf)
	b.say("read after the peer's reset", n, err)
	n, err = c.Read(buf)
	b.say("read again", n, err)
	n, err = c.Read(buf[:0])
	b.say("read of nothing", n, err)
	c.SetDeadline(time.Now())
	n, err = c.Read(buf)
	b.say("read past a deadline", n, err)
	n, err = c.Write([]byte("x"))
	b.say("write past a deadline", n, err)
	c.SetDeadline(time.Time{})
	n, err = c.Write([]byte("x"))
	b.say("write", n, err)
	n, err = c.Write(nil)
	b.say("write of nothing", n, err)
	b.say("CloseWrite", 0, c.(halfCloser).CloseWrite())
	b.say("Close", 0, c.Close())
	return b.String()
}

// A CloseWrite that fails after the peer's reset shuts nothing down: the next Write is told of
// the reset, as net's.
func describeCloseWriteAfterReset(t *testing.T, c, peer net.Conn) string {
	var b transcript
	resetAfterARead(t, c, peer)
	time.Sleep(20 * time.Millisecond) // the reset has arrived
	b.say("CloseWrite", 0, c.(halfCloser).CloseWrite())
	n, err := c.Write([]byte("x"))
	b.say("write", n, err)
	n, err = c.Read(make([]byte, 8))
	b.say("read", n, err)
	return b.String()
}

// A Write of nothing is the first call told of the reset, even where the ring's side took the
// error out of the kernel (a review's finding), as net's.
func describeWriteNothingAfterReset(t *testing.T, c, peer net.Conn) string {
	var b transcript
	resetAfterARead(t, c, peer)
	time.Sleep(50 * time.Millisecond) // the reset has arrived
	n, err := c.Write(nil)
	b.say("write of nothing", n, err)
	for _, what := range []string{"read", "read again"} {
		n, err = c.Read(make([]byte, 8))
		b.say(what, n, err)
	}
	return b.String()
}

// resetAfterARead has the peer send a byte, c read it (so that the ring, on its path, serves the
// reads), and the peer reset the connection.
func resetAfterARead(t *testing.T, c, peer net.Conn) {
	if _, err := peer.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
}

// A reset while the loop holds bytes the reader has not taken, and the kernel more behind them:
// what the reader gets is the start of what the peer sent, and if it is not all of it, a call
// was told of the reset (net's tells whichever call comes first, here a Write, and its reader
// then reads what the kernel holds and the end of the stream). Before, the ring's side told the
// reset to a Write and the reader went on with the socket, past the bytes the loop had held.
func TestResetLeavesNoGapInWhatIsRead(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		sent := make([]byte, 4<<20)
		for i := range sent {
			sent[i] = byte(i / 1000)
		}
		go peer.Write(sent) // ends with an error at the reset
		first := make([]byte, 1)
		if _, err := io.ReadFull(c, first); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the loop holds what it may, the kernel more
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		time.Sleep(20 * time.Millisecond)
		_, werr1 := c.Write([]byte("x")) // the ring's send meets the reset, on its path
		time.Sleep(20 * time.Millisecond)
		_, werr2 := c.Write([]byte("y"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		got = append(first, got...)
		if i := firstDifference(got, sent[:len(got)]); i >= 0 {
			t.Fatalf("byte %d of %d read differs from what was sent: a gap", i, len(got))
		}
		if len(got) < len(sent) && err == nil && werr1 == nil && werr2 == nil {
			t.Fatalf("read %d of the %d bytes sent, then the end of the stream, and no call was told why", len(got), len(sent))
		}
		t.Logf("read %d of %d bytes, then %v; the writes: %v, %v", len(got), len(sent), err, werr1, werr2)
	})
}

// Bytes that reached the connection before the peer's reset are all read, then the reset is
// told, on every path, as net's reads them: the loop hands what it held to the readers when its
// side ends.
func TestResetKeepsWhatArrived(t *testing.T) {
	describedAsNets(t, func(t *testing.T, c, peer net.Conn) string {
		sent := make([]byte, 100<<10) // within what a receiver that does not read takes
		for i := range sent {
			sent[i] = byte(i / 1000)
		}
		if _, err := peer.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // the ring serves the reads
			t.Fatal(err)
		}
		if _, err := peer.Write(sent); err != nil {
			t.Fatal(err)
		}
		waitAcked(t, peer.(*net.TCPConn))
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		t.Logf("read %d bytes, then %v", len(got), err)
		return fmt.Sprintf("read %d bytes, as sent %v, then %s\n", len(got), bytes.Equal(got, sent), describeError(err))
	})
}

// waitAcked waits until the peer of c has acknowledged everything c sent (SIOCOUTQ: nothing
// unsent or unacknowledged), for up to ten seconds.
func waitAcked(t *testing.T, c *net.TCPConn) {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var queued int
		raw.Control(func(fd uintptr) { queued, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		if err != nil {
			t.Fatal(err)
		}
		if queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes sent were not acknowledged within 10s", queued)
		}
	}
}

// A connection closed with input it has not read is reset, as the kernel resets net's: its
// peer reads what it was sent, then ECONNRESET (on the ring, whose loop took the input from
// the kernel, the close is made abortive for it).
func TestCloseWithInputUnreadResets(t *testing.T) {
	describedAsNets(t, func(t *testing.T, c, peer net.Conn) string {
		if _, err := peer.Write([]byte("abc")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // "bc" left unread
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("reply")); err != nil {
			t.Fatal(err)
		}
		return closedPeerReads(c, peer)
	})
}

// closedPeerReads closes c and describes what its peer then reads, to its end.
func closedPeerReads(c, peer net.Conn) string {
	c.Close()
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	return fmt.Sprintf("the peer read %q %s\n", got, describeError(err))
}

// Input that arrives as Close begins resets the connection as net's does, on the ring path too,
// where the loop may hand it to the readers after Close looked for it: the peer writes and the
// connection is closed at once, round after round, each on a fresh pair.
func TestCloseAsInputArrivesResets(t *testing.T) {
	const rounds = 50
	describe := func(t *testing.T, c, peer net.Conn) string {
		if _, err := peer.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // on the ring, receiving is on
			t.Fatal(err)
		}
		if _, err := peer.Write([]byte("abc")); err != nil {
			t.Fatal(err)
		}
		return closedPeerReads(c, peer)
	}
	peer, nc := loopback.TCPPair(t)
	want := describe(t, nc, peer)
	forPaths(t, []pathCase{pollerPath, ringPath, alternatingPath}, func(t *testing.T) {
		differ := map[string]int{}
		for range rounds {
			c, peer := connPair(t)
			if got := describe(t, c, peer); got != want {
				differ[got]++
			}
		}
		if len(differ) > 0 {
			t.Errorf("in %d rounds: %v; net's: %s", rounds, differ, want)
		}
	})
}

// transcript is a description built call by call: what each call returned.
type transcript struct{ strings.Builder }

func (b *transcript) say(what string, n int, err error) {
	fmt.Fprintf(b, "%s: %d %s\n", what, n, describeError(err))
}
