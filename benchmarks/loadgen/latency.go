package loadgen

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Summary is a latency distribution's percentiles, in microseconds.
type Summary struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
}

// newHistogram records nanoseconds from 1 ns to a minute with three significant digits.
func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60e9, 3) }

// shardedHistogram spreads the net client's goroutines over several histograms so that they
// do not all wait for one lock; the shards are merged once, at the end.
type shardedHistogram struct {
	shards []histogramShard
}

type histogramShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte // keeps neighbouring shards' locks off one cache line
}

func newShardedHistogram(n int) *shardedHistogram {
	s := &shardedHistogram{shards: make([]histogramShard, n)}
	for i := range s.shards {
		s.shards[i].h = newHistogram()
	}
	return s
}

// record adds count values of ns nanoseconds to connection id's shard.
func (s *shardedHistogram) record(id int, ns int64, count int64) {
	sh := &s.shards[id%len(s.shards)]
	sh.mu.Lock()
	sh.h.RecordValues(max(ns, 1), count)
	sh.mu.Unlock()
}

func (s *shardedHistogram) summary() Summary {
	all := newHistogram()
	for i := range s.shards {
		s.shards[i].mu.Lock()
		all.Merge(s.shards[i].h)
		s.shards[i].mu.Unlock()
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Summary{P50: us(all.ValueAtQuantile(50)), P90: us(all.ValueAtQuantile(90)),
		P99: us(all.ValueAtQuantile(99)), P999: us(all.ValueAtQuantile(99.9)), Max: us(all.Max())}
}
