package ringset

import (
	"time"

	"github.com/uringnet/uringnet/conn"
	"golang.org/x/sys/unix"
)

// Rebalance says how the rebalancer spreads load over a set's loops. A loop's load is the CPU
// time its thread used in the last interval (io_uring's work for its sockets included, since
// that runs in the thread's io_uring_enter): what the loop is busy with, unlike a count of
// connections, and unlike the bytes it moved not fooled by a loop that serves less only
// because it got less CPU. Each interval the rebalancer compares the loops, on averages that
// weigh the last interval as much as all before it; a loop whose load, in CPU time and in
// bytes both, stayed above the mean by more than Threshold for Settle intervals in a row
// sheds its excess share: it moves connections, chosen by the bytes each moved in the last
// interval, to the loops below the mean, each receiving about its shortfall. A connection
// that moved does not move again for Cooldown intervals, and a loop that shed is judged again
// only on fresh measurements, so that connections do not bounce.
type Rebalance struct {
	Interval  time.Duration // how often loads are compared (default 250 ms)
	Threshold float64       // overloaded above mean×(1+Threshold) (default 0.5)
	Settle    int           // intervals in a row a loop must stay overloaded (default 3)
	Cooldown  int           // intervals a moved connection stays put (default 8)
	// MinBytes is the least traffic per interval, over all loops, worth balancing (default
	// 64 KiB): an idle set moves nothing.
	MinBytes uint64
}

func (r Rebalance) withDefaults() Rebalance {
	if r.Interval <= 0 {
		r.Interval = 250 * time.Millisecond
	}
	if r.Threshold <= 0 {
		r.Threshold = 0.5
	}
	if r.Settle <= 0 {
		r.Settle = 3
	}
	if r.Cooldown <= 0 {
		r.Cooldown = 8
	}
	if r.MinBytes == 0 {
		r.MinBytes = 64 << 10
	}
	return r
}

// shedPlan is what an overloaded loop is asked to move: to each target, connections whose
// traffic of the last interval adds up to about share of the loop's traffic in it. A share,
// not bytes: the loop's averaged traffic lags its last interval's while the load grows, and
// bytes planned from the average would shed too little of it.
type shedPlan struct {
	to    *loop
	share float64
}

// rebalancer is the set's goroutine that compares the loops' loads.
type rebalancer struct {
	s       *Set
	cfg     Rebalance
	bytes   []uint64  // each loop's traffic count at the previous interval
	cpu     []int64   // each loop thread's CPU time at the previous interval
	avgB    []float64 // each loop's bytes per interval, averaged
	avgCPU  []float64 // each loop's CPU time per interval, averaged
	read    bool      // the counts above are a reading, not zeros
	started bool      // the averages hold at least one interval of the present load
	over    int       // the loop that was overloaded at the previous interval, or -1
	streak  int       // intervals in a row it was
	stop    chan struct{}
	exit    chan struct{}
}

func startRebalancer(s *Set) *rebalancer {
	n := len(s.loops)
	r := &rebalancer{s: s, cfg: *s.cfg.Rebalance, bytes: make([]uint64, n), cpu: make([]int64, n),
		avgB: make([]float64, n), avgCPU: make([]float64, n), over: -1,
		stop: make(chan struct{}), exit: make(chan struct{})}
	for _, l := range s.loops {
		l.Post(l.measure) // the first interval's baseline
	}
	go r.run()
	return r
}

func (r *rebalancer) run() {
	defer close(r.exit)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.interval()
		}
	}
}

// close stops the rebalancer and waits for it.
func (r *rebalancer) close() {
	close(r.stop)
	<-r.exit
}

// interval reads what each loop measured at the end of the previous interval and asks it to
// measure again; when one loop has stayed overloaded long enough, it asks it to shed.
func (r *rebalancer) interval() {
	s := r.s
	epoch := s.epoch.Add(1)
	sumBytes, baseline := r.collect()
	if baseline || sumBytes < r.cfg.MinBytes || len(s.loops) < 2 {
		// Idle: what the loops did before the load (starting up, accepting) says nothing of
		// it, so the averages start afresh with it.
		r.started, r.over, r.streak = false, -1, 0
		return
	}
	if !r.started {
		r.started, r.over, r.streak = true, -1, 0 // one interval is too few to judge on
		return
	}
	busiest, mean, ok := r.overloaded()
	if !ok {
		r.over, r.streak = -1, 0
		return
	}
	if busiest != r.over {
		r.over, r.streak = busiest, 0
	}
	if r.streak++; r.streak < r.cfg.Settle {
		return
	}
	plan := r.plan(busiest, mean)
	from := s.loops[busiest]
	from.Post(func() { from.shed(plan, epoch) })
	r.over, r.streak, r.started = -1, 0, false // judged again only on measurements after it shed
}

// collect folds what each loop measured since the last interval into its running averages
// (the last interval weighing as much as all before), asks each to measure again, and
// returns the bytes all loops moved in the interval; on its first call there is no interval
// yet, only a baseline.
func (r *rebalancer) collect() (sumBytes uint64, baseline bool) {
	baseline, r.read = !r.read, true
	for i, l := range r.s.loops {
		b, c := l.trafficSeen.Load(), l.cpuSeen.Load()
		db, dc := b-r.bytes[i], float64(c-r.cpu[i])
		r.bytes[i], r.cpu[i] = b, c
		sumBytes += db
		if r.started {
			r.avgB[i], r.avgCPU[i] = (r.avgB[i]+float64(db))/2, (r.avgCPU[i]+dc)/2
		} else {
			r.avgB[i], r.avgCPU[i] = float64(db), dc
		}
		l.Post(l.measure) // a stopped loop refuses, and has nothing to measure
	}
	return sumBytes, baseline
}

// overloaded returns the loop with the most CPU time and the mean CPU time, and whether that
// loop is above the mean by more than Threshold in CPU time and in bytes both.
func (r *rebalancer) overloaded() (busiest int, mean float64, ok bool) {
	cpu, bytes := r.avgCPU, r.avgB
	n := float64(len(cpu))
	meanB := 0.0
	for i := range cpu {
		mean += cpu[i] / n
		meanB += bytes[i] / n
	}
	for i := range cpu {
		if cpu[i] > cpu[busiest] {
			busiest = i
		}
	}
	ok = cpu[busiest] > mean*(1+r.cfg.Threshold) && bytes[busiest] > meanB*(1+r.cfg.Threshold)
	return busiest, mean, ok
}

// plan is what the busiest loop sheds: the share of its traffic by which its CPU exceeds the
// mean, each loop below the mean taking a part in proportion to its shortfall.
func (r *rebalancer) plan(busiest int, mean float64) []shedPlan {
	cpu := r.avgCPU
	shed := (cpu[busiest] - mean) / cpu[busiest]
	var shortfall float64
	for i := range cpu {
		shortfall += max(mean-cpu[i], 0)
	}
	var plan []shedPlan
	for i := range cpu {
		if cpu[i] < mean {
			plan = append(plan, shedPlan{to: r.s.loops[i], share: shed * (mean - cpu[i]) / shortfall})
		}
	}
	return plan
}

// measure, on the loop, publishes its traffic count and its thread's CPU time for the
// rebalancer, and ends a measuring interval for each connection: its traffic since the
// previous one becomes its recent traffic.
func (l *loop) measure() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err == nil {
		l.cpuSeen.Store(ts.Nano())
	}
	l.trafficSeen.Store(l.traffic)
	for _, c := range l.conns {
		if c != nil {
			c.Traffic.EndInterval()
		}
	}
}

// shed moves connections to the plan's targets, each until its share is met, skipping any
// connection busier than what is left of a share (it would overshoot and bounce back) and any
// that moved within the cooldown.
func (l *loop) shed(plan []shedPlan, epoch uint32) {
	var recent uint64
	for _, c := range l.conns {
		if c != nil {
			recent += uint64(c.Traffic.Recent)
		}
	}
	left := make([]uint64, len(plan)) // bytes each target still takes
	for i, p := range plan {
		left[i] = uint64(p.share * float64(recent))
	}
	cooldown := uint32(l.set.cfg.Rebalance.Cooldown)
	for _, c := range l.conns {
		if c == nil || c.State() != conn.Open || c.Ops.Moving || c.Traffic.Recent == 0 ||
			(c.Traffic.MovedAt != 0 && epoch-c.Traffic.MovedAt < cooldown) {
			continue
		}
		for i, p := range plan {
			if uint64(c.Traffic.Recent) <= left[i] {
				left[i] -= uint64(c.Traffic.Recent)
				l.set.moved.Add(1)
				l.beginMove(c, p.to, nil)
				break
			}
		}
	}
}

// countTraffic adds n bytes received or sent to c's and the loop's counters.
func (l *loop) countTraffic(c *conn.Conn, n int32) {
	c.Traffic.Bytes += uint64(n)
	l.traffic += uint64(n)
}
