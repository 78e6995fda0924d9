package harness

import (
	"math"
	"slices"
	"sort"
)

// Median of xs (which it leaves as they were); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// Spread is a median with the range it comes from.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// SpreadOf summarises xs; the zero Spread for none.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	return Spread{Median: Median(xs), Min: slices.Min(xs), Max: slices.Max(xs), N: len(xs)}
}

// Interval is a median with a 95 % confidence interval for it.
type Interval struct {
	Median, Lo, Hi float64
	N              int
}

// IntervalOf is the median of xs with a distribution-free 95 % confidence interval: the order
// statistics whose ranks the binomial law (by its normal approximation) puts z standard
// deviations either side of the middle. It makes no assumption about the values'
// distribution, which for a noisy machine's ratios has long tails; it needs a few dozen values
// to be narrow. The zero Interval for none.
func IntervalOf(xs []float64) Interval {
	const z = 1.96 // the normal law's two-sided 95 % quantile
	n := len(xs)
	if n == 0 {
		return Interval{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	half := z * math.Sqrt(float64(n)) / 2 // the rank's standard deviation is √n/2
	lo := max(0, int(math.Floor(float64(n)/2-half))-1)
	hi := min(n-1, int(math.Ceil(float64(n)/2+half)))
	return Interval{Median: Median(s), Lo: s[lo], Hi: s[hi], N: n}
}
