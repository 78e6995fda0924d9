package fdbridge

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/uringnet/uringnet/internal/loopback"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Install returns a working descriptor for a slot and hands every other completion it reaps
// to stash, in the order the kernel posted them.
func TestInstallStashesOtherCompletionsInOrder(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Require(poller.CapFixedFdInstall, poller.CapSparseFiles); err != nil {
		t.Skip(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := poller.NewLoopRing(8, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.RegisterSparseFiles(4); err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[1])
	if _, err := r.UpdateFiles(2, []int32{int32(pair[0])}); err != nil {
		t.Fatal(err)
	}
	unix.Close(pair[0])
	for ud := uint64(1); ud <= 3; ud++ {
		s, _ := r.GetSQE()
		s.PrepNop()
		s.SetUserData(ud)
	}
	var stashed []uint64
	fd, err := Install(r, 2, 99, func(c poller.CQE) { stashed = append(stashed, c.UserData) })
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if len(stashed) != 3 || stashed[0] != 1 || stashed[1] != 2 || stashed[2] != 3 {
		t.Fatalf("stashed %v, want [1 2 3]", stashed)
	}
	if _, err := unix.Write(fd, []byte("via installed fd")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	if n, err := unix.Read(pair[1], buf); err != nil || string(buf[:n]) != "via installed fd" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if _, err := Install(r, 3, 100, func(poller.CQE) {}); err == nil {
		t.Fatal("Install of an empty slot succeeded")
	}
}

func TestSocketOptionsAndAddrs(t *testing.T) {
	c, _ := loopback.TCPPair(t)
	f, _ := c.File()
	defer f.Close()
	fd := int(f.Fd())
	for _, err := range []error{SetNoDelay(fd, false), SetKeepAlive(fd, true, 1100*time.Millisecond),
		SetLinger(fd, 5), SetLinger(fd, -1), SetReadBuffer(fd, 32<<10), SetWriteBuffer(fd, 32<<10)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); v != 0 {
		t.Errorf("TCP_NODELAY %d after SetNoDelay(false)", v)
	}
	if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); v != 2 {
		t.Errorf("TCP_KEEPIDLE %d for 1.1s, want 2 (rounded up, as net does)", v)
	}
	if l, _ := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); l.Onoff != 0 {
		t.Errorf("linger %+v after SetLinger(5) then SetLinger(-1), want off", l)
	}
	local, remote, err := Addrs(fd, false)
	if err != nil || local.String() != c.LocalAddr().String() || remote.String() != c.RemoteAddr().String() {
		t.Fatalf("Addrs: %v %v %v; want %v %v", local, remote, err, c.LocalAddr(), c.RemoteAddr())
	}
	// Every connection keeps what Addrs returns: the same local address is shared, and the
	// peer's is one allocation, with nothing else made on the way.
	if again, _, _ := Addrs(fd, false); again != local {
		t.Errorf("the same local address twice: %p then %p, want it shared", local, again)
	}
	if n := testing.AllocsPerRun(100, func() { Addrs(fd, false) }); n != 1 {
		t.Errorf("Addrs allocates %v objects, want 1 (the peer's address)", n)
	}
	var sysErr *os.SyscallError
	if err := SetNoDelay(-1, true); !errors.As(err, &sysErr) || sysErr.Syscall != "setsockopt" {
		t.Errorf("setsockopt on fd -1: %v, want an *os.SyscallError of setsockopt", err)
	}
}

// Dup's descriptor is close-on-exec, outlives the connection it came from, and reaches the same
// socket; a closed connection has no descriptor to duplicate.
func TestDup(t *testing.T) {
	c, peer := loopback.TCPPair(t)
	fd, err := Dup(c)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD %#x, %v: want FD_CLOEXEC", flags, err)
	}
	c.Close()
	if _, err := unix.Write(fd, []byte("after Close")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "after Close" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if fd, err := Dup(c); err == nil {
		unix.Close(fd)
		t.Fatal("Dup of a closed connection succeeded")
	}
}

// A duplicate is never one of the standard streams' numbers, even with stdin closed: os would
// treat a File of 0, 1 or 2 as a standard stream.
func TestDupFdStaysAboveTheStandardStreams(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(saved)
	unix.Close(0)
	defer unix.Dup3(saved, 0, 0)
	nfd, err := DupFd(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(nfd)
	if nfd < 3 {
		t.Fatalf("DupFd with descriptor 0 free gave %d", nfd)
	}
}
