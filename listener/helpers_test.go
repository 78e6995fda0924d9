package listener

import (
	"errors"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/loopback"
)

// connPair returns our accepted connection and a standard dialed one, on TCP, closed when the
// test ends.
func connPair(t testing.TB) (ours *Conn, peer net.Conn) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, c := loopback.DialAccept(t, ln)
	return c.(*Conn), peer
}

// receiveExactly reads len(want) bytes from peer (for at most 30 s), then, unless writer is nil,
// waits for the writing goroutine's error, and fails the test unless both went well and the
// bytes are want's.
func receiveExactly(t testing.TB, peer net.Conn, want []byte, writer <-chan error) {
	t.Helper()
	got := make([]byte, len(want))
	peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if writer != nil {
		if err := <-writer; err != nil {
			t.Fatal(err)
		}
	}
	if i := firstDifference(got, want); i >= 0 {
		t.Fatalf("byte %d differs", i)
	}
}

func firstDifference(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// forcePath has connections served as mode says (pathsPoller, pathsRing, pathsAlternate, or
// pathsAuto: the policy) until tb ends, then as before.
func forcePath(tb testing.TB, mode int32) {
	prev := forcePaths.Swap(mode)
	tb.Cleanup(func() { forcePaths.Store(prev) })
}

// A way connections are served, named for a subtest.
type pathCase struct {
	name string
	mode int32
}

var (
	pollerPath      = pathCase{"poller", pathsPoller}
	ringPath        = pathCase{"ring", pathsRing}
	alternatingPath = pathCase{"alternating", pathsAlternate}
)

// forEachPath runs f with every connection served by the poller, by the ring, and by the two
// in turn (each Read and Write asking anew, so that every switch between them is made).
func forEachPath(t *testing.T, f func(t *testing.T)) {
	forPaths(t, []pathCase{pollerPath, ringPath, alternatingPath}, f)
}

// forPaths runs f as a subtest for each of paths, connections served as it says.
func forPaths(t *testing.T, paths []pathCase, f func(t *testing.T)) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			forcePath(t, p.mode)
			f(t)
		})
	}
}

// describedAsNets describes, with describe, a connection net accepted (and its peer), then ours
// on each of paths (every path when none is given), and wants each description to be net's.
func describedAsNets(t *testing.T, describe func(t *testing.T, c, peer net.Conn) string, paths ...pathCase) {
	peer, nc := loopback.TCPPair(t)
	want := describe(t, nc, peer)
	if len(paths) == 0 {
		paths = []pathCase{pollerPath, ringPath, alternatingPath}
	}
	forPaths(t, paths, func(t *testing.T) {
		c, peer := connPair(t)
		if got := describe(t, c, peer); got != want {
			t.Errorf("got:\n%s\nnet's:\n%s", got, want)
		}
	})
}

func isOpError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// randomFile writes size bytes drawn from seed to a file of the test's and returns its name
// and the bytes.
func randomFile(t *testing.T, size int, seed int64) (name string, content []byte) {
	content = make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(content)
	name = filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(name, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return name, content
}
