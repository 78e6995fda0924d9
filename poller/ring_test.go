package poller

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLoopRingLifecycle(t *testing.T) {
	r := loopRing(t, 8)
	if r.Flags()&SetupSingleIssuer == 0 || r.SQEntries() != 8 || r.CQEntries() != 16 {
		t.Fatalf("flags %#x, SQ %d, CQ %d; want single issuer, 8, 16", r.Flags(), r.SQEntries(), r.CQEntries())
	}
	prep(t, r, 42, func(s *SQE) { s.PrepNop() })
	if c := waitCQE(t, r, 42); c.Res != 0 {
		t.Fatalf("NOP res %d", c.Res)
	}
}

func TestNoSQArrayAndCQSize(t *testing.T) {
	requireFeatures(t, CapNoSQArray)
	r := ownedRing(t, Options{Entries: 4, CQEntries: 64, Flags: SetupNoSQArray})
	if r.CQEntries() != 64 {
		t.Fatalf("CQ entries %d, want 64", r.CQEntries())
	}
	for i := uint64(0); i < 20; i++ {
		prep(t, r, i, func(s *SQE) { s.PrepNop() })
	}
	if got := byUserData(t, waitCQEs(t, r, 20)); len(got) != 20 {
		t.Fatalf("got %d distinct completions, want 20", len(got))
	}
}

// A plain ring (no single issuer) may be used from any thread as long as callers serialise.
func TestPlainRingSharedUnderLock(t *testing.T) {
	requireFeatures(t)
	r, err := New(Options{Entries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // four different threads
			defer runtime.UnlockOSThread()
			for i := 0; i < 50; i++ {
				mu.Lock()
				sqe, err := r.GetSQE()
				if err == nil {
					sqe.PrepNop()
					_, err = r.Submit()
				}
				mu.Unlock()
				if err != nil {
					t.Errorf("submit from thread %d: %v", unix.Gettid(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitCQEs(t, r, 200) // fails after 5s rather than hang if any completion is missing
}

func TestUseAfterClose(t *testing.T) {
	requireFeatures(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := New(Options{Entries: 4, Flags: LoopRingFlags})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterRingFd(); err != nil {
		t.Fatal(err)
	}
	br, err := r.RegisterBufferRing(3, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if br.Buffer(0, 1) != nil {
		t.Error("Buffer after Close returned memory")
	}
	br.Recycle(0) // no-ops, not crashes
	br.Publish()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.GetSQE(); err != ErrClosed {
		t.Errorf("GetSQE after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Submit(); err != ErrClosed {
		t.Errorf("Submit after Close: %v", err)
	}
	if _, err := r.SubmitAndWait(1); err != ErrClosed {
		t.Errorf("SubmitAndWait after Close: %v", err)
	}
	if _, err := r.SubmitAndWaitTimeout(1, time.Millisecond); err != ErrClosed {
		t.Errorf("SubmitAndWaitTimeout after Close: %v", err)
	}
	if _, err := r.SubmitAndPoll(); err != ErrClosed {
		t.Errorf("SubmitAndPoll after Close: %v", err)
	}
	if n := r.ReapCompletions(make([]CQE, 4)); n != 0 {
		t.Errorf("ReapCompletions after Close: %d", n)
	}
	if r.CQReady() != 0 || r.SQPending() != 0 || r.CQOverflowPending() || r.TaskrunPending() {
		t.Errorf("queue state readable after Close")
	}
	if err := r.Enable(); err != ErrClosed {
		t.Errorf("Enable after Close: %v", err)
	}
	if err := r.RegisterRingFd(); err != ErrClosed {
		t.Errorf("RegisterRingFd after Close: %v", err)
	}
	if _, err := r.RegisterBufferRing(1, 4, 64); err != ErrClosed {
		t.Errorf("RegisterBufferRing after Close: %v", err)
	}
	if err := r.RegisterSparseFiles(4); err != ErrClosed {
		t.Errorf("RegisterSparseFiles after Close: %v", err)
	}
	if _, err := r.UpdateFiles(0, []int32{-1}); err != ErrClosed {
		t.Errorf("UpdateFiles after Close: %v", err)
	}
	if err := r.FlushCQOverflow(); err != ErrClosed {
		t.Errorf("FlushCQOverflow after Close: %v", err)
	}
	// The descriptor is gone: a message to it fails instead of reaching a dead ring.
	if err := SendMsgRingSync(r.Fd(), 1, 0, 0); err == nil {
		t.Errorf("SendMsgRingSync to a closed ring succeeded")
	}
}

// On a single-issuer ring, the kernel refuses submissions from any thread but the one that
// enabled it (EEXIST); with a registered ring fd the foreign thread cannot even name the ring
// (EBADF, or EINVAL when that thread never used io_uring: the registration is per thread).
// Either way the error comes back, nothing hangs, and
// the owner's ring keeps working.
func TestSubmitFromForeignThreadFails(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered bool
		want       []unix.Errno
	}{
		{"single-issuer", false, []unix.Errno{unix.EEXIST}},
		{"registered-ring-fd", true, []unix.Errno{unix.EBADF, unix.EINVAL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ownedRing(t, Options{Entries: 4, Flags: LoopRingFlags})
			if tc.registered {
				if err := r.RegisterRingFd(); err != nil {
					t.Fatal(err)
				}
			}
			// Fill the SQ so that the foreign GetSQE must submit to make room.
			for i := uint64(0); i < 4; i++ {
				prep(t, r, i, func(s *SQE) { s.PrepNop() })
			}
			errs := make(chan [2]error)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				_, getErr := r.GetSQE()
				_, submitErr := r.Submit()
				errs <- [2]error{getErr, submitErr}
			}()
			select {
			case e := <-errs:
				for i, err := range e {
					if !slices.ContainsFunc(tc.want, func(errno unix.Errno) bool { return errors.Is(err, errno) }) {
						t.Errorf("foreign call %d: %v, want %v", i, err, tc.want)
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatal("foreign submit hung")
			}
			if got := byUserData(t, waitCQEs(t, r, 4)); len(got) != 4 {
				t.Fatalf("owner got %d completions after the foreign attempt, want 4", len(got))
			}
		})
	}
}

func TestDisabledRingRefusesSubmit(t *testing.T) {
	requireFeatures(t)
	r, err := New(Options{Entries: 4, Flags: SetupRDisabled})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sqe, err := r.GetSQE()
	if err != nil {
		t.Fatal(err)
	}
	sqe.PrepNop()
	if _, err := r.SubmitAndWait(1); !errors.Is(err, unix.EBADFD) {
		t.Fatalf("submit to a disabled ring: %v, want EBADFD", err)
	}
}

// GetSQE on a full queue submits to make room instead of failing or overwriting.
func TestGetSQEOnFullQueueSubmits(t *testing.T) {
	r := ownedRing(t, Options{Entries: 4, CQEntries: 64})
	for i := uint64(0); i < 30; i++ {
		prep(t, r, i, func(s *SQE) { s.PrepNop() })
	}
	// 30 entries through a queue of 4: GetSQE submitted 28 of them itself.
	if r.SQPending() != 30%r.SQEntries() && r.SQPending() != r.SQEntries() {
		t.Fatalf("%d entries pending after 30 GetSQEs on a queue of %d", r.SQPending(), r.SQEntries())
	}
	got := byUserData(t, waitCQEs(t, r, 30))
	for i := uint64(0); i < 30; i++ {
		if _, ok := got[i]; !ok {
			t.Fatalf("no completion for NOP %d", i)
		}
	}
}

func TestUnsupportedOpcodeFailsItsRequestOnly(t *testing.T) {
	f := requireFeatures(t)
	if f.SupportsOp(250) {
		t.Fatal("kernel claims opcode 250")
	}
	r := loopRing(t, 4)
	prep(t, r, 1, func(s *SQE) { s.PrepNop(); s.opcode = 250 })
	prep(t, r, 2, func(s *SQE) { s.PrepNop() })
	if n, err := r.Submit(); n != 2 || err != nil {
		t.Fatalf("Submit: %d, %v; want both entries consumed (SetupSubmitAll)", n, err)
	}
	got := byUserData(t, waitCQEs(t, r, 2))
	if got[1].Res != -int32(unix.EINVAL) {
		t.Errorf("opcode 250 res %d, want -EINVAL", got[1].Res)
	}
	if got[2].Res != 0 {
		t.Errorf("NOP after the bad opcode res %d, want 0 (SetupSubmitAll)", got[2].Res)
	}
}

func TestSubmitAndWaitTimeout(t *testing.T) {
	r := loopRing(t, 4)
	start := time.Now()
	n, err := r.SubmitAndWaitTimeout(1, 30*time.Millisecond)
	if err != ErrTimedOut || n != 0 {
		t.Fatalf("empty wait: %d, %v; want 0, ErrTimedOut", n, err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("timed out after %v, before the 30ms asked", el)
	}
	// Entries submitted are reported even when the wait times out with too few completions.
	prep(t, r, 1, func(s *SQE) { s.PrepNop() })
	if n, err := r.SubmitAndWaitTimeout(2, 10*time.Millisecond); n != 1 || err != ErrTimedOut {
		t.Fatalf("submit 1, wait for 2: %d, %v; want 1, ErrTimedOut", n, err)
	}
	waitCQE(t, r, 1)
}

// Go's runtime interrupts threads blocked in syscalls with signals (SIGURG for preemption).
// A wait interrupted by signals keeps waiting, for no longer than its timeout.
func TestWaitSurvivesSignals(t *testing.T) {
	r := loopRing(t, 4)
	tid := unix.Gettid()
	stop := make(chan struct{})
	var sent int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if unix.Tgkill(unix.Getpid(), tid, unix.SIGURG) == nil {
					sent++
				}
			}
		}
	}()
	start := time.Now()
	_, timedErr := r.SubmitAndWaitTimeout(1, 200*time.Millisecond)
	elapsed := time.Since(start)

	// A wait that also submits: the kernel may be interrupted after consuming the SQE, and
	// then reports the submission without an error. The wait must go on until the completion.
	ts := unix.NsecToTimespec(int64(50 * time.Millisecond))
	for i := 0; i < 3; i++ {
		prep(t, r, 8, func(s *SQE) { s.PrepTimeout(&ts, 0, 0) })
		start := time.Now()
		n, err := r.SubmitAndWait(1)
		if n != 1 || err != nil || r.CQReady() != 1 {
			t.Fatalf("submit-and-wait under signals: %d, %v, %d ready after %v; want 1, nil, 1",
				n, err, r.CQReady(), time.Since(start))
		}
		waitCQE(t, r, 8)
	}

	// An untimed wait is ended by a message, not by the signals.
	go func() {
		time.Sleep(100 * time.Millisecond)
		if err := SendMsgRingSync(r.Fd(), 7, 0, 0); err != nil {
			t.Errorf("SendMsgRingSync: %v", err)
		}
	}()
	_, waitErr := r.SubmitAndWait(1)
	close(stop)
	wg.Wait()

	if timedErr != ErrTimedOut || elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("timed wait under signals: %v after %v, want ErrTimedOut after 200ms", timedErr, elapsed)
	}
	if waitErr != nil {
		t.Errorf("untimed wait under signals: %v", waitErr)
	}
	if c := waitCQE(t, r, 7); c.Res != 0 {
		t.Errorf("message res %d", c.Res)
	}
	if sent < 10 || r.Interrupts() == 0 {
		t.Errorf("%d signals sent, %d waits interrupted; the test did not exercise EINTR", sent, r.Interrupts())
	}
}

// A CQ too small for the completions overflows into the kernel's backlog; the ring notices,
// and reaping flushes the backlog so that every completion arrives exactly once.
func TestCQOverflowDetectedAndFlushed(t *testing.T) {
	r := ownedRing(t, Options{Entries: 2, CQEntries: 2})
	const total = 16
	for i := uint64(0); i < total; i++ {
		prep(t, r, i, func(s *SQE) { s.PrepNop() })
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if !r.CQOverflowPending() {
		t.Fatalf("%d completions in a CQ of %d, but no overflow reported", total, r.CQEntries())
	}
	if r.CQReady() != r.CQEntries() {
		t.Fatalf("CQ holds %d, want it full (%d)", r.CQReady(), r.CQEntries())
	}
	got := map[uint64]bool{}
	buf := make([]CQE, 64)
	for len(got) < total {
		n := r.ReapCompletions(buf)
		if n == 0 {
			t.Fatalf("reaped nothing with %d of %d completions seen", len(got), total)
		}
		for _, c := range buf[:n] {
			if got[c.UserData] {
				t.Fatalf("completion %d delivered twice", c.UserData)
			}
			got[c.UserData] = true
		}
	}
	if r.CQOverflowPending() || r.DroppedCompletions() != 0 {
		t.Fatalf("after reaping: overflow pending %v, dropped %d", r.CQOverflowPending(), r.DroppedCompletions())
	}
}

func TestTimeoutCancelAndLinkTimeout(t *testing.T) {
	r := loopRing(t, 8)
	short := unix.NsecToTimespec(int64(5 * time.Millisecond))
	long := unix.NsecToTimespec(int64(time.Hour))

	prep(t, r, 1, func(s *SQE) { s.PrepTimeout(&short, 0, 0) })
	if c := waitCQE(t, r, 1); c.Res != -int32(unix.ETIME) {
		t.Errorf("timeout res %d, want -ETIME", c.Res)
	}

	prep(t, r, 2, func(s *SQE) { s.PrepTimeout(&long, 0, 0) })
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	prep(t, r, 3, func(s *SQE) { s.PrepCancel(2, 0) })
	got := byUserData(t, waitCQEs(t, r, 2))
	if got[2].Res != -int32(unix.ECANCELED) || got[3].Res != 0 {
		t.Errorf("cancel: timeout res %d (want -ECANCELED), cancel res %d (want 0)", got[2].Res, got[3].Res)
	}

	prep(t, r, 4, func(s *SQE) { s.PrepCancel(999, 0) })
	if c := waitCQE(t, r, 4); c.Res != -int32(unix.ENOENT) {
		t.Errorf("cancel of nothing: res %d, want -ENOENT", c.Res)
	}

	// A receive that never gets data, bounded by a linked timeout.
	fds := socketPair(t)
	buf := make([]byte, 16)
	prep(t, r, 5, func(s *SQE) { s.PrepRecv(int32(fds[0]), buf, 0); s.SetFlags(FlagIOLink) })
	prep(t, r, 6, func(s *SQE) { s.PrepLinkTimeout(&short, 0) })
	got = byUserData(t, waitCQEs(t, r, 2))
	if got[5].Res != -int32(unix.ECANCELED) || got[6].Res != -int32(unix.ETIME) {
		t.Errorf("linked timeout: recv res %d (want -ECANCELED), timeout res %d (want -ETIME)", got[5].Res, got[6].Res)
	}
	runtime.KeepAlive(buf)
}

func TestCQESkipSuccess(t *testing.T) {
	requireFeatures(t, CapCQESkip)
	r := loopRing(t, 4)
	prep(t, r, 1, func(s *SQE) { s.PrepNop(); s.SetFlags(FlagCQESkipSuccess) })
	prep(t, r, 2, func(s *SQE) { s.PrepNop() })
	if c := waitCQEs(t, r, 1)[0]; c.UserData != 2 {
		t.Fatalf("first completion is %d; the skipped NOP posted one", c.UserData)
	}
	if r.CQReady() != 0 {
		t.Fatalf("%d completions left; the skipped NOP posted one", r.CQReady())
	}
}

func TestSetupErrors(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New with 0 entries succeeded")
	}
	_, err := New(Options{Entries: 8, CQEntries: 4})
	if err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("CQ smaller than SQ: %v; want a plain error (bad options, not an unavailable kernel)", err)
	}
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM, unix.ENOMEM} {
		if err := setupError(errno); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errno) {
			t.Errorf("setup failing with %v: %v does not match ErrUnavailable and the errno", errno, err)
		}
	}
	if err := setupError(unix.EINVAL); errors.Is(err, ErrUnavailable) {
		t.Errorf("EINVAL classified as unavailable: %v", err)
	}
}

// GetSQE never submits in the middle of a linked chain (the kernel would end the chain at the
// batch boundary and the linked timeout would lose its target); Reserve makes room first.
func TestLinkedChainIsNeverCut(t *testing.T) {
	r := loopRing(t, 4)
	fds := socketPair(t)
	buf := make([]byte, 8)
	ts := unix.NsecToTimespec(int64(5 * time.Millisecond))

	// With room reserved, a chain started on a nearly full queue reaches the kernel whole.
	for i := uint64(0); i < 3; i++ {
		prep(t, r, i, func(s *SQE) { s.PrepNop() })
	}
	if err := r.Reserve(2); err != nil {
		t.Fatal(err)
	}
	prep(t, r, 10, func(s *SQE) { s.PrepRecv(int32(fds[0]), buf, 0); s.SetFlags(FlagIOLink) })
	prep(t, r, 11, func(s *SQE) { s.PrepLinkTimeout(&ts, 0) })
	got := byUserData(t, waitCQEs(t, r, 5))
	if got[10].Res != -int32(unix.ECANCELED) || got[11].Res != -int32(unix.ETIME) {
		t.Fatalf("chain: recv %d (want -ECANCELED), link timeout %d (want -ETIME)", got[10].Res, got[11].Res)
	}

	// Without, GetSQE refuses to submit a queue that ends in an open chain.
	for i := uint64(0); i < 3; i++ {
		prep(t, r, 20+i, func(s *SQE) { s.PrepNop() })
	}
	prep(t, r, 30, func(s *SQE) { s.PrepRecv(int32(fds[0]), buf, 0); s.SetFlags(FlagIOLink) })
	if _, err := r.GetSQE(); !errors.Is(err, ErrSQFull) {
		t.Fatalf("GetSQE after a linked entry in a full queue: %v, want ErrSQFull", err)
	}
	if err := r.Reserve(1); !errors.Is(err, ErrSQFull) {
		t.Fatalf("Reserve that would cut a chain: %v, want ErrSQFull", err)
	}
	unix.Write(fds[1], []byte("x")) // let the now-unbounded receive finish
	waitCQEs(t, r, 4)
	if err := r.Reserve(r.SQEntries() + 1); err == nil {
		t.Fatal("Reserve of more than the queue holds succeeded")
	}
	runtime.KeepAlive(buf)
}

// Closing a ring from a thread other than the one its fd is registered with must not touch that
// thread's registrations (indices are per thread, so another ring may sit at the same one).
func TestCloseFromAnotherThreadLeavesItsRegistrationsAlone(t *testing.T) {
	mine := loopRing(t, 4) // registered at some index of this thread's table
	other := make(chan *Ring)
	release := make(chan struct{})
	go func() {
		// This goroutine exits still locked, so Go destroys its thread, and with it the ring
		// registration the foreign Close below must leave alone. Unlocked, the thread would go
		// back to the pool with a registered index pointing at a closed ring, for any later
		// goroutine on it to enter by mistake.
		runtime.LockOSThread()
		r, err := NewLoopRing(4, 0)
		if err != nil {
			t.Error(err)
			close(other)
			return
		}
		other <- r
		<-release
	}()
	r, ok := <-other
	if !ok {
		t.FailNow()
	}
	if err := r.Close(); err == nil {
		t.Error("closing another thread's ring reported no error")
	}
	close(release)
	prep(t, mine, 5, func(s *SQE) { s.PrepNop() })
	waitCQE(t, mine, 5) // this thread's registration still works
}

func TestUnsupportedSetupFlagsRefused(t *testing.T) {
	const sqe128 = SetupFlags(1 << 10)
	if _, err := New(Options{Entries: 4, Flags: sqe128}); err == nil {
		t.Fatal("New with 128-byte SQEs succeeded; this package cannot map them")
	}
}

// io_uring_enter's EBADR (the kernel dropped completions) is its own error, not an interrupted
// wait: the kernel says it once, to a call that submits nothing, and the caller must act on it.
func TestDroppedCompletionsAreReported(t *testing.T) {
	var r Ring
	if _, err := r.entered(0, unix.EBADR, 0, 1); err != ErrCompletionsDropped {
		t.Fatalf("EBADR: %v, want ErrCompletionsDropped", err)
	}
	if _, err := r.entered(0, unix.EAGAIN, 1, 1); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("EAGAIN: %v, want an error matching EAGAIN", err)
	}
}

// A wait that hands its P over lets the process's other goroutines run on it while it waits,
// with one P in all, and ends as any wait does: by a completion or at its timeout.
func TestWaitHandingOffItsP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := loopRing(t, 4)
	r.HandOffWhileWaiting(true)

	start := time.Now()
	if _, err := r.SubmitAndWaitTimeout(1, 20*time.Millisecond); err != ErrTimedOut || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("empty wait: %v after %v; want ErrTimedOut after 20ms", err, time.Since(start))
	}

	ran := make(chan struct{})
	go func() {
		close(ran) // runs only on the P the wait gave up
		if err := SendMsgRingSync(r.Fd(), 9, 0, 0); err != nil {
			t.Errorf("SendMsgRingSync: %v", err)
		}
	}()
	if _, err := r.SubmitAndWaitTimeout(1, 5*time.Second); err != nil {
		t.Fatalf("wait for the message: %v", err)
	}
	select {
	case <-ran:
	default:
		t.Fatal("the wait ended without the other goroutine having run")
	}
	if c := waitCQE(t, r, 9); c.Res != 0 {
		t.Errorf("message res %d", c.Res)
	}
}
