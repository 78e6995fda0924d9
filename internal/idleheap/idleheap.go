// Package idleheap is for the tests that measure what a server keeps per idle connection:
// clients on raw sockets (no Go objects of their own to count), each making one 1-byte round
// trip and then sitting idle, and the heap read once it has settled.
package idleheap

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Clients opens raw-socket clients to one IPv4 server; they are closed when the test ends.
type Clients struct {
	t   testing.TB
	sa  *unix.SockaddrInet4
	fds []int
	one []byte
}

// NewClients is the clients of the server at addr ("ip:port").
func NewClients(t testing.TB, addr string) *Clients {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	sa := &unix.SockaddrInet4{Port: p}
	copy(sa.Addr[:], net.ParseIP(host).To4())
	c := &Clients{t: t, sa: sa, one: []byte{1}}
	t.Cleanup(func() {
		for _, fd := range c.fds {
			unix.Close(fd)
		}
	})
	return c
}

// RoundTrip opens one more client and makes its 1-byte round trip.
func (c *Clients) RoundTrip() {
	c.t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	c.fds = append(c.fds, fd)
	if err := unix.Connect(fd, c.sa); err != nil {
		c.t.Fatal(err)
	}
	if _, err := unix.Write(fd, c.one); err != nil {
		c.t.Fatal(err)
	}
	if n, err := unix.Read(fd, c.one); n != 1 || err != nil {
		c.t.Fatalf("round trip: %d, %v", n, err)
	}
}

// Settle collects until the heap stops shrinking.
func Settle() {
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// ProfileEnv names the environment variable that asks for heap profiles: a directory.
const ProfileEnv = "IDLE_HEAP_PROFILE"

// Profiling reports whether heap profiles were asked for, and if so records every allocation
// until the test ends.
func Profiling(t testing.TB) bool {
	if os.Getenv(ProfileEnv) == "" {
		return false
	}
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	t.Cleanup(func() { runtime.MemProfileRate = rate })
	return true
}

// WriteProfile writes the heap profile as name.heap in the directory ProfileEnv names, if any.
func WriteProfile(name string) {
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return
	}
	if f, err := os.Create(filepath.Join(dir, name+".heap")); err == nil {
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
}
