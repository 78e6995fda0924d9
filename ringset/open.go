package ringset

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Connections the set did not accept: a descriptor adopted into a loop's table (Adopt), or a
// connection the loop dials itself (Dial). Both end in the same place as an accepted
// connection (openConn), with two hooks around OnOpen.

// Opening is what the caller of Adopt or Dial learns, on the loop's goroutine: Prepare runs
// before OnOpen (to set the connection's context, say), Opened after it, or with the error
// that kept the connection from opening (then c is nil). Either may be nil.
type Opening struct {
	Prepare func(c *conn.Conn)
	Opened  func(c *conn.Conn, err error)
}

func (o *Opening) fail(err error) {
	if o.Opened != nil {
		o.Opened(nil, err)
	}
}

// pendingOpen is one adoption or dial in flight on a loop. Everything the kernel reads or
// writes (the descriptor array, the address, the option value) lives here until the last
// completion.
type pendingOpen struct {
	Opening
	fds     [1]int32 // FILES_UPDATE: the descriptor in; the slot the kernel chose, out
	orig    int      // the adopted descriptor, closed once the table holds it
	slot    uint32   // a dial's direct socket
	sa      *poller.Sockaddr
	network string
	addr    net.Addr
	opts    []SocketOption // set before connecting; the kernel reads each Value
	optErr  error          // the failure of one of opts, which cancelled the connect
	// datagram: the adopted descriptor is a connected UDP socket.
	datagram bool
}

// Adopt places fd, an open connected socket (a stream, or a connected datagram socket when
// datagram), into loop i's table and serves it like an accepted connection. Adopt owns fd from
// the call on: it is closed once the table holds its own reference, or on failure. The outcome
// reaches o on the loop.
func (s *Set) Adopt(i int, fd int, datagram bool, o Opening) error {
	if i < 0 || i >= len(s.loops) {
		unix.Close(fd)
		return fmt.Errorf("ringset: adopt on loop %d of %d", i, len(s.loops))
	}
	l := s.loops[i]
	p := &pendingOpen{Opening: o, orig: fd, datagram: datagram}
	p.fds[0] = int32(fd)
	if err := l.Post(func() { l.startAdopt(p) }); err != nil {
		unix.Close(fd)
		return err
	}
	return nil
}

// DialCaps are what Dial needs to connect from the ring; without them it connects with the
// standard library and adopts the socket.
var DialCaps = []poller.Capability{poller.CapSocketDirect, poller.CapSockCmd}

// Dial connects to address ("tcp", "tcp4", "tcp6", "unix", or "udp", "udp4", "udp6") from loop
// i, with SOCKET into a direct descriptor and CONNECT, and serves the connection like an
// accepted one; TCP_NODELAY is set unless the set's TCPDelay says otherwise. The name is
// resolved here, on the caller's goroutine. A UDP socket, whose connect is local, and every
// socket where the kernel lacks direct sockets or socket commands, is connected by the standard
// library and adopted. The outcome reaches o on the loop; errors are *net.OpError, as net.Dial's
// are.
func (s *Set) Dial(ctx context.Context, i int, network, address string, o Opening) error {
	if i < 0 || i >= len(s.loops) {
		return fmt.Errorf("ringset: dial on loop %d of %d", i, len(s.loops))
	}
	if isUDP(network) || s.cfg.Features.Require(DialCaps...) != nil {
		return s.dialAndAdopt(ctx, i, network, address, o)
	}
	p := &pendingOpen{Opening: o, orig: -1, network: network}
	dialErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Addr: p.addr, Err: err} }
	family := unix.AF_UNIX
	switch network {
	case "tcp", "tcp4", "tcp6":
		ap, err := resolveTCP(ctx, network, address)
		if err != nil {
			return dialErr(err)
		}
		p.addr = net.TCPAddrFromAddrPort(ap)
		family = unix.AF_INET
		if ap.Addr().Is6() {
			family = unix.AF_INET6
		}
		if p.sa, err = poller.SockaddrInet(ap); err != nil {
			return dialErr(err)
		}
	case "unix":
		p.addr = &net.UnixAddr{Name: address, Net: "unix"}
		var err error
		if p.sa, err = poller.SockaddrUnix(address); err != nil {
			return dialErr(err)
		}
	default:
		return dialErr(net.UnknownNetworkError(network))
	}
	p.opts = s.cfg.socketOptions(isTCP(network))
	l := s.loops[i]
	return l.Post(func() { l.startDial(p, family) })
}

// resolveTCP resolves a "host:port" for dialing as net.Dial does for one address: an empty
// host is the local system (127.0.0.1, or ::1 for "tcp6"), and of several addresses the first
// of the network's family is used.
func resolveTCP(ctx context.Context, network, address string) (netip.AddrPort, error) {
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		if network == "tcp6" {
			return netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)), nil
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)), nil
	}
	ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
}

// dialAndAdopt is Dial where the ring cannot connect: the standard library connects, on the
// caller's goroutine, and the socket is adopted.
func (s *Set) dialAndAdopt(ctx context.Context, i int, network, address string, o Opening) error {
	// The set's options, not the standard library's defaults (its 15 s keep-alive), as a dial
	// from the ring would have them.
	d := net.Dialer{KeepAlive: -1, Control: func(network, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			for _, o := range s.cfg.socketOptions(isTCP(network)) {
				if serr = unix.SetsockoptInt(int(fd), o.Level, o.Name, int(o.Value)); serr != nil {
					serr = os.NewSyscallError("setsockopt", serr)
					return
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return err
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(!s.cfg.TCPDelay) // net.Dial turns Nagle off after Control runs
	}
	return s.AdoptConn(i, c, o)
}

// AdoptConn is Adopt of a duplicate of c's descriptor (c must be a *net.TCPConn, a
// *net.UnixConn or a connected *net.UDPConn); c itself stays the caller's, to close, as gnet's
// Enroll leaves it.
func (s *Set) AdoptConn(i int, c net.Conn, o Opening) error {
	datagram := false
	switch c := c.(type) {
	case *net.TCPConn, *net.UnixConn:
	case *net.UDPConn:
		if c.RemoteAddr() == nil {
			return fmt.Errorf("adopt %v: a UDP socket that is not connected", c.LocalAddr())
		}
		datagram = true
	default:
		return fmt.Errorf("adopt %T: not a TCP, unix or UDP connection", c)
	}
	fd, err := fdbridge.Dup(c.(syscall.Conn))
	if err != nil {
		return err
	}
	return s.Adopt(i, fd, datagram, o)
}

// startAdopt submits the FILES_UPDATE that places the descriptor in a free slot.
func (l *loop) startAdopt(p *pendingOpen) {
	if l.closing {
		unix.Close(p.orig)
		p.fail(ErrStopped)
		return
	}
	idx := l.track(p)
	s := l.sqe()
	s.PrepFilesUpdate(p.fds[:], poller.AllocSlot)
	s.SetUserData(userData(opAdopt, 0, idx))
}

func (l *loop) onAdopt(idx uint32, res int32) {
	p := l.untrack(idx)
	unix.Close(p.orig) // the table holds its own reference now, or nothing at all
	if res < 1 {
		if res == 0 {
			res = -int32(unix.EBADF)
		}
		p.fail(os.NewSyscallError("io_uring files update", unix.Errno(-res)))
		return
	}
	l.serveConn(uint32(p.fds[0]), &p.Opening, p.datagram)
}

// startDial creates the direct socket; its completion connects it.
func (l *loop) startDial(p *pendingOpen, family int) {
	if l.closing {
		p.fail(ErrStopped)
		return
	}
	idx := l.track(p)
	s := l.sqe()
	s.PrepSocketDirect(family, unix.SOCK_STREAM, 0, poller.AllocSlot)
	s.SetUserData(userData(opDialSocket, 0, idx))
}

func (l *loop) onDialSocket(idx uint32, res int32) {
	p := l.pending[idx]
	if res < 0 {
		l.untrack(idx)
		p.fail(&net.OpError{Op: "dial", Net: p.network, Addr: p.addr, Err: os.NewSyscallError("socket", unix.Errno(-res))})
		return
	}
	p.slot = uint32(res)
	if l.closing {
		l.untrack(idx)
		l.closeDirect(p.slot)
		p.fail(ErrStopped)
		return
	}
	// The options are linked before the connect, which starts only once they are all set; a
	// failing option cancels the connect (-ECANCELED), whose completion reports the dial.
	if err := l.ring.Reserve(uint32(len(p.opts) + 1)); err != nil {
		panic(fmt.Errorf("ringset: loop %d: %w", l.idx, err))
	}
	for i := range p.opts {
		o := &p.opts[i]
		s := l.sqe()
		s.PrepSetsockopt(int32(p.slot), o.Level, o.Name, &o.Value)
		s.SetFlags(poller.FlagFixedFile | poller.FlagIOLink | poller.FlagCQESkipSuccess)
		s.SetUserData(userData(opDialOption, 0, idx))
	}
	s := l.sqe()
	s.PrepConnect(int32(p.slot), p.sa)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(userData(opDialConnect, 0, idx))
}

func (l *loop) onDialOption(idx uint32, res int32) {
	if p := l.pending[idx]; p != nil && p.optErr == nil {
		p.optErr = os.NewSyscallError("setsockopt", unix.Errno(-res))
	}
}

func (l *loop) onDialConnect(idx uint32, res int32) {
	p := l.untrack(idx)
	if res < 0 || l.closing {
		l.closeDirect(p.slot)
		err := error(ErrStopped)
		switch {
		case p.optErr != nil:
			err = &net.OpError{Op: "dial", Net: p.network, Addr: p.addr, Err: p.optErr}
		case res < 0:
			err = &net.OpError{Op: "dial", Net: p.network, Addr: p.addr, Err: os.NewSyscallError("connect", unix.Errno(-res))}
		}
		p.fail(err)
		return
	}
	l.serveConn(p.slot, &p.Opening, false)
}

// closeDirect closes a slot that never became a connection; nothing waits for it.
func (l *loop) closeDirect(slot uint32) {
	s := l.sqe()
	s.PrepCloseDirect(slot)
	s.SetFlags(poller.FlagCQESkipSuccess)
	s.SetUserData(userData(opCloseOrphan, 0, slot))
}

// track keeps p until its last completion; the index rides in the completions' slot bits.
func (l *loop) track(p *pendingOpen) uint32 {
	if n := len(l.pendingFree); n > 0 {
		idx := l.pendingFree[n-1]
		l.pendingFree = l.pendingFree[:n-1]
		l.pending[idx] = p
		return idx
	}
	l.pending = append(l.pending, p)
	return uint32(len(l.pending) - 1)
}

func (l *loop) untrack(idx uint32) *pendingOpen {
	p := l.pending[idx]
	l.pending[idx] = nil
	l.pendingFree = append(l.pendingFree, idx)
	return p
}

// hasPending reports whether an adoption or a dial is in flight.
func (l *loop) hasPending() bool { return len(l.pendingFree) < len(l.pending) }

// failPending tells everyone still waiting for an adoption or a dial that the loop stopped;
// closing the ring afterwards closes any slot they held.
func (l *loop) failPending() {
	for i, p := range l.pending {
		if p != nil {
			l.untrack(uint32(i))
			if p.orig >= 0 {
				unix.Close(p.orig) // an adoption whose update never completed
			}
			p.fail(ErrStopped)
		}
	}
}
