package ringset

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A loop polls after news, yields once when a poll finds nothing, waits after a second empty
// poll, and steps aside for goroutines when it has polled for pollBudget.
func TestPaceSteps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p pace
	steps := []struct {
		news    bool
		at      time.Duration
		want    step
		polling bool
	}{
		{false, 0, stepNone, false},                         // idle: keep waiting
		{true, 0, stepNone, true},                           // news: poll next
		{true, pollBudget / 2, stepNone, true},              // more news within the budget
		{false, pollBudget / 2, stepYield, true},            // first empty poll: yield, poll again
		{true, pollBudget / 2, stepNone, true},              // news again: the yield is forgotten
		{false, pollBudget / 2, stepYield, true},            // so an empty poll yields again
		{false, pollBudget / 2, stepNone, false},            // second empty poll: wait next
		{true, pollBudget, stepNone, true},                  // news after a wait starts a new streak
		{true, 2*pollBudget - 1, stepNone, true},            // just inside the budget
		{true, 2 * pollBudget, stepGosched, true},           // budget spent: goroutines' turn
		{true, 2*pollBudget + pollBudget/2, stepNone, true}, // the budget starts over
	}
	for i, s := range steps {
		if got := p.after(s.news, t0.Add(s.at)); got != s.want || p.polling != s.polling {
			t.Fatalf("step %d (news %v at %v): got step %d, polling %v; want step %d, polling %v",
				i, s.news, s.at, got, p.polling, s.want, s.polling)
		}
	}
}

// passScheduler's rhythm: a pass at the first call, then at most one every
// schedulerPassEvery, however often it is called in between.
func TestPassSchedulerRhythm(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p pace
	for i, s := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},                                        // the first wait
		{time.Microsecond, false},                        // waits in between: none
		{schedulerPassEvery - 1, false},                  // just inside
		{schedulerPassEvery, true},                       // due
		{schedulerPassEvery + time.Millisecond, false},   // the interval starts over
		{3 * schedulerPassEvery, true},                   // a long gap: one pass, not several
		{3*schedulerPassEvery + time.Microsecond, false}, // and the next interval is whole
	} {
		if got := p.passScheduler(t0.Add(s.at)); got != s.want {
			t.Fatalf("wait %d at %v: passed %v, want %v", i, s.at, got, s.want)
		}
	}
}

// A paced loop with a P of its own goes through the scheduler before its waits, about once
// for each wait that comes schedulerPassEvery after the last pass; a loop that shares the Ps
// with another that serves, and a loop whose work runs on goroutines, never do. Among more
// loops than Ps, a loop that serves has one of its own while the others serve nothing.
func TestOnlyLoopsWithAPOfTheirOwnPassTheScheduler(t *testing.T) {
	const rounds = 12
	for _, tc := range []struct {
		name       string
		procs      int
		cfg        Config
		conns      int // dialed, one a loop; the first carries the round trips
		passesMost bool
	}{
		{"a P of its own", 2, Config{Loops: 1}, 1, true},
		// The idle loop gives its P up as it waits: the serving loop has one of its own.
		{"two loops on one P, one serving", 1, Config{Loops: 2}, 1, true},
		{"two loops on one P, both serving", 1, Config{Loops: 2}, 2, false},
		{"NeverPoll", 2, Config{Loops: 1, NeverPoll: true}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			s := startSet(t, tc.cfg, &echo{})
			passes := func() (n int) {
				for i := range tc.cfg.Loops {
					n += int(s.SchedulerPasses(i))
				}
				return n
			}
			c := dial(t, s)
			for range tc.conns - 1 {
				if err := echoRoundTrip(dial(t, s), 64, 0); err != nil { // round robin: the next loop
					t.Fatal(err)
				}
			}
			// Counted once every loop serves: a loop's first waits may come before the others
			// count as serving, with a P of its own until then.
			if err := echoRoundTrip(c, 64, rounds); err != nil {
				t.Fatal(err)
			}
			time.Sleep(schedulerPassEvery + time.Millisecond)
			before := passes()
			for r := range rounds {
				time.Sleep(schedulerPassEvery + time.Millisecond) // the loop waits meanwhile
				if err := echoRoundTrip(c, 64, uint64(r)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.procs == 1 && tc.conns == 1 {
				// The idle loop's first wait may have begun before the other counted as
				// serving, as a loop with a P of its own, for up to maxWait: a task wakes it.
				s.Post(1, func() {})
				for deadline := time.Now().Add(2 * time.Second); s.IdleHandOffs(1) == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the loop with nothing to serve never gave its P up as it waited")
					}
				}
			}
			switch n := passes() - before; {
			case tc.passesMost && n < rounds/2:
				t.Fatalf("%d passes in %d round trips %v apart: the loop waited without them", n, rounds, schedulerPassEvery)
			case !tc.passesMost && n != 0:
				t.Fatalf("%d passes: a loop that shares the Ps or runs its work on goroutines went through the scheduler", n)
			}
		})
	}
}

// A loop counts as serving something while it has a connection, and no longer once its last
// one closes or the set stops with connections open: a set started next is not taken for
// another's loops.
func TestLoopsAreCountedWhileTheyServe(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := startSet(t, Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 2}, &echo{})
	counted := func(want int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			// A loop syncs its count as it waits: a round trip on a connection it serves, or
			// a moment for one that has gone idle, brings it there.
			if _, busy := LoopsCounted(); busy == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%d loops counted as serving something, want %d", busy, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	counted(0)
	a, b := dial(t, s), dial(t, s) // round robin: one a loop
	for _, c := range []net.Conn{a, b} {
		if err := echoRoundTrip(c, 64, 1); err != nil {
			t.Fatal(err)
		}
	}
	counted(2)
	b.Close() // the loop that served it un-counts itself at its next wait, after the close
	counted(1)
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if servingLoops, busy := LoopsCounted(); servingLoops != 0 || busy != 0 {
		t.Fatalf("after Wait, with a connection still open: %d loops counted as serving, %d as serving something", servingLoops, busy)
	}
}

// Among more loops than Ps, a loop with nothing to serve but a dial under way waits as a loop
// that shares the Ps (holding its P for handOffAfter first), not as an idle one, which gives
// its P up at once: the dial's completions come soon, and each would have to win a P back from
// the loop that serves.
func TestALoopDialingWaitsAsOneSharingThePs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := startSet(t, Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 2}, &echo{})
	if err := echoRoundTrip(dial(t, s), 64, 1); err != nil { // loop 0 serves it
		t.Fatal(err)
	}
	addr := blackHole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	before := s.SharedHandOffs(1)
	if _, err := dialResult(t, func(o Opening) error { return s.Dial(ctx, 1, "tcp", addr, o) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial of a black hole with a 300ms context: %v", err)
	}
	if s.SharedHandOffs(1) == before {
		t.Fatal("the loop waited 300ms for its connect without the wait of a loop sharing the Ps")
	}
}

// Completions of the loop's own sends are not news; everything else is.
func TestIsNews(t *testing.T) {
	for _, k := range []opKind{opWake, opNewConn, opRecv, opCancel, opClose, opAccept, opRecvFrom, opAdopt} {
		if !isNews(userData(k, 3, 7)) {
			t.Errorf("kind %d: not news", k)
		}
	}
	for _, k := range []opKind{opSend, opSendTo} {
		if isNews(userData(k, 3, 7)) {
			t.Errorf("kind %d: news", k)
		}
	}
}

// Polling ends once the traffic does: after a burst on several connections, an idle set's loops
// wait in the kernel and use no CPU, paced or not (NeverPoll).
func TestIdleLoopsWait(t *testing.T) {
	for _, neverPoll := range []bool{false, true} {
		t.Run(fmt.Sprintf("NeverPoll=%v", neverPoll), func(t *testing.T) {
			s := startSet(t, Config{Loops: 2, NeverPoll: neverPoll}, &echo{})
			burst(t, s, 8, 200*time.Millisecond)
			// The last echo is back: from here on nothing arrives. Measure the loops' threads over
			// a second: a loop that spun would be charged most of it, while the clock's ticks that
			// land on an idle loop's wake-ups on a busy machine stay well under the bound.
			before := loopsCPU(t, s)
			time.Sleep(time.Second)
			used := loopsCPU(t, s) - before
			if used > 100*time.Millisecond {
				t.Fatalf("idle loops used %v of CPU in 1s; they should be waiting", used)
			}
			t.Logf("idle loops used %v of CPU in 1s", used)
		})
	}
}

// NeverPoll takes effect: a loop that paces itself starts polling at the first news, and one
// told never to poll does not, under the same traffic.
func TestNeverPollNeverPolls(t *testing.T) {
	for _, neverPoll := range []bool{false, true} {
		s := startSet(t, Config{Loops: 1, NeverPoll: neverPoll}, &echo{})
		burst(t, s, 4, 50*time.Millisecond)
		paced := make(chan bool, 1)
		if err := s.Post(0, func() { paced <- !s.loops[0].pace.since.IsZero() }); err != nil {
			t.Fatal(err)
		}
		if got := <-paced; got == neverPoll {
			t.Fatalf("NeverPoll %v: the loop paced itself: %v", neverPoll, got)
		}
	}
}

// burst echoes 512 B messages on conns connections to s for about d, every echo read back.
func burst(t *testing.T, s *Set, conns int, d time.Duration) {
	t.Helper()
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = dial(t, s)
	}
	msg := make([]byte, 512)
	buf := make([]byte, len(msg))
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		for _, c := range cs {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cs {
			if _, err := fullRead(c, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func fullRead(c net.Conn, b []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// loopsCPU is the CPU time the set's loop threads have used (user and system).
func loopsCPU(t *testing.T, s *Set) time.Duration {
	t.Helper()
	var total time.Duration
	for _, l := range s.loops {
		b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", l.tid.Load()))
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the command name (which is in parentheses and may hold spaces): state is
		// field 3, utime 14 and stime 15, in clock ticks of 10 ms (USER_HZ 100 on Linux).
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		for _, v := range f[11:13] {
			ticks, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += time.Duration(ticks) * 10 * time.Millisecond
		}
	}
	return total
}

// Where the runtime counts runnable goroutines, a loop steps aside only when one waits: with
// GOMAXPROCS goroutines spinning and one more ready, the count is not zero.
func TestGoroutinesWaiting(t *testing.T) {
	var p pace
	sample := [1]metrics.Sample{{Name: runnableMetric}}
	metrics.Read(sample[:])
	if sample[0].Value.Kind() != metrics.KindUint64 {
		if !p.goroutinesWaiting() {
			t.Fatal("without the metric, goroutinesWaiting must assume someone waits")
		}
		t.Skipf("this runtime (%s) has no %s; the loop steps aside unconditionally", runtime.Version(), runnableMetric)
	}
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < runtime.GOMAXPROCS(0)+2; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); !p.goroutinesWaiting(); {
		if time.Now().After(deadline) {
			t.Fatal("more spinning goroutines than Ps, yet none reported waiting for 5s")
		}
		runtime.Gosched()
	}
}

// A loop whose work runs on goroutines (NeverPoll) gives its P up as a wait begins when
// goroutines are waiting for one, parking its goroutine (or, without an eventfd, handing the P
// over as it waits in the kernel): on one P, a goroutine the loop has just made runnable runs
// while the loop waits, not after handOffAfter or at the runtime monitor's next look. A
// loop that paces itself, with a P of its own, keeps it.
func TestLoopHandsItsPToTheGoroutinesItWoke(t *testing.T) {
	if _, known := (&pace{}).runnableGoroutines(); !known {
		t.Skipf("this runtime (%s) has no %s: a loop never knows that goroutines wait, and keeps its P", runtime.Version(), runnableMetric)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		name             string
		neverPoll, parks bool
	}{
		{"NeverPoll, parking", true, true},
		{"NeverPoll, no eventfd", true, false},
		{"paced", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noParking.Store(!tc.parks)
			defer noParking.Store(false)
			s := startSet(t, Config{Loops: 1, NeverPoll: tc.neverPoll}, &echo{})
			// Either kind of hand-off: a paced loop with a P of its own makes neither.
			before, immediate, parks := s.AllHandOffs(0), s.HandOffs(0), s.Parks(0)
			for range 10 {
				ran := make(chan struct{})
				if err := s.Post(0, func() { go func() { close(ran) }() }); err != nil {
					t.Fatal(err)
				}
				<-ran
			}
			switch got := s.AllHandOffs(0) - before; {
			case tc.parks && s.Parks(0) == parks:
				t.Fatal("the loop woke goroutines on its only P and did not park for them")
			case tc.parks && s.HandOffs(0) != immediate:
				t.Fatal("a loop that can park handed its P over waiting in the kernel")
			case tc.neverPoll && !tc.parks && s.HandOffs(0) == immediate:
				t.Fatal("the loop woke goroutines on its only P and waited holding it")
			case !tc.parks && s.Parks(0) != parks:
				t.Fatal("a loop without parking parked")
			case !tc.neverPoll && got != 0:
				t.Fatalf("a paced loop with a P of its own handed it over %d times", got)
			}
		})
	}
}

// Threads that share the Ps and have nothing to do give their P to the runtime while they wait
// (after handOffAfter): a loop whose work runs on goroutines, with nobody waiting for a P, and
// the acceptor. Kept, on one processor every goroutine of the program waited for the runtime's
// monitor each time the idle loop's or the acceptor's wait began again, once a second
// (docs/engine.md has the figures).
func TestIdleThreadsGiveTheirPBack(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := startSet(t, Config{Loops: 1, NeverPoll: true}, &echo{})
	time.Sleep(10 * time.Millisecond) // the waits the start began
	// The loop hands its P over at once where a goroutine is runnable as it begins to wait (any
	// goroutine of the process: other tests' too), else after holding it briefly: either way
	// it gave the P back.
	loop, acceptor := s.AllHandOffs(0), s.AcceptorHandOffs()
	time.Sleep(maxWait + maxWait/4) // each waits maxWait when idle, then waits again
	if got := s.AllHandOffs(0) - loop; got == 0 {
		t.Error("an idle NeverPoll loop on one P waited holding it")
	}
	if got := s.AcceptorHandOffs() - acceptor; got == 0 {
		t.Error("the idle acceptor on one P waited holding it")
	}
}
