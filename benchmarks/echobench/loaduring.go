package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// uringLoad is the same closed-loop, verifying echo client as load, driven from one io_uring
// on one thread: each connection's receive is multishot through a buffer ring and each send is
// one SQE, all batched per io_uring_enter. It costs the client a few microseconds per message
// instead of the standard library's ten or so, so that on a small machine the server, not
// the client, is what runs out of CPU. Both servers face the same client.
type uringLoad struct {
	addr  netip.AddrPort
	n     int
	size  int
	count atomic.Int64
	stop  atomic.Bool
	done  chan error
}

type uringConn struct {
	msg  []byte // the message in flight; the kernel reads it until its echo comes back
	seq  uint64
	got  int // bytes of the echo received so far
	slot uint32
}

func startUringLoad(addr string, n, size int) (*uringLoad, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	l := &uringLoad{addr: ap, n: n, size: size, done: make(chan error, 1)}
	ready := make(chan error, 1)
	go l.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return l, nil
}

// finish stops the load and returns its first error.
func (l *uringLoad) finish() error {
	l.stop.Store(true)
	return <-l.done
}

func (l *uringLoad) run(ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, conns, br, err := l.setup()
	if err != nil {
		ready <- err
		return
	}
	defer r.Close()
	defer br.Close()
	ready <- nil
	l.done <- l.drive(r, conns, br)
}

func (l *uringLoad) setup() (*poller.Ring, []*uringConn, *poller.BufferRing, error) {
	r, err := poller.NewLoopRing(4096, 32768)
	if err != nil {
		return nil, nil, nil, err
	}
	fail := func(err error) (*poller.Ring, []*uringConn, *poller.BufferRing, error) {
		r.Close()
		return nil, nil, nil, err
	}
	if err := r.RegisterSparseFiles(uint32(l.n)); err != nil {
		return fail(err)
	}
	bufs := uint32(1)
	for bufs < uint32(2*l.n) {
		bufs <<= 1
	}
	br, err := r.RegisterBufferRing(0, min(bufs, 1<<15), uint32(max(l.size, 64)))
	if err != nil {
		return fail(err)
	}
	sa := &unix.SockaddrInet4{Port: int(l.addr.Port()), Addr: l.addr.Addr().As4()}
	conns := make([]*uringConn, l.n)
	for i := range conns {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Connect(fd, sa)
		}
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		if err == nil {
			_, err = r.UpdateFiles(uint32(i), []int32{int32(fd)})
		}
		if fd >= 0 {
			unix.Close(fd) // the fixed-file table holds the socket now
		}
		if err != nil {
			br.Close()
			return fail(fmt.Errorf("connection %d: %w", i, err))
		}
		conns[i] = &uringConn{msg: make([]byte, l.size), slot: uint32(i)}
	}
	return r, conns, br, nil
}

func (l *uringLoad) drive(r *poller.Ring, conns []*uringConn, br *poller.BufferRing) error {
	send := func(c *uringConn, id int) error {
		fill(c.msg, id, c.seq)
		s, err := r.GetSQE()
		if err != nil {
			return err
		}
		s.PrepSend(int32(c.slot), c.msg, unix.MSG_WAITALL)
		// The echo's arrival proves the kernel is done with msg: no completion needed.
		s.SetFlags(poller.FlagFixedFile | poller.FlagCQESkipSuccess)
		s.SetUserData(uint64(id)<<1 | 1)
		return nil
	}
	arm := func(id int) error {
		s, err := r.GetSQE()
		if err != nil {
			return err
		}
		s.PrepRecvMultishot(int32(id), br.GroupID(), 0)
		s.SetFlags(poller.FlagFixedFile)
		s.SetUserData(uint64(id) << 1)
		return nil
	}
	for id, c := range conns {
		if err := arm(id); err != nil {
			return err
		}
		if err := send(c, id); err != nil {
			return err
		}
	}
	cqes := make([]poller.CQE, 32768)
	for !l.stop.Load() {
		if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil && err != poller.ErrTimedOut {
			return err
		}
		n := r.ReapCompletions(cqes)
		done := int64(0)
		for i := range cqes[:n] {
			cqe := &cqes[i]
			id := int(cqe.UserData >> 1)
			if cqe.UserData&1 == 1 {
				return fmt.Errorf("connection %d send: %v", id, unix.Errno(-cqe.Res))
			}
			if cqe.Res <= 0 {
				return fmt.Errorf("connection %d receive: %d", id, cqe.Res)
			}
			c := conns[id]
			bid, _ := cqe.BufferID()
			chunk := br.Buffer(bid, int(cqe.Res))
			if c.got+len(chunk) > l.size || !bytes.Equal(chunk, c.msg[c.got:c.got+len(chunk)]) {
				return fmt.Errorf("connection %d: echo of message %d differs from what was sent", id, c.seq)
			}
			br.Recycle(bid)
			c.got += len(chunk)
			if !cqe.More() {
				if err := arm(id); err != nil {
					return err
				}
			}
			if c.got == l.size {
				c.got = 0
				c.seq++
				done++
				if err := send(c, id); err != nil {
					return err
				}
			}
		}
		br.Publish()
		l.count.Add(done)
	}
	return nil
}

// fill writes a message that names its connection and sequence number.
func fill(msg []byte, id int, seq uint64) {
	for i := range msg {
		msg[i] = byte(id)
	}
	if len(msg) >= 12 {
		binary.LittleEndian.PutUint32(msg, uint32(id))
		binary.LittleEndian.PutUint64(msg[4:], seq)
	}
}
