// Package leakcheck is for tests that open and close many connections: it counts the
// process's goroutines and open descriptors and waits for them to come back to a baseline.
package leakcheck

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// OpenFds counts the process's open descriptors.
func OpenFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Settle waits up to ten seconds for the goroutine and descriptor counts to come back to a
// baseline (taken with runtime.NumGoroutine and OpenFds), and fails the test with every
// goroutine's stack if they do not.
func Settle(t testing.TB, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), OpenFds(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("leak: %d goroutines (was %d), %d fds (was %d)\n%s", g, goroutines, f, fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
