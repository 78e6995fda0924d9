package poller

import (
	"testing"

	"golang.org/x/sys/unix"
)

// SubmitAndPoll submits, collects what is ready (running the deferred task work that turns
// received data into completions) and never waits.
func TestSubmitAndPoll(t *testing.T) {
	r := loopRing(t, 8)
	cqes := make([]CQE, 8)

	if n, err := r.SubmitAndPoll(); n != 0 || err != nil {
		t.Fatalf("nothing queued: %d, %v; want 0, nil", n, err)
	}
	if r.CQReady() != 0 {
		t.Fatalf("%d completions from nothing", r.CQReady())
	}

	// A NOP completes during the call.
	prep(t, r, 1, func(s *SQE) { s.PrepNop() })
	if n, err := r.SubmitAndPoll(); n != 1 || err != nil {
		t.Fatalf("one NOP: %d, %v; want 1, nil", n, err)
	}
	if k := r.ReapCompletions(cqes); k != 1 || cqes[0].UserData != 1 {
		t.Fatalf("after the NOP: %d completions %+v, want the NOP's", k, cqes[:k])
	}

	// A receive with nothing to read stays in flight: the poll returns without it.
	fds := socketPair(t)
	buf := make([]byte, 16)
	prep(t, r, 2, func(s *SQE) { s.PrepRecv(int32(fds[0]), buf, 0) })
	if n, err := r.SubmitAndPoll(); n != 1 || err != nil {
		t.Fatalf("submit the receive: %d, %v; want 1, nil", n, err)
	}
	if k := r.ReapCompletions(cqes); k != 0 {
		t.Fatalf("a receive with nothing sent completed: %+v", cqes[:k])
	}

	// Data sent wakes the receive as task work deferred to the ring's owner; the next poll runs
	// it and the completion is there, without a wait.
	if _, err := unix.Write(fds[1], []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if n, err := r.SubmitAndPoll(); n != 0 || err != nil {
		t.Fatalf("poll: %d, %v; want 0, nil", n, err)
	}
	if k := r.ReapCompletions(cqes); k != 1 || cqes[0].UserData != 2 || cqes[0].Res != 4 || string(buf[:4]) != "ping" {
		t.Fatalf("after the send: %d completions %+v, buffer %q; want the receive of \"ping\"", k, cqes[:k], buf[:4])
	}
}
