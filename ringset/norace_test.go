//go:build !race

package ringset

const raceEnabled = false
