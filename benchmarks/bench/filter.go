package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/uringnet/uringnet/benchmarks/report"
)

// pointFilter narrows a plan to some of its points: those at the connection counts, depths and
// pinning named (each empty: any). A point at a fixed offered load goes with the point it
// follows, which has the same connections, depth and pinning. It serves a second run of the
// points where a first left the verdict inside the measure's own spread, with more repeats.
type pointFilter struct {
	conns, depths []int
	pinned        []bool
}

// parsePointFilter reads run's -conns and -depths (comma-separated counts) and -pinning
// (unpinned, pinned or both; empty: both).
func parsePointFilter(conns, depths, pinning string) (pointFilter, error) {
	var f pointFilter
	var err error
	if f.conns, err = parseCounts("-conns", conns); err != nil {
		return f, err
	}
	if f.depths, err = parseCounts("-depths", depths); err != nil {
		return f, err
	}
	switch pinning {
	case "", "both":
	case "unpinned":
		f.pinned = []bool{false}
	case "pinned":
		f.pinned = []bool{true}
	default:
		return f, fmt.Errorf("-pinning %q: want unpinned, pinned or both", pinning)
	}
	return f, nil
}

// parseCounts reads a comma-separated list of positive counts; empty is none.
func parseCounts(name, list string) ([]int, error) {
	if list == "" {
		return nil, nil
	}
	var ns []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s %q: want positive counts separated by commas", name, list)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// keeps reports whether the point is one the filter lets run.
func (f pointFilter) keeps(at report.Point) bool {
	depth := max(at.Depth, 1) // a point without a depth is unpipelined
	return (f.conns == nil || slices.Contains(f.conns, at.Conns)) &&
		(f.depths == nil || slices.Contains(f.depths, depth)) &&
		(f.pinned == nil || slices.Contains(f.pinned, at.Pinned))
}

// narrowPinnings is the plan's pinnings the filter keeps, so that a run of unpinned points
// alone needs no CPUs to pin to.
func (f pointFilter) narrowPinnings(pinnings []bool) []bool {
	if f.pinned == nil {
		return pinnings
	}
	var kept []bool
	for _, p := range pinnings {
		if slices.Contains(f.pinned, p) {
			kept = append(kept, p)
		}
	}
	return kept
}

// anyPointKept reports whether the filter keeps any point of the workloads named in only.
func anyPointKept(o *options, only string) bool {
	for _, w := range workloadsNamed(only) {
		for _, at := range w.points(o) {
			if o.filter.keeps(at) {
				return true
			}
		}
	}
	return false
}
