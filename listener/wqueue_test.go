package listener

import (
	"bytes"
	"testing"
	"time"
)

// Bytes queued for the loop fill pooled chunks to their capacity and go on in further chunks
// linked behind them; no chunk ever grows past its class (growing one allocates, and the grown
// chunk cannot go back to its pool). The loop sends the list in order.
func TestQueueNeverGrowsAChunk(t *testing.T) {
	lc, peer := connPair(t)
	c := lc.adopt()
	if c == nil {
		t.Fatal("the ring did not take the connection")
	}
	sizes := []int{3000, 3000, 3000, 100_000, 5, 3000, 70_000, 64 << 10, 1}
	var want []byte
	for i, size := range sizes {
		want = append(want, bytes.Repeat([]byte{byte('a' + i)}, size)...)
	}

	lc.wmu.Lock()
	c.wPosted.Store(true) // the test moves the list to the loop itself, after looking at it
	off := 0
	for _, size := range sizes {
		if !c.queue(want[off : off+size]) {
			t.Fatal("queue: the loop has stopped")
		}
		off += size
	}
	var got []byte
	chunks, last := 0, (*chunk)(nil)
	for ch := c.wbox.Load(); ch != nil; ch = ch.next {
		chunks, last = chunks+1, ch
		if cap(ch.b) != smallChunk && cap(ch.b) != largeChunk {
			t.Errorf("chunk %d has capacity %d, not a pool's class", chunks, cap(ch.b))
		}
		if ch.next != nil && len(ch.b) != cap(ch.b) {
			t.Errorf("chunk %d holds %d of %d bytes and another follows it", chunks, len(ch.b), cap(ch.b))
		}
		got = append(got, ch.b...)
	}
	if c.wtail != last {
		t.Error("the writer's tail is not the list's last chunk")
	}
	if n := c.wPending.Load(); n != int64(len(want)) {
		t.Errorf("wPending %d after queueing %d bytes", n, len(want))
	}
	lc.wmu.Unlock()
	if !bytes.Equal(got, want) {
		t.Fatalf("the list holds %d bytes, differing at %d", len(got), firstDifference(got, want))
	}
	if chunks < 4 {
		t.Fatalf("%d bytes in %d chunks", len(want), chunks)
	}

	if !c.post(c.loopFlush) {
		t.Fatal("post: the loop has stopped")
	}
	receiveExactly(t, peer, want, nil)
}

// Writes of sizes below, between and above the chunk classes, made while the peer is not
// reading (so several go through the loop per batch), arrive whole and in order, whichever
// path takes them.
func TestWritesThroughTheLoopKeepOrder(t *testing.T) {
	forEachPath(t, testWritesKeepOrder)
}

func testWritesKeepOrder(t *testing.T) {
	c, peer := connPair(t)
	sizes := []int{3000, 70_000, 5, 150_000, 4096, 65_536, 4097}
	var want []byte
	for i := 0; len(want) < 8<<20; i++ {
		size := sizes[i%len(sizes)]
		for j := 0; j < size; j++ {
			want = append(want, byte(i+j*3))
		}
	}
	errc := make(chan error, 1)
	go func() {
		for off, i := 0, 0; off < len(want); i++ {
			end := min(off+sizes[i%len(sizes)], len(want))
			if _, err := c.Write(want[off:end]); err != nil {
				errc <- err
				return
			}
			off = end
		}
		errc <- nil
	}()
	time.Sleep(50 * time.Millisecond) // the socket buffer fills: later writes queue on the loop
	receiveExactly(t, peer, want, errc)
}
