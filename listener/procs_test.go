package listener

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/loopback"
)

// TestOwnLoopsBringTheirOwnProcs: a listener with loops of its own adds one P per ring while
// they run — through its Close and until its last connection is gone, when the loops stop —
// and DefaultLoops, counted from the program's own Ps, does not change meanwhile.
func TestOwnLoopsBringTheirOwnProcs(t *testing.T) {
	if _, err := sharedEngine(); err != nil { // started first, so that its Ps are in base
		t.Fatal(err)
	}
	base, loops := runtime.GOMAXPROCS(0), DefaultLoops()
	lc := &ListenConfig{Loops: 2}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != base+2 {
		t.Fatalf("GOMAXPROCS with two rings of the listener's own: %d, want %d", got, base+2)
	}
	if got := DefaultLoops(); got != loops {
		t.Errorf("DefaultLoops counted the rings' Ps: %d, was %d", got, loops)
	}
	c, a := loopback.DialAccept(t, ln)
	ln.Close()
	// The closed listener's connection is still served by its loops, which keep their Ps.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(a, b); err != nil || string(b) != "ping" {
		t.Fatalf("read on the closed listener's connection: %q, %v", b, err)
	}
	if got := runtime.GOMAXPROCS(0); got != base+2 {
		t.Fatalf("GOMAXPROCS with a connection left on the closed listener's rings: %d, want %d", got, base+2)
	}
	a.Close()
	// The loops stop, and give their Ps back, when the loop has closed the connection.
	for end := time.Now().Add(5 * time.Second); runtime.GOMAXPROCS(0) != base; {
		if time.Now().After(end) {
			t.Fatalf("GOMAXPROCS after the last connection closed: %d, want %d", runtime.GOMAXPROCS(0), base)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestProgramsOwnGOMAXPROCSStays: a program that sets GOMAXPROCS itself while rings run keeps
// its setting when they stop.
func TestProgramsOwnGOMAXPROCSStays(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(base)
	addRingProcs(1)
	if got := runtime.GOMAXPROCS(0); got != base+1 {
		t.Fatalf("GOMAXPROCS with one ring's P: %d, want %d", got, base+1)
	}
	runtime.GOMAXPROCS(base + 5)
	removeRingProcs(1)
	if got := runtime.GOMAXPROCS(0); got != base+5 {
		t.Fatalf("the program's GOMAXPROCS was changed back: %d, want %d", got, base+5)
	}
}

// An owned engine gives its rings' Ps back once, even when a connection attaches after the
// listener's Close took its count to nothing (an adoption that was in flight) and then closes.
// (The Ps used to be given back twice, leaving GOMAXPROCS below the program's own value.)
func TestRingProcsGivenBackOnce(t *testing.T) {
	if _, err := sharedEngine(); err != nil {
		t.Fatal(err)
	}
	base := runtime.GOMAXPROCS(0)
	e, err := startEngine(2, true) // the listener's reference
	if err != nil {
		t.Fatal(err)
	}
	e.unref() // the listener closes: no reference left, the engine stops
	e.ref()   // an adoption that was in flight attaches its connection
	e.unref() // which closes
	if err := e.set.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Fatalf("GOMAXPROCS %d after the engine stopped, want the program's %d", got, base)
	}
}
