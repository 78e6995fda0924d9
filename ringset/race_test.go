//go:build race

package ringset

// raceEnabled scales the heaviest load tests down under the race detector.
const raceEnabled = true
