package poller

import (
	"testing"

	"golang.org/x/sys/unix"
)

// pipe returns a non-blocking pipe, closed when the test ends.
func pipe(t testing.TB) (rd, wr int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// polled submits what is queued, collects what is ready without waiting, and returns it.
func polled(t testing.TB, r *Ring) []CQE {
	t.Helper()
	if _, err := r.SubmitAndPoll(); err != nil {
		t.Fatalf("SubmitAndPoll: %v", err)
	}
	cqes := make([]CQE, 16)
	return cqes[:r.ReapCompletions(cqes)]
}

// A one-shot poll completes once, with the events that are ready: during the submission when
// the descriptor is ready already, else at the wake-up that makes it ready.
func TestPollAddCompletesOnce(t *testing.T) {
	r := loopRing(t, 8)
	rd, wr := pipe(t)

	prep(t, r, 1, func(s *SQE) { s.PrepPollAdd(int32(rd), unix.EPOLLIN) })
	if got := polled(t, r); len(got) != 0 {
		t.Fatalf("an empty pipe was reported readable: %+v", got)
	}
	unix.Write(wr, []byte("x"))
	if got := polled(t, r); len(got) != 1 || got[0].UserData != 1 || got[0].Res != unix.EPOLLIN || got[0].More() {
		t.Fatalf("after a write: %+v, want one final completion with EPOLLIN", got)
	}
	unix.Write(wr, []byte("y"))
	if got := polled(t, r); len(got) != 0 {
		t.Fatalf("a one-shot poll reported twice: %+v", got)
	}

	// Armed on a descriptor that is ready, it completes within the call that submits it.
	prep(t, r, 2, func(s *SQE) { s.PrepPollAdd(int32(rd), unix.EPOLLIN) })
	if _, err := r.SubmitAndPoll(); err != nil {
		t.Fatal(err)
	}
	if r.CQReady() != 1 {
		t.Fatalf("%d completions after submitting a poll on a readable pipe, want 1", r.CQReady())
	}
	polled(t, r)

	// A hang-up is reported whether asked for or not: the peer's shutdown makes a socket
	// readable with EPOLLRDHUP.
	fds := socketPair(t)
	prep(t, r, 3, func(s *SQE) { s.PrepPollAdd(int32(fds[0]), unix.EPOLLIN) })
	polled(t, r)
	unix.Shutdown(fds[1], unix.SHUT_WR)
	if got := polled(t, r); len(got) != 1 || got[0].Res != unix.EPOLLIN|unix.EPOLLRDHUP {
		t.Fatalf("after the peer's shutdown: %+v, want EPOLLIN|EPOLLRDHUP", got)
	}
}

// A multishot poll is edge-triggered: one completion per wake-up, none for a descriptor that
// merely stays ready.
func TestPollMultishotIsEdgeTriggered(t *testing.T) {
	r := loopRing(t, 8)
	rd, wr := pipe(t)
	prep(t, r, 1, func(s *SQE) { s.PrepPollMultishot(int32(rd), unix.EPOLLIN) })
	if got := polled(t, r); len(got) != 0 {
		t.Fatalf("an empty pipe was reported: %+v", got)
	}
	for i := 0; i < 3; i++ {
		unix.Write(wr, []byte("x")) // never read: the pipe stays readable
		got := polled(t, r)
		if len(got) != 1 || got[0].UserData != 1 || got[0].Res != unix.EPOLLIN || !got[0].More() {
			t.Fatalf("write %d: %+v, want one EPOLLIN completion with CQEFMore", i, got)
		}
		if got := polled(t, r); len(got) != 0 {
			t.Fatalf("write %d: reported again without a new write: %+v", i, got)
		}
	}
	// Armed on a descriptor that is ready, it reports that at once.
	prep(t, r, 2, func(s *SQE) { s.PrepPollMultishot(int32(rd), unix.EPOLLIN) })
	if got := polled(t, r); len(got) != 1 || got[0].UserData != 2 || !got[0].More() {
		t.Fatalf("multishot armed on a readable pipe: %+v, want one completion", got)
	}
}

// PollRemove ends a poll, which completes with -ECANCELED; a second remove finds nothing.
func TestPollRemove(t *testing.T) {
	r := loopRing(t, 8)
	rd, _ := pipe(t)
	prep(t, r, 1, func(s *SQE) { s.PrepPollMultishot(int32(rd), unix.EPOLLIN) })
	polled(t, r)
	prep(t, r, 2, func(s *SQE) { s.PrepPollRemove(1) })
	got := byUserData(t, polled(t, r))
	if len(got) != 2 || got[2].Res != 0 || got[1].Res != -int32(unix.ECANCELED) || got[1].Flags&CQEFMore != 0 {
		t.Fatalf("remove: %+v, want the remove's 0 and the poll's final -ECANCELED", got)
	}
	prep(t, r, 3, func(s *SQE) { s.PrepPollRemove(1) })
	if got := polled(t, r); len(got) != 1 || got[0].Res != -int32(unix.ENOENT) {
		t.Fatalf("second remove: %+v, want -ENOENT", got)
	}
}

// PollUpdate changes an armed poll's events and user data in place and checks readiness again:
// a one-shot poll waiting for what never comes completes at once with its new user data when
// updated to what is ready; a multishot one stays armed.
func TestPollUpdate(t *testing.T) {
	r := loopRing(t, 8)
	rd, wr := pipe(t)
	// A pipe's write end is never readable, and is writable while the pipe has room.
	prep(t, r, 1, func(s *SQE) { s.PrepPollAdd(int32(wr), unix.EPOLLIN) })
	if got := polled(t, r); len(got) != 0 {
		t.Fatalf("write end reported readable: %+v", got)
	}
	prep(t, r, 2, func(s *SQE) { s.PrepPollUpdate(1, 3, unix.EPOLLOUT) })
	got := byUserData(t, polled(t, r))
	if len(got) != 2 || got[2].Res != 0 || got[3].Res != unix.EPOLLOUT || got[3].Flags&CQEFMore != 0 {
		t.Fatalf("update to EPOLLOUT: %+v, want the update's 0 and the poll's EPOLLOUT under user data 3", got)
	}

	prep(t, r, 10, func(s *SQE) { s.PrepPollMultishot(int32(rd), unix.EPOLLIN) })
	polled(t, r)
	unix.Write(wr, []byte("x"))
	polled(t, r)
	prep(t, r, 11, func(s *SQE) { s.PrepPollUpdate(10, 12, unix.EPOLLIN) })
	got = byUserData(t, polled(t, r))
	if len(got) != 2 || got[11].Res != 0 || got[12].Res != unix.EPOLLIN || got[12].Flags&CQEFMore == 0 {
		t.Fatalf("update of a multishot poll on a readable pipe: %+v, want it reported again under 12, still armed", got)
	}
	prep(t, r, 13, func(s *SQE) { s.PrepPollUpdate(99, 100, unix.EPOLLIN) })
	if got := polled(t, r); len(got) != 1 || got[0].Res != -int32(unix.ENOENT) {
		t.Fatalf("update of no poll: %+v, want -ENOENT", got)
	}
}
