package poller

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ownedRing sets up a ring owned by the calling test goroutine (see lockedRing); rings created
// disabled are enabled here, from that thread, so that it becomes the single issuer.
func ownedRing(t testing.TB, opts Options) *Ring {
	t.Helper()
	return lockedRing(t, func() (*Ring, error) {
		r, err := New(opts)
		if err == nil && opts.Flags&SetupRDisabled != 0 {
			if err = r.Enable(); err != nil {
				r.Close()
			}
		}
		return r, err
	})
}

// lockedRing locks the calling test goroutine to its thread, sets a ring up with newRing, and
// keeps the thread locked until the test's cleanup has closed the ring.
func lockedRing(t testing.TB, newRing func() (*Ring, error)) *Ring {
	t.Helper()
	requireFeatures(t)
	runtime.LockOSThread()
	r, err := newRing()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("set up ring: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		runtime.UnlockOSThread()
	})
	return r
}

// loopRing sets up a ring the way an event loop does (NewLoopRing), owned by the calling test
// goroutine (see lockedRing).
func loopRing(t testing.TB, entries uint32) *Ring {
	t.Helper()
	return lockedRing(t, func() (*Ring, error) { return NewLoopRing(entries, 0) })
}

// ringWithConn is a loop ring with a fixed-file table, a direct listener on 127.0.0.1 and one
// accepted connection: its slot, and the standard library's end of it.
func ringWithConn(t testing.TB) (*Ring, uint32, net.Conn) {
	t.Helper()
	requireFeatures(t, CapSocketDirect, CapBindListen, CapMultishotAccept, CapFixedFdInstall, CapSparseFiles)
	r := loopRing(t, 16)
	fileTable(t, r, 8)
	lslot, addr := directListener(t, r)
	slot, peer := acceptOne(t, r, lslot, addr)
	return r, slot, peer
}

// socketPair is a connected pair of unix stream sockets, closed when the test ends.
func socketPair(t testing.TB) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return [2]int{fds[0], fds[1]}
}

// prep gets an SQE, lets fill prepare it, and sets its user data.
func prep(t testing.TB, r *Ring, ud uint64, fill func(*SQE)) {
	t.Helper()
	sqe, err := r.GetSQE()
	if err != nil {
		t.Fatalf("GetSQE: %v", err)
	}
	fill(sqe)
	sqe.SetUserData(ud)
}

// waitCQEs submits what is queued and collects completions until n have arrived, failing the
// test if they do not within five seconds.
func waitCQEs(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	got := make([]CQE, 0, n)
	buf := make([]CQE, 64)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("waited 5s for %d completions, got %d: %+v", n, len(got), got)
		}
		if _, err := r.SubmitAndWaitTimeout(1, left); err != nil && !errors.Is(err, ErrTimedOut) {
			t.Fatalf("SubmitAndWaitTimeout: %v", err)
		}
		k := r.ReapCompletions(buf[:min(len(buf), n-len(got))])
		got = append(got, buf[:k]...)
	}
	return got
}

// waitCQE waits for exactly one completion and checks its user data.
func waitCQE(t testing.TB, r *Ring, ud uint64) CQE {
	t.Helper()
	c := waitCQEs(t, r, 1)[0]
	if c.UserData != ud {
		t.Fatalf("completion for user data %d, want %d (res %d)", c.UserData, ud, c.Res)
	}
	return c
}

// byUserData indexes completions by user data, failing on duplicates.
func byUserData(t testing.TB, cqes []CQE) map[uint64]CQE {
	t.Helper()
	m := make(map[uint64]CQE, len(cqes))
	for _, c := range cqes {
		if _, dup := m[c.UserData]; dup {
			t.Fatalf("two completions for user data %d", c.UserData)
		}
		m[c.UserData] = c
	}
	return m
}

// mustRes fails the test unless the completion succeeded (Res >= 0).
func mustRes(t testing.TB, c CQE, what string) int32 {
	t.Helper()
	if c.Res < 0 {
		t.Fatalf("%s: %v", what, unix.Errno(-c.Res))
	}
	return c.Res
}

// installFd turns direct descriptor slot into a regular fd with FIXED_FD_INSTALL.
func installFd(t testing.TB, r *Ring, slot uint32) int {
	t.Helper()
	prep(t, r, 900, func(s *SQE) { s.PrepFixedFdInstall(slot, 0) })
	fd := int(mustRes(t, waitCQE(t, r, 900), "fixed fd install"))
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// directListener creates a listening TCP socket on 127.0.0.1 as a direct descriptor, entirely
// with ring operations (SOCKET, BIND, LISTEN), and returns its slot and address.
func directListener(t testing.TB, r *Ring) (uint32, netip.AddrPort) {
	t.Helper()
	prep(t, r, 1, func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, unix.SOCK_STREAM, 0, AllocSlot) })
	slot := uint32(mustRes(t, waitCQE(t, r, 1), "socket direct"))
	sa, err := SockaddrInet(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	prep(t, r, 2, func(s *SQE) { s.PrepBind(int32(slot), sa); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, r, 2), "bind")
	prep(t, r, 3, func(s *SQE) { s.PrepListen(int32(slot), 128); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, r, 3), "listen")

	// A direct descriptor has no fd for getsockname: install one to learn the port.
	fd := installFd(t, r, slot)
	name, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname on installed fd: %v", err)
	}
	in4 := name.(*unix.SockaddrInet4)
	return slot, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port))
}

// fileTable registers a sparse fixed-file table of n slots, all allocatable.
func fileTable(t testing.TB, r *Ring, n uint32) {
	t.Helper()
	if err := r.RegisterSparseFiles(n); err != nil {
		t.Fatal(err)
	}
	if err := r.SetFileAllocRange(0, n); err != nil {
		t.Fatal(err)
	}
}

// acceptOne dials addr from the standard library and accepts the connection on the ring with a
// multishot direct accept, returning the ring's slot and the standard side.
func acceptOne(t testing.TB, r *Ring, lslot uint32, addr netip.AddrPort) (uint32, net.Conn) {
	t.Helper()
	peer, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial %v: %v", addr, err)
	}
	t.Cleanup(func() { peer.Close() })
	prep(t, r, 10, func(s *SQE) { s.PrepMultishotAcceptDirect(int32(lslot), 0); s.SetFlags(FlagFixedFile) })
	c := waitCQE(t, r, 10)
	slot := uint32(mustRes(t, c, "accept"))
	if !c.More() {
		t.Fatalf("multishot accept ended after one connection (flags %#x)", c.Flags)
	}
	return slot, peer
}
