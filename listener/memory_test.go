//go:build !race

// The race detector allocates on its own; `make test` runs this file in its pass without it
// (the test's name matches that pass's pattern).

package listener

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/idleheap"
)

// TestTwoThousandConnectionsIdleHeap measures what the harness's idle row measures (make
// bench-listener, -only idle) on the Go heap and the goroutines' stacks: the bytes live per
// connection once each has made one 1-byte round trip with a goroutine-per-connection echo
// server and sits idle, and the bytes allocated per connection on the way there (garbage,
// which the heap holds until a collection, and so resident memory). The same server runs on
// net.Listen and on Listen, each in a process of its own (a process reuses the goroutines and
// stacks of connections gone before). A connection the poller serves may cost no more than
// net's: what the Conn adds, the socket it accepts in place of net's connection saves.
// IDLE_HEAP_PROFILE=dir writes each server's heap profile (every allocation sampled) there.
func TestTwoThousandConnectionsIdleHeap(t *testing.T) {
	if name := os.Getenv(idleServerEnv); name != "" {
		measureIdleServer(t, name)
		return
	}
	got := map[string]idleFigures{}
	for _, name := range []string{"net", "listener"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoThousandConnectionsIdleHeap$", "-test.v")
		cmd.Env = append(os.Environ(), idleServerEnv+"="+name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		_, line, ok := strings.Cut(string(out), idleResult)
		line, _, _ = strings.Cut(line, "\n")
		var f idleFigures
		if !ok || json.Unmarshal([]byte(line), &f) != nil {
			t.Fatalf("%s: no figures in\n%s", name, out)
		}
		got[name] = f
		t.Logf("%s: %.0f B live and %.0f B of stack per idle connection; %.0f B in %.1f objects allocated per connection opened; resident %.0f B; %d on the ring",
			name, f.Live, f.Stack, f.Allocated, f.Objects, f.Resident, f.OnRing)
	}
	n, l := got["net"], got["listener"]
	if l.Live > n.Live || l.Stack > n.Stack+stackNoise {
		t.Errorf("the listener keeps %.0f B of heap and %.0f B of stack per idle connection, net %.0f and %.0f",
			l.Live, l.Stack, n.Live, n.Stack)
	}
	if l.Allocated > n.Allocated {
		t.Errorf("the listener allocates %.0f B per connection opened, net %.0f", l.Allocated, n.Allocated)
	}
}

// stackNoise is how far two runs' stack figures move apart with the same goroutines: the stacks
// are counted by the span, not by the goroutine.
const stackNoise = 64

const (
	idleServerEnv = "URINGNET_IDLE_HEAP_SERVER"
	idleResult    = "IDLE_HEAP "
)

// idleFigures are one server's figures, per connection.
type idleFigures struct {
	Live, Stack, Allocated, Objects, Resident float64
	OnRing                                    int
}

// measureIdleServer is the child's part: it serves 2,000 raw clients with the echo server on
// net.Listen or Listen (name) and prints its figures.
func measureIdleServer(t *testing.T, name string) {
	const conns = 2000
	idleheap.Profiling(t)
	listen := net.Listen
	if name == "listener" {
		listen = Listen
	}
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan net.Conn, conns+2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served <- c
			go echo(c)
		}
	}()
	clients := idleheap.NewClients(t, ln.Addr().String())
	roundTrip := clients.RoundTrip
	// What the process allocates once, on its first connections, is not a connection's cost:
	// the path policy's first looks at the scheduler's metrics, for one.
	roundTrip()
	time.Sleep(2 * lookInterval)
	roundTrip()
	var before, after runtime.MemStats
	idleheap.Settle()
	runtime.ReadMemStats(&before)
	rssBefore := residentBytes(t)
	for range conns {
		roundTrip()
	}
	time.Sleep(100 * time.Millisecond) // the last goroutines are back in Read
	runtime.ReadMemStats(&after)       // before a collection: what was allocated
	var f idleFigures
	f.Resident = float64(residentBytes(t)-rssBefore) / conns
	f.Allocated = float64(after.TotalAlloc-before.TotalAlloc) / conns
	f.Objects = float64(after.Mallocs-before.Mallocs) / conns
	idleheap.Settle()
	runtime.ReadMemStats(&after)
	f.Live = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / conns
	f.Stack = (float64(after.StackInuse) - float64(before.StackInuse)) / conns
	idleheap.WriteProfile(name)
	for range conns + 2 {
		if lc, ok := (<-served).(*Conn); ok && lc.ringSide() != nil {
			f.OnRing++
		}
	}
	b, _ := json.Marshal(f)
	fmt.Printf("%s%s\n", idleResult, b)
}

// residentBytes is the process's resident memory (VmRSS).
func residentBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, v, _ := strings.Cut(string(b), "VmRSS:")
	v, _, _ = strings.Cut(v, "kB")
	kb, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		t.Fatalf("VmRSS: %v", err)
	}
	return kb << 10
}

// echo is the benchmark harness's goroutine-per-connection server (benchmarks/server,
// serveConn) for a 1-byte message: a read buffer per connection, each read written back.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
