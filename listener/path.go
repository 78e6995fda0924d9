package listener

import (
	"math"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/ringset"
)

// Which path serves connections (see Conn): the ring while goroutines queue for processors and
// the ring, tried, serves better than the poller; the poller otherwise.
//
// One connection's round trip on the ring costs two wake-ups where the poller's costs one (the
// ring's thread wakes in io_uring_enter, then the goroutine it readies waits for a processor),
// so while processors are idle the poller answers sooner, and spends no more. Once goroutines
// queue, the wake-ups are paid anyway and the ring's batching can win: one io_uring_enter
// carries many connections' sends and receives, where the poller makes a system call for each.
//
// The runtime measures the queueing itself: how long each goroutine made runnable waited before
// it ran (/sched/latencies:seconds). pathPolicy looks at it every lookInterval, from whichever
// Read or Write comes first after the interval: a timer marks the look due, so that the calls
// read no clock, and only a look arms it again: an idle program wakes for it once, not every
// interval. The mean wait of an interval swings widely with the operating system's own
// scheduling, so the answer changes only after ringStreak intervals in a row agree: the ring
// once their waits averaged ringOnWait or more (ringOffWait or more while the process keeps
// every processor busy), the poller once they averaged under ringOffWait (unless the ring
// serves a saturated or busy process: classifyLoad). A program at half its capacity now and
// then has an interval above ringOnWait, rarely two in a row; the gap between the thresholds
// keeps the answer from flapping.
//
// Queueing is one sign that the ring may pay; connections that write many times for each read
// (replies to pipelined requests) are another, whatever the waits: the poller makes a system
// call for each write, the ring sends what a connection wrote meanwhile in one.
//
// Queueing says the ring may win, not that it will: where each message is one small read and
// one small write, too few share an io_uring_enter to pay for its wake-ups, and the ring serves
// fewer of them. So the ring is tried first (trial.go): over a few intervals on the path
// serving and as many on the other, it keeps serving only if the connections moved more bytes
// a second on it than on the poller, or nearly as many for far less CPU; a ring that lost is
// not tried again for a while, longer after each loss, and one that won is tried again now and
// then, less often after each win.
type pathPolicy struct {
	ring     atomic.Bool
	metering atomic.Bool // Read and Write count their bytes and calls: while a trial runs
	lookDue  atomic.Bool // the next Read or Write looks: set lookInterval after the last look
	looking  sync.Mutex  // the one looking; the others go on with the current answer
	lookDone *time.Timer // sets lookDue; each look arms it again
	samples  []metrics.Sample
	previous []uint64 // the latency histogram's counts at the last look
	streak   int      // intervals in a row that voted against the current answer
	quiet    int      // intervals in a row without queueing, on the poller or in a trial
	meter    meter
	trial    trial
}

const (
	lookInterval = 100 * time.Millisecond
	ringOnWait   = 300 * time.Microsecond
	ringOffWait  = 100 * time.Microsecond
	ringStreak   = 2
	// ringMinWaits: fewer sampled waits than this in an interval are too few to say; they vote
	// for the poller. (The runtime samples only some of a goroutine's wake-ups.)
	ringMinWaits = 64
)

// The policy is the process's: the runtime's queueing is the whole program's.
var paths = newPathPolicy()

func newPathPolicy() *pathPolicy {
	p := &pathPolicy{samples: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	p.lookDue.Store(true)
	p.lookDone = time.AfterFunc(lookInterval, func() { p.lookDue.Store(true) })
	p.lookDone.Stop()
	return p
}

// start is the origin of the policy's clock.
var start = time.Now()

// Forcing a path, for tests: every path and every switch between them can be exercised.
const (
	pathsAuto      int32 = iota
	pathsPoller          // the poller serves everything
	pathsRing            // the ring serves everything
	pathsAlternate       // the answer alternates from one call to the next
)

var forcePaths atomic.Int32
var alternate atomic.Uint32

// onRing reports whether the ring serves the I/O about to be made.
func (p *pathPolicy) onRing() bool {
	switch forcePaths.Load() {
	case pathsPoller:
		return false
	case pathsRing:
		return true
	case pathsAlternate:
		return alternate.Add(1)%2 == 0
	}
	if p.lookDue.Load() && p.looking.TryLock() {
		if p.lookDue.Load() { // not looked at since the lock was tried
			p.lookDue.Store(false)
			p.look(int64(time.Since(start)))
			p.lookDone.Reset(lookInterval)
		}
		p.looking.Unlock()
	}
	return p.ring.Load()
}

// count adds a Read or Write, served on the ring or not, and the n bytes it moved to what the
// policy measures, while it measures.
func (p *pathPolicy) count(n int, onRing bool) {
	if !p.metering.Load() {
		return
	}
	if n > 0 {
		p.meter.moved.Add(uint64(n))
	}
	if onRing {
		p.meter.ringCalls.Add(1)
	} else {
		p.meter.pollerCalls.Add(1)
	}
}

// schedLoad is what an interval says: the scheduler's waits and what the connections did.
type schedLoad uint8

const (
	schedQuiet      schedLoad = iota // waits under ringOffWait, or too few to say
	schedBetween                     // neither
	schedRingMayPay                  // queueing or pipelining: the ring may serve better
)

// look reads the scheduler's latency histogram and the meter, and decides.
func (p *pathPolicy) look(now int64) {
	iv := p.meter.interval(now)
	p.decide(now, p.schedLoad(iv), iv)
}

// schedLoad is the load the scheduler's waits since the last look show, over iv.
func (p *pathPolicy) schedLoad(iv interval) schedLoad {
	metrics.Read(p.samples)
	if p.samples[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedQuiet // a runtime without the metric: the poller serves, as net would
	}
	h := p.samples[0].Value.Float64Histogram()
	if len(p.previous) != len(h.Counts) {
		p.previous = append(p.previous[:0], h.Counts...)
		return schedQuiet
	}
	var waits uint64
	var total float64
	for i, c := range h.Counts {
		d := c - p.previous[i]
		p.previous[i] = c
		if d == 0 {
			continue
		}
		waits += d
		total += float64(d) * bucketMiddle(h.Buckets[i], h.Buckets[i+1])
	}
	var mean time.Duration
	if waits > 0 {
		mean = time.Duration(total / float64(waits) * float64(time.Second))
	}
	return classifyLoad(iv, waits, mean, p.ring.Load())
}

// classifyLoad is what one interval (iv) says, in which waits of the goroutines made runnable
// were sampled and waited meanWait on average, the ring serving or not:
//   - the ring may pay: the connections were pipelined (many writes for each read, which the
//     ring sends together); or goroutines waited ringOnWait, or ringOffWait while every
//     processor was busy (a saturated program on one processor queues less than one on two,
//     and saturation is what the ring's batching relieves).
//   - quiet, the poller serves: waits under ringOffWait, or too few waits to say; but not while
//     the ring serves a saturated process or a busy one (iv.busy): the ring's batching brings
//     the waits down, and the load it serves is still there.
func classifyLoad(iv interval, waits uint64, meanWait time.Duration, onRing bool) schedLoad {
	saturated := iv.saturated()
	queueing := waits >= ringMinWaits &&
		(meanWait >= ringOnWait || meanWait >= ringOffWait && saturated)
	switch {
	case iv.pipelined(), queueing:
		return schedRingMayPay
	case onRing && (saturated || iv.busy()):
		return schedBetween
	case waits < ringMinWaits || meanWait < ringOffWait:
		return schedQuiet
	}
	return schedBetween
}

// decide moves the answer on from one interval: the scheduler's load over it, and what the
// connections moved and the process spent (iv).
func (p *pathPolicy) decide(now int64, load schedLoad, iv interval) {
	switch {
	case p.trial.running():
		if load != schedQuiet {
			p.quiet = 0
		} else if p.quiet++; p.quiet >= ringStreak {
			// The queueing stopped before the trial could say (it waits through intervals
			// in which nothing was served): the poller serves, as once the queueing stops
			// after a win, and what the trials learnt is forgotten.
			p.trial.abandon()
			p.endTrial(false)
			return
		}
		if ring, ended := p.trial.step(now, iv); ended {
			p.endTrial(ring)
		} else {
			p.ring.Store(ring)
		}
	case p.ring.Load():
		// Serving on the ring: back to the poller once the load is quiet; tried again from
		// time to time while it is not, whether it still says the ring may pay or has eased
		// to a load between, where the poller may answer sooner.
		if load != schedQuiet {
			p.streak = 0
			if p.trial.mayStart(now) {
				p.startTrial()
			}
			return
		}
		if p.streak++; p.streak >= ringStreak {
			p.ring.Store(false)
			p.streak = 0
			p.trial.forget()
		}
	default:
		if load != schedRingMayPay {
			p.streak = 0
			if load == schedQuiet {
				if p.quiet++; p.quiet >= ringStreak {
					p.trial.forget() // what the trials learnt was of a load that has gone
				}
			}
			return
		}
		p.quiet = 0
		if p.streak++; p.streak >= ringStreak && p.trial.mayStart(now) {
			p.startTrial()
			p.streak = 0
		}
	}
}

// startTrial starts the ring's trial, on the path serving now, and has Read and Write count for
// it. The trial's first interval goes unmeasured, so what they counted before does not matter.
func (p *pathPolicy) startTrial() {
	p.trial.start(p.ring.Load())
	p.metering.Store(true)
}

// endTrial has the ring serve or not, as a trial ended, stops the metering, and starts the
// answer's streaks afresh.
func (p *pathPolicy) endTrial(ring bool) {
	p.ring.Store(ring)
	p.metering.Store(false)
	p.streak, p.quiet = 0, 0
}

// bucketMiddle is a histogram bucket's middle, in seconds; the open-ended first and last
// buckets count as their finite edge.
func bucketMiddle(lo, hi float64) float64 {
	if math.IsInf(lo, -1) {
		lo = 0
	}
	if math.IsInf(hi, 1) {
		return lo
	}
	return (lo + hi) / 2
}

// adopt gives the connection a side on a loop the first time the ring is to serve it, and
// returns it; nil when the ring cannot take it (the loops have stopped, the table or the
// descriptors ran out), and the poller serves it from then on, and while another of the
// connection's goroutines is adopting it: this call goes on with the poller.
func (lc *Conn) adopt() *ringConn {
	if r := lc.ringSide(); r != nil {
		return r
	}
	for {
		s := lc.shut.Load()
		if s&(closedBit|adoptedBit) != 0 {
			return nil
		}
		if lc.shut.CompareAndSwap(s, s|adoptedBit) {
			break
		}
	}
	l := lc.ownLink()
	r := newRingConn(lc, l.eng, l.eng.pick())
	r.rdl.setKept(&l.rdlAt)
	r.wdl.setKept(&l.wdlAt)
	done := make(chan error, 1)
	fd, err := lc.dupFd()
	if err == nil {
		err = l.eng.set.Adopt(r.loop, fd, false, ringset.Opening{
			Prepare:      r.attach,
			Opened:       func(_ *conn.Conn, err error) { done <- err },
			ReceiveLater: true, // the poller may still be reading
		})
	}
	if err == nil {
		err = <-done
	}
	if err != nil {
		return nil
	}
	l.ring.Store(r)
	// A deadline set or a Close made before the store found no ring side and left it to this.
	r.rdl.setKept(&l.rdlAt)
	r.wdl.setKept(&l.wdlAt)
	if lc.isShut(closedBit) {
		r.close()
	}
	return r
}

// dupFd returns a duplicate of the connection's descriptor, for the ring to hold.
func (lc *Conn) dupFd() (int, error) {
	if s, ok := lc.nc.(*socket); ok {
		return s.dupFd("dup")
	}
	return fdbridge.Dup(lc.nc)
}

// retireFile takes an accepted socket's File out of Go's netpoller (socket_file.go), now that
// the ring serves the reads; under rmu. A poller Read or Write brings it back.
func (lc *Conn) retireFile() {
	if s, ok := lc.nc.(*socket); ok {
		lc.fileDeadlinesEager() // a revived File takes the deadlines kept, and then each as it is set
		s.retire(lc.link.Load().deadlines)
	}
}

// startRingReads moves the reads onto the ring: the loop starts receiving. false when the ring
// cannot take the connection.
func (lc *Conn) startRingReads() bool {
	r := lc.adopt()
	if r == nil {
		return false
	}
	r.post(r.startReceivingFn)
	return true
}
