package listener

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// The ring's trial (see pathPolicy): a few intervals on the ring against as many on the poller,
// compared by the bytes the connections moved per second and by the process's CPU per byte.
const (
	// The first trialSettle intervals of each side go unmeasured while connections move over,
	// more (up to trialMaxSettle) while the last one still had calls served by the other path:
	// a reader moves over at its next call, which under thousands of deeply pipelined
	// connections comes up to a round trip of a second or more later; then trialMeasure are
	// measured.
	trialSettle    = 1
	trialMaxSettle = 20
	trialMeasure   = 3
	// A ring that lost is tried again after firstBackoff, then twice as long after each loss,
	// up to lastBackoff, until the queueing stops.
	firstBackoff = 2 * time.Second
	lastBackoff  = 64 * time.Second
	// A ring that won is tried again after recheckAfter while the queueing lasts, then twice
	// as long after each further win, up to lastRecheck: a load changes, and one trial's
	// verdict can be the noise's, but a trial moves every busy connection to the poller and
	// back, which at thousands of connections costs the better part of a second.
	recheckAfter = 30 * time.Second
	lastRecheck  = 8 * time.Minute
	// The ring wins when it moves ringFaster times the bytes a second the poller does, or, at
	// ringNotSlower times them or more, spends ringCheaper times its CPU per byte or less: a
	// saving that large is the ring's batching, where a rate measured over a few intervals on
	// two CPUs shared with the load moves by a fifth. Where the connections are pipelined and
	// the ring moved the same bytes a second (ringSameRate of them or more: an offered load both
	// keep up with), the ring need only be no dearer (ringNoDearer): it sends the replies a
	// connection wrote meanwhile together, where the poller makes a system call and sends a
	// segment for each, so at the same rate it answers sooner. At a lower rate it would not.
	ringFaster    = 1.05
	ringNotSlower = 0.85
	ringCheaper   = 0.8
	ringSameRate  = 0.97
	ringNoDearer  = 1.0
	// saturatedShare of its processors' time is a process at its capacity.
	saturatedShare = 0.9
	// A connection's every callSample-th Read and Write that moved bytes is counted, from a
	// random start (a connection that makes k < callSample of them is seen with a chance of k
	// in callSample). Connections that wrote writesPerRead times for each read,
	// pipelinedWrites times callSample times per lookInterval (about 10,000 writes a second),
	// are pipelined.
	callSample      = 16
	writesPerRead   = 4
	pipelinedWrites = 64
	// busyCalls times callSample reads and writes per lookInterval (about 10,000 a second)
	// keep a ring serving whatever the waits.
	busyCalls = 64
)

// A connection counts its calls in a byte, which wraps at 256: callSample must divide it for
// every callSample-th call to be counted.
var _ [0]struct{} = [256 % callSample]struct{}{}

// interval is what one look's interval held.
type interval struct {
	dt, cpu                int64  // its length and the process's CPU time in it, in nanoseconds
	bytes                  uint64 // what Read and Write moved, while a trial runs
	ringCalls, pollerCalls uint64 // Reads and Writes served on each path, while a trial runs
	reads, writes          uint64 // Reads and Writes made, in callSample calls of a connection
}

func (a *interval) add(b interval) {
	a.dt += b.dt
	a.cpu += b.cpu
	a.bytes += b.bytes
	a.ringCalls += b.ringCalls
	a.pollerCalls += b.pollerCalls
	a.reads += b.reads
	a.writes += b.writes
}

// since is what the counters a held more than at b.
func (a interval) since(b interval) interval {
	return interval{dt: a.dt - b.dt, cpu: a.cpu - b.cpu, bytes: a.bytes - b.bytes,
		ringCalls: a.ringCalls - b.ringCalls, pollerCalls: a.pollerCalls - b.pollerCalls,
		reads: a.reads - b.reads, writes: a.writes - b.writes}
}

// saturated reports whether the process kept its processors busy through the interval: its
// threads used saturatedShare of GOMAXPROCS processors' time or more (threads in a system call
// without a P count too, so this can say busy a little early).
func (a interval) saturated() bool {
	return a.dt > 0 && float64(a.cpu) >= saturatedShare*float64(a.dt)*float64(runtime.GOMAXPROCS(0))
}

// busy reports whether the connections made reads and writes that moved bytes at busyCalls
// (sampled) per lookInterval or more. A rate, since an interval lasts until the first call
// after it is due: across an idle spell, a few calls must not look busy.
func (a interval) busy() bool { return a.atRate(a.reads+a.writes, busyCalls) }

// pipelined reports whether the connections wrote writesPerRead times or more for each read,
// at pipelinedWrites (sampled) per lookInterval or more: replies to pipelined requests, or
// replies written in pieces. The poller makes a system call for each write; the ring sends
// what a connection wrote meanwhile in one.
func (a interval) pipelined() bool {
	return a.atRate(a.writes, pipelinedWrites) && a.writes >= writesPerRead*a.reads
}

// atRate reports whether n over the interval is at least perLook per lookInterval.
func (a interval) atRate(n, perLook uint64) bool {
	return a.dt > 0 && float64(n)*float64(lookInterval) >= float64(perLook)*float64(a.dt)
}

// meter reads what moved since its last reading. (The first reading spans the time since the
// policy's start; no trial runs then to use it.)
type meter struct {
	moved                  atomic.Uint64
	ringCalls, pollerCalls atomic.Uint64
	reads, writes          atomic.Uint64 // always counted, in callSample calls of a connection
	last                   interval      // the counters (and time) at the last reading, dt as a time
}

func (m *meter) interval(now int64) interval {
	cur := interval{dt: now, cpu: processCPU(), bytes: m.moved.Load(), ringCalls: m.ringCalls.Load(),
		pollerCalls: m.pollerCalls.Load(), reads: m.reads.Load(), writes: m.writes.Load()}
	iv := cur.since(m.last)
	m.last = cur
	return iv
}

// processCPU is the user and system time of every thread of the process, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// trialPhase is where a trial is.
type trialPhase uint8

const (
	noTrial       trialPhase = iota
	trialOnRing              // the ring serves, measured
	trialOnPoller            // the poller serves, measured
)

// other is the phase on the other path.
func (ph trialPhase) other() trialPhase {
	if ph == trialOnRing {
		return trialOnPoller
	}
	return trialOnRing
}

// trial is the ring's trial, and what the trials before it left. The path serving when it
// starts is measured first, then the other, so that the connections move once for a trial
// that keeps the path it started on, and no more than twice for one that ends on the other;
// each side's first intervals, and every interval in which nothing was served (the queueing
// that starts a trial often comes with the load's connections arriving, before their first
// byte), go unmeasured.
type trial struct {
	phase        trialPhase
	first        trialPhase // the phase the trial started in
	settled      int        // intervals of the phase that went unmeasured
	measured     int        // intervals of the phase measured
	ring, poller interval
	backoff      time.Duration // after the last loss; 0 when none
	recheck      time.Duration // after the last win; 0 when none
	notBefore    int64         // on the policy's clock
}

func (t *trial) running() bool           { return t.phase != noTrial }
func (t *trial) mayStart(now int64) bool { return now >= t.notBefore }
func (t *trial) forget()                 { t.backoff, t.recheck, t.notBefore = 0, 0, 0 }

// abandon ends a trial without a verdict, and forgets what the trials before it left.
func (t *trial) abandon() { *t = trial{} }

// start starts a trial on the path serving now.
func (t *trial) start(onRing bool) {
	phase := trialOnPoller
	if onRing {
		phase = trialOnRing
	}
	*t = trial{phase: phase, first: phase, backoff: t.backoff, recheck: t.recheck, notBefore: t.notBefore}
}

// step takes one interval of the trial. It returns whether the ring serves from now on, and
// whether the trial has ended (the ring then serves if it won).
func (t *trial) step(now int64, iv interval) (ring, ended bool) {
	onRing := t.phase == trialOnRing
	if iv.ringCalls+iv.pollerCalls == 0 {
		// Nothing was served (the load paused, or has not begun: the queueing that started
		// the trial can be its connections arriving): no measure of either path, and no sign
		// that connections are still moving over.
		return onRing, false
	}
	elsewhere := iv.ringCalls // calls the other path served
	if onRing {
		elsewhere = iv.pollerCalls
	}
	if t.measured == 0 && (t.settled < trialSettle || elsewhere > 0 && t.settled < trialMaxSettle) {
		t.settled++ // connections moving over
		return onRing, false
	}
	measured := &t.poller
	if onRing {
		measured = &t.ring
	}
	measured.add(iv)
	if t.measured++; t.measured < trialMeasure {
		return onRing, false
	}
	if t.phase == t.first {
		t.phase, t.settled, t.measured = t.phase.other(), 0, 0
		return !onRing, false
	}
	ring = ringServesBetter(t.ring, t.poller)
	t.phase = noTrial
	if ring {
		t.recheck = min(max(2*t.recheck, recheckAfter), lastRecheck)
		t.backoff, t.notBefore = 0, now+int64(t.recheck)
	} else {
		t.recheck = 0
		t.backoff = min(max(2*t.backoff, firstBackoff), lastBackoff)
		t.notBefore = now + int64(t.backoff)
	}
	return ring, true
}

// ringServesBetter compares what the ring did (ring) with what the poller did (poller). At the
// same rate and about the same cost (an offered load both keep up with) the poller serves: its
// one wake-up a message answers sooner. Unless the connections were pipelined on the poller:
// then at the same rate the ring's one send for many replies answers sooner, and it serves
// unless it costs more.
func ringServesBetter(ring, poller interval) bool {
	if poller.bytes == 0 || poller.dt <= 0 {
		return true // the poller moved nothing to compare with: the scheduler's word stands
	}
	if ring.bytes == 0 || ring.dt <= 0 {
		return false
	}
	rate := (float64(ring.bytes) / float64(ring.dt)) / (float64(poller.bytes) / float64(poller.dt))
	cost := (float64(ring.cpu) / float64(ring.bytes)) / (float64(poller.cpu) / float64(poller.bytes))
	cheapEnough := ringCheaper
	if poller.pipelined() && rate >= ringSameRate {
		cheapEnough = ringNoDearer
	}
	return rate >= ringFaster || rate >= ringNotSlower && cost <= cheapEnough
}
