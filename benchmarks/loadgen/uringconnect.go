package loadgen

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// uringConnectClient measures short-lived connections from one io_uring on one locked thread.
// Each of its Conns clients owns a slot of the ring's table and runs every connection as one
// linked chain: SOCKET into its slot, CONNECT, SEND of the message, RECV of its echo (all of
// it) and CLOSE. Only the receive and the close complete when all goes well (the rest skip
// success), and the whole chain is one submission: the client's CPU per connection is a
// fraction of the net client's, so that the server's accept and close paths, not the load
// generator, set the rate.
//
// The client closes first, so each connection leaves its port in TIME_WAIT, which the kernel
// lends to a new connection to the same server only a second later: from one source address,
// tens of thousands of connections a second would run through the ephemeral ports and make
// connect, not the server, the limit. To a loopback server each client therefore binds its own
// source address in 127.0.0.0/8 first.
type uringConnectClient struct {
	s        *shared
	loopback bool // the server is on 127.0.0.0/8: each client binds a source address of its own
}

// uringConnector is one client's state: the message it sends and where its echo lands; the
// kernel reads and writes them while the chain is in flight.
type uringConnector struct {
	local    *poller.Sockaddr // the source address bound first, nil for none
	msg, got []byte
	seq      uint64
	started  int64 // when the chain was submitted, in nanoseconds since the client started
}

// The steps of a chain, in the low bits of the user data (the client's index above them);
// SOCKET, CONNECT and SEND complete only when they fail.
const (
	stepOther = iota
	stepRecv
	stepClose
	stepBits = 2
)

func startUringConnect(s *shared) (client, error) {
	ap, err := netip.ParseAddrPort(s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: uring connect client: %w", err)
	}
	sa, err := poller.SockaddrInet(ap)
	if err != nil {
		return nil, fmt.Errorf("loadgen: uring connect client: %w", err)
	}
	domain := unix.AF_INET
	if !ap.Addr().Is4() {
		domain = unix.AF_INET6
	}
	c := &uringConnectClient{s: s, loopback: ap.Addr().Is4() && ap.Addr().IsLoopback()}
	return startRingThread(s, func(ready chan<- error) error { return c.run(sa, domain, ready) })
}

func (c *uringConnectClient) run(sa *poller.Sockaddr, domain int, ready chan<- error) error {
	n := c.s.cfg.Conns
	r, err := poller.NewLoopRing(uint32(roundUpPow2(6*n)), uint32(roundUpPow2(12*n)))
	if err == nil {
		if err = r.RegisterSparseFiles(uint32(n)); err != nil {
			r.Close()
		}
	}
	if err != nil {
		err = fmt.Errorf("loadgen: uring connect client: %w", err)
		ready <- err
		return err
	}
	defer r.Close()
	ready <- nil
	return c.drive(r, sa, domain)
}

func roundUpPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// drive starts every client's first connection and then, as each one's close completes,
// checks and counts it and starts its next, until the run stops; then it waits for the chains
// in flight.
func (c *uringConnectClient) drive(r *poller.Ring, sa *poller.Sockaddr, domain int) error {
	size := c.s.cfg.Size
	start := time.Now()
	clients := make([]uringConnector, c.s.cfg.Conns)
	chain := func(id int) error {
		u := &clients[id]
		fill(u.msg, size, id, u.seq)
		clear(u.got)
		u.started = int64(time.Since(start))
		if err := r.Reserve(6); err != nil {
			return err
		}
		slot, tag := uint32(id), uint64(id)<<stepBits
		link := poller.FlagIOLink | poller.FlagCQESkipSuccess
		s, _ := r.GetSQE()
		s.PrepSocketDirect(domain, unix.SOCK_STREAM, 0, slot)
		s.SetFlags(link)
		s.SetUserData(tag | stepOther)
		if u.local != nil {
			s, _ = r.GetSQE()
			s.PrepBind(int32(slot), u.local)
			s.SetFlags(poller.FlagFixedFile | link)
			s.SetUserData(tag | stepOther)
		}
		s, _ = r.GetSQE()
		s.PrepConnect(int32(slot), sa)
		s.SetFlags(poller.FlagFixedFile | link)
		s.SetUserData(tag | stepOther)
		s, _ = r.GetSQE()
		s.PrepSend(int32(slot), u.msg, 0)
		s.SetFlags(poller.FlagFixedFile | link)
		s.SetUserData(tag | stepOther)
		s, _ = r.GetSQE()
		s.PrepRecv(int32(slot), u.got, unix.MSG_WAITALL)
		s.SetFlags(poller.FlagFixedFile | poller.FlagIOLink)
		s.SetUserData(tag | stepRecv)
		s, _ = r.GetSQE()
		s.PrepCloseDirect(slot)
		s.SetUserData(tag | stepClose)
		return nil
	}
	for id := range clients {
		clients[id] = uringConnector{msg: make([]byte, size), got: make([]byte, size)}
		if c.loopback {
			local, err := poller.SockaddrInet(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1 + byte(id/250), 1 + byte(id%250)}), 0))
			if err != nil {
				return err
			}
			clients[id].local = local
		}
		if err := chain(id); err != nil {
			return err
		}
	}
	inFlight := len(clients)
	cqes := make([]poller.CQE, 4096)
	deadline := time.Now().Add(time.Hour)
	for inFlight > 0 {
		if c.s.phase.Load() == stopping && deadline.After(time.Now().Add(10*time.Second)) {
			deadline = time.Now().Add(10 * time.Second)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loadgen: uring connect client: %d connections still open 10 s after the run", inFlight)
		}
		if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil && err != poller.ErrTimedOut {
			return err
		}
		n := r.ReapCompletions(cqes)
		now := int64(time.Since(start))
		var done int64
		for i := range cqes[:n] {
			cqe := &cqes[i]
			id, step := int(cqe.UserData>>stepBits), cqe.UserData&(1<<stepBits-1)
			u := &clients[id]
			switch {
			case step == stepOther:
				return fmt.Errorf("loadgen: connect %d, connection %d: %w", id, u.seq, unix.Errno(-cqe.Res))
			case step == stepRecv && cqe.Res != int32(size):
				return fmt.Errorf("loadgen: connect %d, connection %d: receive: %d of %d bytes", id, u.seq, cqe.Res, size)
			case step == stepRecv:
				if !bytes.Equal(u.got, u.msg) {
					return fmt.Errorf("loadgen: connect %d: %w", id, mismatch(u.seq, 0, u.got, u.msg))
				}
			case cqe.Res < 0:
				return fmt.Errorf("loadgen: connect %d, connection %d: close: %w", id, u.seq, unix.Errno(-cqe.Res))
			default: // closed: one connection done
				if c.s.measuring() {
					c.s.hist.record(0, now-u.started, 1)
					done++
				}
				u.seq++
				if c.s.phase.Load() == stopping {
					inFlight--
				} else if err := chain(id); err != nil {
					return err
				}
			}
		}
		c.s.messages.Add(done)
	}
	return nil
}
