package loadgen

import (
	"bytes"
	"fmt"
	"math/bits"
	"net/netip"
	"runtime"
	"time"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// uringClient drives every connection from one io_uring on one locked thread: each
// connection's receive is multishot through a buffer ring, each batch is one send, and all of
// it goes to the kernel in one io_uring_enter per round of completions.
type uringClient struct {
	s *shared
}

// ringThread is what the uring clients share: each runs on a locked thread of its own, which
// sets up (reporting on ready), drives until the run stops and returns the first failure, which
// finish reports.
type ringThread struct {
	s    *shared
	done chan error
}

// startRingThread starts run on a locked thread and waits for its setup.
func startRingThread(s *shared, run func(ready chan<- error) error) (client, error) {
	t := &ringThread{s: s, done: make(chan error, 1)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := run(ready)
		s.phase.Store(stopping)
		t.done <- err
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return t, nil
}

func (t *ringThread) finish() error {
	t.s.phase.Store(stopping)
	return <-t.done
}

// uringConn is one connection's state in the uring client.
type uringConn struct {
	request []byte // the batch in flight; the kernel reads it until its reply has come back
	reply   []byte // what must come back for it
	seq     uint64
	got     int   // bytes of the reply received so far
	sent    int64 // when the batch was sent, in nanoseconds since the client started
}

// User data: the connection in the high bits, the low bit set for a send (whose completion
// only comes on failure).
const sendTag = 1

func startUring(s *shared) (client, error) {
	ap, err := netip.ParseAddrPort(s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: uring client: %w", err)
	}
	if !ap.Addr().Is4() {
		return nil, fmt.Errorf("loadgen: uring client: %s is not an IPv4 address", s.cfg.Addr)
	}
	c := &uringClient{s: s}
	return startRingThread(s, func(ready chan<- error) error { return c.run(ap, ready) })
}

func (c *uringClient) run(ap netip.AddrPort, ready chan<- error) error {
	r, br, conns, err := c.setup(ap)
	if err != nil {
		ready <- err
		return err
	}
	defer r.Close()
	defer br.Close()
	ready <- nil
	return c.drive(r, br, conns)
}

// setup creates the ring, its buffer ring and the connections, each socket connected with
// the ordinary calls and then moved into the ring's fixed-file table (so the client's
// descriptor count stays small at 10,000 connections).
func (c *uringClient) setup(ap netip.AddrPort) (*poller.Ring, *poller.BufferRing, []*uringConn, error) {
	cfg := c.s.cfg
	r, err := poller.NewLoopRing(4096, 32768)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loadgen: uring client: %w", err)
	}
	fail := func(err error) (*poller.Ring, *poller.BufferRing, []*uringConn, error) {
		r.Close()
		return nil, nil, nil, fmt.Errorf("loadgen: uring client: %w", err)
	}
	if err := r.RegisterSparseFiles(uint32(cfg.Conns)); err != nil {
		return fail(err)
	}
	// Buffers the size of a batch's reply (at most 4 KiB), enough per connection for its whole
	// reply and one more (at most 32,768 in all), so that large echoes rarely run out.
	reply := c.s.batches.perMessage * cfg.Depth
	bufSize := uint32(1) << bits.Len(uint(min(max(reply, 64), 4096)-1))
	perConn := (reply+int(bufSize)-1)/int(bufSize) + 1
	entries := uint32(1) << bits.Len(uint(min(max(perConn*cfg.Conns, 64), 32768)-1))
	br, err := r.RegisterBufferRing(0, entries, bufSize)
	if err != nil {
		return fail(err)
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	conns := make([]*uringConn, cfg.Conns)
	for i := range conns {
		if err := connectFixed(r, uint32(i), sa); err != nil {
			br.Close()
			return fail(fmt.Errorf("connection %d: %w", i, err))
		}
		conns[i] = &uringConn{}
	}
	return r, br, conns, nil
}

func connectFixed(r *poller.Ring, slot uint32, sa *unix.SockaddrInet4) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd) // the fixed-file table keeps the socket
	if err := unix.Connect(fd, sa); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fmt.Errorf("TCP_NODELAY: %w", err)
	}
	if _, err := r.UpdateFiles(slot, []int32{int32(fd)}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return nil
}

func (c *uringClient) drive(r *poller.Ring, br *poller.BufferRing, conns []*uringConn) error {
	perMessage := c.s.batches.perMessage
	start := time.Now()
	send := func(id int, u *uringConn) error {
		u.request, u.reply = c.s.batches.next(id, u.seq, u.request)
		u.sent = int64(time.Since(start))
		s, err := r.GetSQE()
		if err != nil {
			return err
		}
		s.PrepSend(int32(id), u.request, unix.MSG_WAITALL)
		// The reply's arrival proves the kernel is done with the batch: no completion needed.
		s.SetFlags(poller.FlagFixedFile | poller.FlagCQESkipSuccess)
		s.SetUserData(uint64(id)<<1 | sendTag)
		return nil
	}
	arm := func(id int) error {
		s, err := r.GetSQE()
		if err != nil {
			return err
		}
		s.PrepRecvMultishotBufferSelect(int32(id), br.GroupID(), 0)
		s.SetFlags(poller.FlagFixedFile)
		s.SetUserData(uint64(id) << 1)
		return nil
	}
	for id, u := range conns {
		if err := arm(id); err != nil {
			return err
		}
		if err := send(id, u); err != nil {
			return err
		}
	}
	cqes := make([]poller.CQE, 32768)
	opened := int64(-1) // when the client first saw the measured window open
	for c.s.phase.Load() != stopping {
		if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil && err != poller.ErrTimedOut {
			return err
		}
		n := r.ReapCompletions(cqes)
		now := int64(time.Since(start))
		measuring := c.s.measuring()
		if measuring && opened < 0 {
			opened = now
		}
		var done int64
		for i := range cqes[:n] {
			cqe := &cqes[i]
			id := int(cqe.UserData >> 1)
			if cqe.UserData&sendTag != 0 {
				return fmt.Errorf("loadgen: connection %d: send: %w", id, unix.Errno(-cqe.Res))
			}
			if cqe.Res == -int32(unix.ENOBUFS) { // every buffer is in use: re-arm once they are back
				if err := arm(id); err != nil {
					return err
				}
				continue
			}
			if cqe.Res <= 0 {
				return fmt.Errorf("loadgen: connection %d: receive: %d", id, cqe.Res)
			}
			u := conns[id]
			bid, _ := cqe.BufferID()
			chunk := br.Buffer(bid, int(cqe.Res))
			if u.got+len(chunk) > len(u.reply) || !bytes.Equal(chunk, u.reply[u.got:u.got+len(chunk)]) {
				return fmt.Errorf("loadgen: connection %d: %w", id, mismatch(u.seq, u.got, chunk, u.reply))
			}
			br.Recycle(bid)
			before := u.got / perMessage
			u.got += len(chunk)
			if completed := int64(u.got/perMessage - before); completed > 0 && measuring {
				c.s.hist.record(0, now-u.sent, completed)
				done += completed
			}
			if !cqe.More() {
				if err := arm(id); err != nil {
					return err
				}
			}
			if u.got == len(u.reply) {
				u.got = 0
				u.seq++
				if err := send(id, u); err != nil {
					return err
				}
			}
		}
		br.Publish()
		c.s.messages.Add(done)
	}
	return stalled(conns, opened)
}

// stalled reports a connection whose reply, short or missing, kept it waiting through the whole
// measured window (its batch sent before the window opened at opened): the bytes that never
// came were never checked.
func stalled(conns []*uringConn, opened int64) error {
	if opened < 0 {
		return nil
	}
	for id, u := range conns {
		if u.sent < opened {
			return fmt.Errorf("loadgen: connection %d: %d of the %d bytes of the reply to batch %d came back in the whole measured window",
				id, u.got, len(u.reply), u.seq)
		}
	}
	return nil
}
