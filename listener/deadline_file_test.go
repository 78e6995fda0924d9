package listener

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// An accepted socket's File is given the read deadline only when a Read is in it or next goes
// to it (deadline_file.go). Whatever the order of the deadlines set and the Reads, what the Reads
// answer is net's, on every path: a deadline set with no Read under way ends the next Read; one
// set and cleared with no Read between (net/http's, around every request) ends none; one set
// while a Read waits ends it; and a program's own reads through SyscallConn wait under the
// deadline set before it asked for the descriptor, and under those set after.
func TestReadDeadlineSetBetweenReadsIsNets(t *testing.T) {
	describedAsNets(t, describeDeadlinesBetweenReads)
}

func describeDeadlinesBetweenReads(t *testing.T, c, peer net.Conn) string {
	var b transcript
	buf := make([]byte, 8)
	writeLater := func(s string) {
		time.AfterFunc(60*time.Millisecond, func() { peer.Write([]byte(s)) })
	}
	// A read the deadline should end and does not is ended by a byte from the peer, two
	// seconds on, which the description then shows.
	guard := func() (stop func()) {
		t := time.AfterFunc(2*time.Second, func() { peer.Write([]byte("!")) })
		return func() { t.Stop() }
	}

	stop := guard()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := c.Read(buf)
	b.say("read under a deadline set before it", n, err)
	stop()
	// Deadlines set in turn with no Read under way, then a Read with a byte coming.
	readAfter := func(what, coming string, deadlines ...time.Time) {
		for _, d := range deadlines {
			c.SetReadDeadline(d)
		}
		writeLater(coming)
		n, err := c.Read(buf)
		b.say(what, n, err)
	}
	readAfter("read once cleared, a byte coming", "a", time.Time{})
	readAfter("read after long past and cleared, a byte coming", "b", time.Unix(1, 0), time.Time{})
	readAfter("read after a near deadline set and cleared, a byte coming", "c",
		time.Now().Add(20*time.Millisecond), time.Time{})

	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err := c.Read(buf)
		b.say("read waiting as a deadline long past is set", n, err)
	}()
	time.Sleep(30 * time.Millisecond)
	stop = guard()
	c.SetReadDeadline(time.Unix(1, 0))
	<-done
	stop()
	readAfter("read once cleared, a byte coming", "d", time.Time{})

	c.SetReadDeadline(time.Unix(1, 0))
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// The program's read waits until the deadline ends it, or until the guard's byte arrives.
	var calls int
	untilWoken := func(uintptr) bool { calls++; return calls > 1 }
	stop = guard()
	b.say("raw read under a deadline set before SyscallConn", 0, raw.Read(untilWoken))
	stop()
	c.SetReadDeadline(time.Time{})
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	calls = 0
	stop = guard()
	b.say("raw read under a deadline set after", 0, raw.Read(untilWoken))
	stop()
	return b.String()
}

// The same of write deadlines: one set with no Write under way ends the next Write, and a
// ReadFrom's sendfile; one set and cleared with no Write between (net/http clears the write
// deadline after every reply) ends none; one set while a Write waits for room ends it.
func TestWriteDeadlineSetBetweenWritesIsNets(t *testing.T) {
	describedAsNets(t, describeDeadlinesBetweenWrites)
}

func describeDeadlinesBetweenWrites(t *testing.T, c, peer net.Conn) string {
	var b transcript
	name, _ := randomFile(t, 1<<10, 1)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	c.SetWriteDeadline(time.Unix(1, 0))
	n, err := c.Write([]byte("x"))
	b.say("write under a deadline long past set before it", n, err)
	n64, err := c.(io.ReaderFrom).ReadFrom(f)
	b.say("readfrom of a file under it", int(n64), err)
	c.SetWriteDeadline(time.Time{})
	n, err = c.Write([]byte("x"))
	b.say("write once cleared", n, err)

	c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	c.SetWriteDeadline(time.Time{})
	time.Sleep(40 * time.Millisecond)
	n, err = c.Write([]byte("x"))
	b.say("write after a near deadline set and cleared", n, err)

	// A Write waiting for room, the peer reading nothing, ended by a deadline long past set
	// from another goroutine (how much it wrote first is the kernel's buffers', not said).
	done := make(chan struct{})
	go func() {
		defer close(done)
		big := make([]byte, 64<<20)
		_, err := c.Write(big)
		b.say("write waiting for room as a deadline long past is set", 0, err)
	}()
	time.Sleep(100 * time.Millisecond)
	c.SetWriteDeadline(time.Unix(1, 0))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a Write waited on past a deadline long past")
	}
	return b.String()
}

// Deadlines set long past and cleared by one goroutine while another reads, as net/http's
// connection goroutine and its background read do, never end a Read they should not, never
// leave one waiting past the deadline that should end it, and never lose a byte: a race test
// of the reader's announcement against the setter's.
func TestReadDeadlinesRaceReads(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		c, peer := connPair(t)
		buf := make([]byte, 1)
		for i := range 200 {
			// A Read that the deadline must end, whether it is already waiting in the File
			// or only about to go to it as the deadline is set.
			var wg sync.WaitGroup
			wg.Add(1)
			var rerr error
			go func() {
				defer wg.Done()
				_, rerr = c.Read(buf)
			}()
			if i%2 == 1 {
				time.Sleep(time.Millisecond)
			}
			c.SetReadDeadline(time.Unix(1, 0))
			ended := make(chan struct{})
			go func() { wg.Wait(); close(ended) }()
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: a Read waited on past a deadline long past", i)
			}
			if ne, ok := rerr.(net.Error); !ok || !ne.Timeout() {
				t.Fatalf("round %d: the Read the deadline ended returned %v", i, rerr)
			}
			// Cleared: the next Read waits for the byte, and gets it.
			c.SetReadDeadline(time.Time{})
			if _, err := peer.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(buf); n != 1 || err != nil || buf[0] != byte(i) {
				t.Fatalf("round %d: read %d %v (byte %d), want byte %d", i, n, err, buf[0], byte(i))
			}
		}
	})
}

// A File the ring's reads retired and a poller Write revived takes the deadlines kept, out of
// the lazy bookkeeping's sight: a deadline changed after that (here cleared, back to what the
// File was last given lazily) still reaches it, and the next poller call waits as net's would.
func TestDeadlineClearedAfterReviveReachesTheFile(t *testing.T) {
	for _, read := range []bool{true, false} {
		t.Run(map[bool]string{true: "read", false: "write"}[read], func(t *testing.T) {
			forcePath(t, pathsRing)
			c, peer := connPair(t)
			buf := make([]byte, 8)
			set := c.SetWriteDeadline
			if read {
				set = c.SetReadDeadline
			}
			set(time.Now().Add(200 * time.Millisecond)) // no call in the File: only kept
			if _, err := peer.Write([]byte("a")); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(buf); n != 1 || err != nil {
				t.Fatalf("read on the ring: %d %v", n, err)
			}
			if inNetpoller(t, c) {
				t.Fatal("the ring's read did not retire the File")
			}
			forcePaths.Store(pathsPoller)
			if _, err := c.Write([]byte("x")); err != nil { // revives the File, with the deadlines kept
				t.Fatal(err)
			}
			set(time.Time{})
			time.Sleep(300 * time.Millisecond) // past the deadline cleared
			if read {
				time.AfterFunc(100*time.Millisecond, func() { peer.Write([]byte("b")) })
				if n, err := c.Read(buf); n != 1 || err != nil || buf[0] != 'b' {
					t.Fatalf("read once the deadline was cleared: %d %v; net's waits for the byte", n, err)
				}
			} else if n, err := c.Write([]byte("y")); n != 1 || err != nil {
				t.Fatalf("write once the deadline was cleared: %d %v; net's writes", n, err)
			}
		})
	}
}

// A retire the File declines (a Write waits in it for room) leaves the File serving the poller's
// calls with the deadlines kept: a read deadline that passed, then cleared with no Read in the
// File, does not end the next poller Read.
func TestDeadlineClearedBeforeADeclinedRetireReachesTheFile(t *testing.T) {
	forcePath(t, pathsPoller)
	c, peer := connPair(t)
	buf := make([]byte, 8)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !isTimeout(err) { // the File is given the deadline
		t.Fatalf("read under a deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{}) // no Read in the File: only kept

	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 64<<20)) // the peer reads nothing: it waits in the File
		wrote <- err
	}()
	for s, end := c.nc.(*socket), time.Now().Add(10*time.Second); s.users.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the Write did not reach the File within 10s")
		}
	}
	forcePaths.Store(pathsRing)
	if _, err := peer.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 1 || err != nil {
		t.Fatalf("read on the ring: %d %v", n, err)
	}
	if !inNetpoller(t, c) {
		t.Fatal("the File was retired with a Write in it")
	}
	forcePaths.Store(pathsPoller)
	time.AfterFunc(300*time.Millisecond, func() { peer.Write([]byte("b")) })
	if n, err := c.Read(buf); n != 1 || err != nil || buf[0] != 'b' {
		t.Errorf("read once the deadline was cleared: %d %v; net's waits for the byte", n, err)
	}
	c.Close()
	<-wrote
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
