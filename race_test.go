//go:build race

package uringnet_test

// raceEnabled scales the heaviest load tests down under the race detector.
const raceEnabled = true
