package poller

import (
	"testing"
	"time"
)

// Preparing an SQE, submitting it and reaping its completion allocate nothing: the path every
// event-loop iteration takes.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	r := loopRing(t, 64)
	cqes := make([]CQE, 32)
	check := func(name string, f func()) {
		t.Helper()
		f() // warm up
		if n := testing.AllocsPerRun(500, f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
	check("nop submit-and-wait-reap", func() {
		sqe, _ := r.GetSQE()
		sqe.PrepNop()
		sqe.SetUserData(1)
		r.SubmitAndWait(1)
		r.ReapCompletions(cqes)
	})
	check("nop timed wait", func() {
		sqe, _ := r.GetSQE()
		sqe.PrepNop()
		r.SubmitAndWaitTimeout(1, time.Second)
		r.ReapCompletions(cqes)
	})
	check("timed wait that times out", func() {
		r.SubmitAndWaitTimeout(1, time.Microsecond)
	})
	check("sync message", func() {
		SendMsgRingSync(r.Fd(), 2, 0, 0)
		r.SubmitAndWait(1)
		r.ReapCompletions(cqes)
	})

	// A send on one end of a socketpair and a multishot receive through a buffer ring on the
	// other: the echo server's steady state.
	fds := socketPair(t)
	br, err := r.RegisterBufferRing(1, 16, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	prep(t, r, 10, func(s *SQE) { s.PrepRecvMultishotBufferSelect(int32(fds[1]), br.GroupID(), 0) })
	msg := make([]byte, 64)
	check("send and multishot receive", func() {
		sqe, _ := r.GetSQE()
		sqe.PrepSend(int32(fds[0]), msg, 0)
		sqe.SetUserData(11)
		for got := 0; got < 2; {
			r.SubmitAndWait(1)
			n := r.ReapCompletions(cqes)
			for _, c := range cqes[:n] {
				if bid, ok := c.BufferID(); ok {
					br.Recycle(bid)
				}
			}
			got += n
		}
		br.Publish()
	})
}
