package goroutine

import (
	"runtime"
	"sync"
	"testing"
)

// A goroutine's ID stays the same for its life, across thread switches and stack growth, and
// differs from every other goroutine alive at the same time.
func TestIDIsTheGoroutines(t *testing.T) {
	const n = 64
	ids := make([]uintptr, n)
	var ready, release sync.WaitGroup
	ready.Add(n)
	release.Add(1)
	var bad sync.Map
	for i := range n {
		go func() {
			ids[i] = ID()
			ready.Done()
			release.Wait()
			grow(200) // a deeper stack is a copied stack
			runtime.Gosched()
			if ID() != ids[i] {
				bad.Store(i, true)
			}
			ready.Done()
		}()
	}
	ready.Wait()
	seen := map[uintptr]bool{ID(): true}
	for i, id := range ids {
		if id == 0 || seen[id] {
			t.Fatalf("goroutine %d: ID %#x is zero or shared", i, id)
		}
		seen[id] = true
	}
	ready.Add(n)
	release.Done()
	ready.Wait()
	bad.Range(func(k, _ any) bool { t.Errorf("goroutine %v: ID changed", k); return true })
}

func grow(n int) int {
	var pad [256]byte
	if n == 0 {
		return int(pad[0])
	}
	return grow(n-1) + int(pad[n%256])
}

// A goroutine locked to its thread is told from others on other threads.
func TestIDOfLockedGoroutine(t *testing.T) {
	got := make(chan uintptr)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		got <- ID()
		got <- ID()
	}()
	a, b := <-got, <-got
	if a != b || a == ID() {
		t.Fatalf("locked goroutine's ID %#x then %#x; caller's %#x", a, b, ID())
	}
}

func BenchmarkID(b *testing.B) {
	var sink uintptr
	for b.Loop() {
		sink += ID()
	}
	_ = sink
}
