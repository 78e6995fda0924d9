package listener

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// policyRun drives a policy's decisions interval by interval, on a clock of its own.
type policyRun struct {
	t   *testing.T
	p   *pathPolicy
	now int64
}

func newPolicyRun(t *testing.T) *policyRun {
	return &policyRun{t: t, p: newPathPolicy()}
}

// cpuPerByte is what each byte costs in these runs, the same on either path, so that only the
// rate decides.
const cpuPerByte = 10

// interval is one look: the scheduler's load, the bytes moved, and the calls served by the
// path that is not serving now (connections still moving over).
func (r *policyRun) interval(load schedLoad, bytes uint64, elsewhere uint64) {
	r.now += int64(lookInterval)
	iv := interval{dt: int64(lookInterval), cpu: int64(bytes) * cpuPerByte, bytes: bytes, ringCalls: 1000, pollerCalls: 1000}
	if r.p.ring.Load() {
		iv.pollerCalls = elsewhere
	} else {
		iv.ringCalls = elsewhere
	}
	r.p.decide(r.now, load, iv)
}

// startTrialOnThePoller runs the queueing that starts a trial, then the trial's side on the
// poller, moving bytes each interval.
func (r *policyRun) startTrialOnThePoller(bytes uint64) {
	r.t.Helper()
	for range ringStreak + trialSettle + trialMeasure {
		r.wantRing(false, "queueing, then the trial's side on the poller")
		r.interval(schedRingMayPay, bytes, 0)
	}
}

// ringMeasuredWins runs the ring's measured intervals, moving bytes each, and checks that the
// trial ended with the ring serving (why: what made it win).
func (r *policyRun) ringMeasuredWins(bytes uint64, why string) {
	r.t.Helper()
	for range trialMeasure {
		r.wantRing(true, "the ring measured")
		r.interval(schedRingMayPay, bytes, 0)
	}
	r.wantRing(true, why)
	if r.p.trial.running() {
		r.t.Fatal("the trial did not end")
	}
}

// ringWinsATrial runs the queueing that starts a trial, the poller's side, and a ring's side
// that moves 1.3 times the poller's bytes: the ring serves from then on.
func (r *policyRun) ringWinsATrial() {
	r.t.Helper()
	r.startTrialOnThePoller(1_000_000)
	for range trialSettle + trialMeasure {
		r.interval(schedRingMayPay, 1_300_000, 0)
	}
	r.wantRing(true, "the ring won")
}

// twoQuietIntervals runs two intervals without queueing, moving bytes each: the ring serves on
// after the first, and not after the second.
func (r *policyRun) twoQuietIntervals(bytes uint64) {
	r.t.Helper()
	r.interval(schedQuiet, bytes, 0)
	r.wantRing(true, "one quiet interval")
	r.interval(schedQuiet, bytes, 0)
	r.wantRing(false, "two quiet intervals")
}

func (r *policyRun) wantRing(want bool, when string) {
	r.t.Helper()
	if got := r.p.ring.Load(); got != want {
		r.t.Fatalf("%s: ring %v, want %v", when, got, want)
	}
	if r.p.metering.Load() != r.p.trial.running() {
		r.t.Fatalf("%s: metering %v with a trial running %v", when, r.p.metering.Load(), r.p.trial.running())
	}
}

// Under thousands of deeply pipelined connections a reader moves to the ring only at its next
// call, a round trip that can take a second: the trial waits until no call lands on the
// poller before it measures the ring, and so the ring that serves faster wins. (Waiting only
// half a second, the trial measured the ring while a tenth of the calls still went to the
// poller, at half the poller's rate, and sent the connections back: 10,000 connections 16
// deep echoing 4 KiB then made 0.6x the messages of the ring alone.)
func TestTrialWaitsForSlowMovesToTheRing(t *testing.T) {
	r := newPolicyRun(t)
	r.startTrialOnThePoller(1_000_000)
	r.wantRing(true, "the poller measured: the ring's turn")
	const moving = 15 // intervals of a second and a half in which calls still land on the poller
	for i := range moving {
		r.interval(schedRingMayPay, 400_000, 1_000)
		if r.p.trial.measured != 0 {
			t.Fatalf("the ring measured after %d intervals with calls on the poller", i+1)
		}
	}
	r.ringMeasuredWins(1_200_000, "the ring, once every connection had moved, moved 1.2x the bytes")
}

// Where goroutines queue and the ring, tried, moves more bytes a second than the poller, the
// ring serves until the queueing stops; Read and Write count only during the trial. The trial
// measures the poller that serves when it starts, after one unmeasured interval, then the
// ring, waiting out the intervals in which connections are still moving over; a ring that
// wins goes on serving, so the connections moved once.
func TestRingTriedAndKeptWhereItWins(t *testing.T) {
	r := newPolicyRun(t)
	r.interval(schedRingMayPay, 100_000, 0) // the load starting
	r.wantRing(false, "one interval of queueing")
	r.interval(schedRingMayPay, 100_000, 0)
	if !r.p.trial.running() {
		t.Fatal("two intervals of queueing: no trial")
	}
	r.wantRing(false, "the trial measures the poller first")
	r.interval(schedRingMayPay, 1_000_000, 0) // not measured
	for range trialMeasure {
		r.wantRing(false, "the poller measured")
		r.interval(schedRingMayPay, 1_000_000, 0)
	}
	r.wantRing(true, "the poller measured: the ring's turn")
	r.interval(schedRingMayPay, 100_000, 900) // moving over: not measured
	r.interval(schedRingMayPay, 200_000, 100) // still moving
	if !r.p.trial.running() || r.p.trial.measured != 0 {
		t.Fatalf("the trial measured intervals with calls the poller served in them (settled %d, measured %d)", r.p.trial.settled, r.p.trial.measured)
	}
	r.ringMeasuredWins(1_300_000, "the ring moved 1.3x the bytes")
	r.interval(schedBetween, 1_300_000, 0)
	r.twoQuietIntervals(1_300_000)
}

// Where the ring, tried, moves fewer bytes a second, the poller serves again; the ring is not
// tried again for firstBackoff, then twice that after the next loss; once the queueing stops,
// the losses are forgotten and the next queueing tries the ring at once.
func TestRingThatLosesIsTriedLessOften(t *testing.T) {
	r := newPolicyRun(t)
	// trialLost runs a trial's intervals, the ring moving 0.7x the poller's bytes.
	trialLost := func(when string) {
		t.Helper()
		r.wantRing(false, when+": the trial, on the poller")
		for range trialSettle + trialMeasure {
			r.interval(schedRingMayPay, 1_000_000, 0)
		}
		r.wantRing(true, when+": the ring's turn")
		for range trialSettle + trialMeasure {
			r.interval(schedRingMayPay, 700_000, 0)
		}
		r.wantRing(false, when+": the ring moved 0.7x the bytes")
		if r.p.trial.running() {
			t.Fatalf("%s: the trial did not end", when)
		}
	}
	// queueingFor runs queueing intervals on the poller for d and says whether a trial began.
	queueingFor := func(d time.Duration) bool {
		for end := r.now + int64(d); r.now < end; {
			r.interval(schedRingMayPay, 1_000_000, 0)
			if r.p.trial.running() {
				return true
			}
		}
		return false
	}
	if !queueingFor(ringStreak * lookInterval) {
		t.Fatal("queueing did not start a trial")
	}
	trialLost("first")
	if queueingFor(firstBackoff - lookInterval) {
		t.Fatal("tried again before firstBackoff")
	}
	if !queueingFor(2 * lookInterval) {
		t.Fatal("not tried again after firstBackoff")
	}
	trialLost("second")
	if queueingFor(2*firstBackoff - lookInterval) {
		t.Fatal("tried again before twice firstBackoff")
	}
	r.interval(schedQuiet, 10_000, 0)
	r.interval(schedQuiet, 10_000, 0)
	if !queueingFor(ringStreak * lookInterval) {
		t.Fatal("queueing after quiet did not start a trial at once")
	}
	trialLost("after the queueing stopped and came back")
}

// The ring serves better if it moved ringFaster times the bytes a second, or nearly as many at a
// much lower CPU per byte; at the same rate and cost the poller serves. The poller moving
// nothing leaves the scheduler's word.
func TestRingServesBetter(t *testing.T) {
	iv := func(bytes uint64, costPerByte float64) interval {
		return interval{dt: int64(3 * lookInterval), cpu: int64(float64(bytes) * costPerByte), bytes: bytes}
	}
	// pipelined: replies to pipelined requests, 16 writes for each read, 10,000 writes a second
	// (sampled: 3 intervals of pipelinedWrites).
	pipelined := func(i interval) interval {
		i.writes = 3 * pipelinedWrites
		i.reads = i.writes / 16
		return i
	}
	for _, c := range []struct {
		name         string
		ring, poller interval
		want         bool
	}{
		{"faster, costlier", iv(1_100_000, 12), iv(1_000_000, 10), true},
		{"slower, cheaper", iv(700_000, 5), iv(1_000_000, 10), false},
		{"as fast, as costly", iv(1_040_000, 9.5), iv(1_000_000, 10), false},
		{"a little slower, far cheaper", iv(900_000, 6), iv(1_000_000, 10), true},
		{"a little slower, a little cheaper", iv(900_000, 9), iv(1_000_000, 10), false},
		{"pipelined, as fast, a little cheaper", pipelined(iv(1_000_000, 9)), pipelined(iv(1_000_000, 10)), true},
		{"pipelined, at the same rate within the noise, as costly", pipelined(iv(980_000, 10)), pipelined(iv(1_000_000, 10)), true},
		{"pipelined, a little slower, as costly", pipelined(iv(900_000, 10)), pipelined(iv(1_000_000, 10)), false},
		{"pipelined and saturated, slower for as much less CPU", pipelined(iv(860_000, 10)), pipelined(iv(1_000_000, 10)), false},
		{"pipelined, as fast, costlier", pipelined(iv(1_000_000, 10.5)), pipelined(iv(1_000_000, 10)), false},
		{"pipelined, slower, cheaper", pipelined(iv(800_000, 8)), pipelined(iv(1_000_000, 10)), false},
		{"pipelined on the ring only, as fast, a little cheaper", pipelined(iv(1_000_000, 9)), iv(1_000_000, 10), false},
		{"nothing on the poller", iv(10, 1), iv(0, 0), true},
		{"nothing on the ring", iv(0, 0), iv(1_000_000, 10), false},
	} {
		if got := ringServesBetter(c.ring, c.poller); got != c.want {
			t.Errorf("%s: ringServesBetter %v, want %v", c.name, got, c.want)
		}
	}
}

// A ring that won is tried again after recheckAfter while the queueing lasts, and gives way to
// the poller if the poller now moves more.
func TestRingThatWonIsTriedAgain(t *testing.T) {
	r := newPolicyRun(t)
	r.ringWinsATrial()
	for end := r.now + int64(recheckAfter) - int64(lookInterval); r.now < end; {
		r.interval(schedRingMayPay, 1_300_000, 0)
		if r.p.trial.running() {
			t.Fatal("tried again before recheckAfter")
		}
	}
	r.interval(schedRingMayPay, 1_300_000, 0)
	r.interval(schedRingMayPay, 1_300_000, 0)
	if !r.p.trial.running() || !r.p.metering.Load() {
		t.Fatalf("not tried again after recheckAfter (trial %v, metering %v)", r.p.trial.running(), r.p.metering.Load())
	}
	for r.p.ring.Load() {
		r.interval(schedRingMayPay, 1_000_000, 0) // the load has changed: the ring moves less
	}
	for range trialSettle + trialMeasure {
		r.interval(schedRingMayPay, 1_300_000, 0)
	}
	r.wantRing(false, "the poller moved 1.3x the ring's bytes")
}

// An interval in which no call was served measures nothing: the trial waits through it. (The
// queueing of 10,000 connections arriving started a trial whose ring side then saw no call for
// most of a second, until the load began: it measured no bytes, and the ring lost by default.)
func TestTrialWaitsThroughIntervalsWithoutCalls(t *testing.T) {
	r := newPolicyRun(t)
	r.interval(schedRingMayPay, 0, 0)
	r.interval(schedRingMayPay, 0, 0)
	if !r.p.trial.running() {
		t.Fatal("two intervals of queueing: no trial")
	}
	idle := func() {
		r.now += int64(8 * lookInterval)
		r.p.decide(r.now, schedRingMayPay, interval{dt: int64(8 * lookInterval)})
	}
	for range 5 {
		idle()
	}
	if r.p.trial.phase != trialOnPoller || r.p.trial.settled != 0 || r.p.trial.measured != 0 {
		t.Fatalf("intervals without calls counted: phase %d, settled %d, measured %d", r.p.trial.phase, r.p.trial.settled, r.p.trial.measured)
	}
	r.interval(schedRingMayPay, 100_000, 0) // the load begins: not measured
	idle()
	for range trialMeasure {
		r.wantRing(false, "the poller measured")
		r.interval(schedRingMayPay, 1_000_000, 0)
	}
	r.wantRing(true, "the poller measured: the ring's turn")
	idle()
	r.interval(schedRingMayPay, 500_000, 900) // moving over: not measured
	for range trialMeasure {
		idle()
		r.wantRing(true, "the ring measured")
		r.interval(schedRingMayPay, 1_300_000, 0)
	}
	r.wantRing(true, "the ring moved 1.3x the bytes")
	if r.p.trial.running() {
		t.Fatal("the trial did not end")
	}
}

// A ring that keeps winning is tried again less often, each time twice as long after its win,
// up to lastRecheck: each trial moves every busy connection to the poller and back.
func TestRingThatKeepsWinningIsTriedLessOften(t *testing.T) {
	r := newPolicyRun(t)
	r.interval(schedRingMayPay, 1_000_000, 0)
	r.interval(schedRingMayPay, 1_000_000, 0)
	want := recheckAfter
	for round := range 6 {
		if !r.p.trial.running() {
			t.Fatalf("round %d: no trial", round)
		}
		for r.p.trial.running() {
			bytes := uint64(1_000_000)
			if r.p.ring.Load() {
				bytes = 1_300_000
			}
			r.interval(schedRingMayPay, bytes, 0)
		}
		r.wantRing(true, "the ring won")
		won := r.now
		for !r.p.trial.running() {
			r.interval(schedRingMayPay, 1_300_000, 0)
		}
		if gap := time.Duration(r.now - won); gap < want || gap > want+lookInterval {
			t.Fatalf("round %d: tried again %v after a win, want %v", round, gap, want)
		}
		want = min(2*want, lastRecheck)
	}
}

// A trial that the queueing outlives no longer (two quiet intervals in a row) is abandoned: the
// poller serves, as after a win, and the next queueing starts a trial afresh.
func TestTrialAbandonedWhenQueueingStops(t *testing.T) {
	r := newPolicyRun(t)
	r.startTrialOnThePoller(1_000_000)
	r.wantRing(true, "the trial, on the ring")
	r.twoQuietIntervals(0)
	if r.p.trial.running() {
		t.Fatal("the trial still runs")
	}
	r.interval(schedRingMayPay, 0, 0)
	r.interval(schedRingMayPay, 0, 0)
	if !r.p.trial.running() {
		t.Fatal("queueing again: no trial at once")
	}
}

// A ring that won and then serves a load that has eased (neither queueing nor quiet: a busy
// process whose waits the ring keeps down) is tried again after recheckAfter all the same, and
// the poller serves if it now moves as much: the ring is not kept unmeasured.
func TestRingServingAnEasedLoadIsTriedAgain(t *testing.T) {
	r := newPolicyRun(t)
	r.ringWinsATrial()
	for end := r.now + int64(recheckAfter); r.now < end; {
		r.interval(schedBetween, 500_000, 0)
	}
	r.interval(schedBetween, 500_000, 0)
	if !r.p.trial.running() {
		t.Fatal("a ring serving a load between was not tried again after recheckAfter")
	}
	for r.p.ring.Load() {
		r.interval(schedBetween, 500_000, 0)
	}
	for range trialSettle + trialMeasure {
		r.interval(schedBetween, 500_000, 0)
	}
	r.wantRing(false, "the poller moved as much at the same cost")
}

// An interval's load: the ring may pay once the connections write writesPerRead times per
// read, often enough, or goroutines wait ringOnWait, or ringOffWait while every processor is
// busy; quiet under ringOffWait, or with too few waits sampled to say, except while the ring
// serves a saturated process or a busy one; between otherwise.
func TestClassifyLoad(t *testing.T) {
	const many = 10 * ringMinWaits
	procs := int64(runtime.GOMAXPROCS(0))
	idle := interval{dt: int64(lookInterval)}
	saturated := interval{dt: int64(lookInterval), cpu: procs * int64(lookInterval)}
	busy := interval{dt: int64(lookInterval), reads: busyCalls / 2, writes: busyCalls / 2}
	pipelined := interval{dt: int64(lookInterval), reads: pipelinedWrites / writesPerRead, writes: pipelinedWrites}
	for _, c := range []struct {
		name   string
		iv     interval
		waits  uint64
		mean   time.Duration
		onRing bool
		want   schedLoad
	}{
		{"long waits", idle, many, ringOnWait, false, schedRingMayPay},
		{"long waits, saturated, on the ring", saturated, many, 2 * ringOnWait, true, schedRingMayPay},
		{"middling waits", busy, many, ringOnWait - 1, false, schedBetween},
		{"middling waits, on the ring", idle, many, ringOnWait - 1, true, schedBetween},
		{"middling waits, saturated", saturated, many, ringOffWait, false, schedRingMayPay},
		{"short waits", busy, many, ringOffWait - 1, false, schedQuiet},
		{"short waits, saturated (goroutines run at once)", saturated, many, ringOffWait / 4, false, schedQuiet},
		{"short waits, on the ring, little traffic", idle, many, ringOffWait - 1, true, schedQuiet},
		{"short waits, on the ring, saturated", saturated, many, ringOffWait / 4, true, schedBetween},
		{"short waits, on the ring, busy", busy, many, ringOffWait / 4, true, schedBetween},
		{"too few waits to say", saturated, ringMinWaits - 1, 10 * ringOnWait, false, schedQuiet},
		{"too few waits, on the ring, busy", busy, ringMinWaits - 1, 0, true, schedBetween},
		{"pipelined, no waits", pipelined, 0, 0, false, schedRingMayPay},
		{"pipelined, on the ring", pipelined, 0, 0, true, schedRingMayPay},
		{"fewer writes per read", interval{dt: int64(lookInterval), reads: pipelinedWrites, writes: pipelinedWrites}, 0, 0, false, schedQuiet},
		{"too few writes", interval{dt: int64(lookInterval), reads: 1, writes: pipelinedWrites - 1}, 0, 0, false, schedQuiet},
		{"as many writes across an idle spell", interval{dt: int64(10 * lookInterval), reads: 1, writes: pipelinedWrites}, 0, 0, false, schedQuiet},
		{"as many calls across an idle spell, on the ring", interval{dt: int64(10 * lookInterval), reads: busyCalls / 2, writes: busyCalls / 2}, many, ringOffWait / 4, true, schedQuiet},
	} {
		if got := classifyLoad(c.iv, c.waits, c.mean, c.onRing); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// A process is saturated when it used saturatedShare of its processors' time or more.
func TestIntervalSaturated(t *testing.T) {
	procs := int64(runtime.GOMAXPROCS(0))
	dt := int64(lookInterval)
	for _, c := range []struct {
		cpu  int64
		want bool
	}{
		{procs * dt, true},
		{int64(saturatedShare*float64(procs*dt)) + 1, true},
		{int64(saturatedShare*float64(procs*dt)) - int64(time.Millisecond), false},
		{0, false},
	} {
		if got := (interval{dt: dt, cpu: c.cpu}).saturated(); got != c.want {
			t.Errorf("CPU %v over %v on %d processors: saturated %v, want %v", time.Duration(c.cpu), time.Duration(dt), procs, got, c.want)
		}
	}
	if (interval{}).saturated() {
		t.Error("an empty interval is saturated")
	}
}

// A connection's Reads and Writes reach the policy's meter every callSample-th call that moved
// bytes, on every path: a reply written in 16 pieces for each request read is counted as 16
// writes per read, and a timed-out Read (net/http aborts one per request) as none.
func TestMeterSeesWritesPerRead(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ours, peer := connPair(t)
		reads, writes := paths.meter.reads.Load(), paths.meter.writes.Load()
		const requests, pieces = 4 * callSample, 16
		request, piece := []byte("request"), []byte("piece")
		go func() {
			for range requests {
				peer.Write(request)
				if _, err := io.ReadFull(peer, make([]byte, pieces*len(piece))); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, len(request))
		for range requests {
			if _, err := io.ReadFull(ours, buf); err != nil {
				t.Fatal(err)
			}
			ours.SetReadDeadline(time.Now().Add(-time.Second))
			if _, err := ours.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past the deadline: %v", err)
			}
			ours.SetReadDeadline(time.Time{})
			for range pieces {
				if _, err := ours.Write(piece); err != nil {
					t.Fatal(err)
				}
			}
		}
		gotReads, gotWrites := paths.meter.reads.Load()-reads, paths.meter.writes.Load()-writes
		if gotWrites != requests*pieces/callSample || gotReads > requests/callSample+1 || gotReads == 0 {
			t.Fatalf("meter counted %d reads and %d writes (in %d calls); want %d writes and about %d reads",
				gotReads, gotWrites, callSample, requests*pieces/callSample, requests/callSample)
		}
	})
}

// Connections that run in step (opened together, each making a call at the same moments) are
// sampled evenly over time: their counts start at random, so their sampled calls do not all
// fall within one interval, leaving the fifteen around it without any. (In step, 256
// net/http connections 16 deep showed no sampled read for ten intervals and then 229 in one:
// a trial's three intervals said "pipelined" or not by the phase it fell in.)
func TestConnectionsInStepAreSampledEvenly(t *testing.T) {
	const conns = 256
	cs := make([]*Conn, conns)
	for i := range cs {
		cs[i] = newConn(&engine{}, nil)
	}
	var sampled atomic.Uint64
	total := uint64(0)
	for round := range callSample - 1 {
		for _, c := range cs {
			countCall(1, false, &c.reads, &sampled)
		}
		n := sampled.Swap(0)
		total += n
		if n > 3*conns/callSample {
			t.Fatalf("round %d: %d of %d connections' calls sampled at once; want about %d", round, n, conns, conns/callSample)
		}
	}
	if want := uint64((callSample - 1) * conns / callSample); total < want/2 {
		t.Fatalf("%d calls sampled in %d rounds of %d connections; want about %d", total, callSample-1, conns, want)
	}
}
