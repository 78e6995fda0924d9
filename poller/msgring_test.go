package poller

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// peerLoop is a second ring owned by its own goroutine on its own locked thread, driven by the
// test through channels (only the owner may touch it).
type peerLoop struct {
	fd    chan int               // the ring's fd, once it is up
	cqes  chan CQE               // every completion it reaps
	do    chan func(*Ring) error // work to run on the owner thread
	errs  chan error
	close chan struct{}
	done  chan struct{}
}

func startPeerLoop(t *testing.T, tableSlots uint32) *peerLoop {
	t.Helper()
	p := &peerLoop{fd: make(chan int, 1), cqes: make(chan CQE, 64), do: make(chan func(*Ring) error),
		errs: make(chan error, 1), close: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := NewLoopRing(8, 0)
		if err == nil && tableSlots > 0 {
			if err = r.RegisterSparseFiles(tableSlots); err == nil {
				err = r.SetFileAllocRange(0, tableSlots)
			}
		}
		if err != nil {
			p.errs <- err
			return
		}
		defer r.Close()
		p.fd <- r.Fd()
		buf := make([]CQE, 16)
		for {
			select {
			case <-p.close:
				return
			case f := <-p.do:
				p.errs <- f(r)
				continue
			default:
			}
			if _, err := r.SubmitAndWaitTimeout(1, 5*time.Millisecond); err != nil && err != ErrTimedOut {
				p.errs <- err
				return
			}
			for _, c := range buf[:r.ReapCompletions(buf)] {
				p.cqes <- c
			}
		}
	}()
	t.Cleanup(func() { close(p.close); <-p.done })
	select {
	case fd := <-p.fd:
		p.fd <- fd
	case err := <-p.errs:
		t.Fatalf("peer loop: %v", err)
	}
	return p
}

func (p *peerLoop) ringFd() int { fd := <-p.fd; p.fd <- fd; return fd }

func (p *peerLoop) next(t *testing.T) CQE {
	t.Helper()
	select {
	case c := <-p.cqes:
		return c
	case err := <-p.errs:
		t.Fatalf("peer loop: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("peer loop received nothing for 5s")
	}
	panic("unreachable")
}

// run executes f on the peer loop's thread and returns its error.
func (p *peerLoop) run(t *testing.T, f func(*Ring) error) error {
	t.Helper()
	p.do <- f
	select {
	case err := <-p.errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("peer loop did not run the work for 5s")
	}
	return nil
}

// MSG_RING between two rings on two locked threads: a data message arrives with its user
// data, result and flags; a direct descriptor passed with IORING_MSG_SEND_FD serves traffic in
// the target. The source slot is not moved but shared: it stays open and usable in the source
// until the source closes it, which does not disturb the target's copy.
func TestMsgRingDataAndFdBetweenThreads(t *testing.T) {
	requireFeatures(t, CapMsgRing, CapMsgRingFd)
	a, aslot, peer := ringWithConn(t)
	b := startPeerLoop(t, 1)

	const flagsPassed = 0x5a5a0000
	prep(t, a, 100, func(s *SQE) { s.PrepMsgRingData(b.ringFd(), 1000, 77, flagsPassed) })
	mustRes(t, waitCQE(t, a, 100), "msg ring data")
	if c := b.next(t); c.UserData != 1000 || c.Res != 77 || c.Flags != flagsPassed {
		t.Fatalf("target got %+v, want user data 1000, res 77, flags %#x", c, flagsPassed)
	}

	prep(t, a, 101, func(s *SQE) { s.PrepMsgRingFd(b.ringFd(), aslot, AllocSlot, 2000) })
	srcRes := mustRes(t, waitCQE(t, a, 101), "msg ring fd")
	c := b.next(t)
	if c.UserData != 2000 || c.Res < 0 || c.Res != srcRes {
		t.Fatalf("target got %+v for the descriptor; source saw res %d", c, srcRes)
	}
	bslot := uint32(c.Res)

	// The target's table has one slot, now used: a second pass fails and the source keeps its slot.
	prep(t, a, 102, func(s *SQE) { s.PrepMsgRingFd(b.ringFd(), aslot, AllocSlot, 2001) })
	if c := waitCQE(t, a, 102); c.Res != -int32(unix.ENFILE) {
		t.Fatalf("pass into a full table: res %d, want -ENFILE", c.Res)
	}

	// The source slot still serves, then the source closes it.
	fromA := []byte("from A")
	prep(t, a, 103, func(s *SQE) { s.PrepSend(int32(aslot), fromA, 0); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, a, 103), "send on the source slot after passing it")
	runtime.KeepAlive(fromA)
	expectRead(t, peer, "from A")
	prep(t, a, 104, func(s *SQE) { s.PrepCloseDirect(aslot) })
	mustRes(t, waitCQE(t, a, 104), "close source slot")

	// The target serves the connection in both directions.
	if _, err := peer.Write([]byte("to B")); err != nil {
		t.Fatal(err)
	}
	var received string
	err := b.run(t, func(r *Ring) error {
		buf := make([]byte, 16)
		send, err := r.GetSQE()
		if err != nil {
			return err
		}
		fromB := []byte("from B")
		defer runtime.KeepAlive(fromB)
		send.PrepSend(int32(bslot), fromB, 0)
		send.SetFlags(FlagFixedFile | FlagIOLink) // the receive runs after the send
		recv, err := r.GetSQE()
		if err != nil {
			return err
		}
		recv.PrepRecv(int32(bslot), buf, 0)
		recv.SetFlags(FlagFixedFile)
		var cs [2]CQE
		for n := 0; n < 2; {
			if _, err := r.SubmitAndWait(1); err != nil {
				return err
			}
			n += r.ReapCompletions(cs[n:])
		}
		if cs[0].Res != 6 || cs[1].Res <= 0 {
			return fmt.Errorf("target send res %d, recv res %d", cs[0].Res, cs[1].Res)
		}
		received = string(buf[:cs[1].Res])
		return nil
	})
	if err != nil {
		t.Fatalf("target using the passed descriptor: %v", err)
	}
	expectRead(t, peer, "from B")
	if received != "to B" {
		t.Fatalf("target received %q, want %q", received, "to B")
	}
}

func expectRead(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != want {
		t.Fatalf("peer read %q, %v; want %q", buf, err, want)
	}
}

// A goroutine that owns no ring wakes a ring blocked in an untimed wait with the synchronous
// message, passing user data, result and flags.
func TestSyncMsgRingWakesBlockedRing(t *testing.T) {
	requireFeatures(t, CapSyncMsgRing)
	r := loopRing(t, 4)
	fd := r.Fd()
	sent := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond) // let the owner block first
		sent <- SendMsgRingSync(fd, 0xfeed, -5, 0x10000)
	}()
	watchdog := time.AfterFunc(5*time.Second, func() { SendMsgRingSync(fd, 0xdead, 0, 0) })
	defer watchdog.Stop()

	start := time.Now()
	if _, err := r.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("SendMsgRingSync: %v", err)
	}
	var c [1]CQE
	if r.ReapCompletions(c[:]) != 1 {
		t.Fatal("woken without a completion")
	}
	if c[0].UserData != 0xfeed || c[0].Res != -5 || c[0].Flags != 0x10000 {
		t.Fatalf("woken by %+v after %v, want the sync message", c[0], time.Since(start))
	}
}

func TestSyncMsgRingToDisabledRingFails(t *testing.T) {
	requireFeatures(t, CapSyncMsgRing)
	r, err := New(Options{Entries: 4, Flags: SetupRDisabled})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := SendMsgRingSync(r.Fd(), 1, 0, 0); !errors.Is(err, unix.EBADFD) {
		t.Fatalf("message to a disabled ring: %v, want EBADFD", err)
	}
	f, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f)
	if err := SendMsgRingSync(f, 1, 0, 0); !errors.Is(err, unix.EBADFD) {
		t.Fatalf("message to a file that is not a ring: %v, want EBADFD", err)
	}
}
