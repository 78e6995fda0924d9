package ringset

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Dialing from a loop's ring: SOCKET into a direct descriptor, the socket options linked before
// CONNECT, as net.Dialer does it otherwise: every address a name resolves to is tried in turn
// (each with its share of the context's deadline), and the context's end cancels the connect in
// flight.

// DialCaps are what Dial needs to connect from the ring; without them it connects with the
// standard library and adopts the socket.
var DialCaps = []poller.Capability{poller.CapSocketDirect, poller.CapSockCmd}

// dialing is a dial's progress. Everything the kernel reads (the address, the option values,
// the attempt's timeout) lives here until the last completion.
type dialing struct {
	network string
	addrs   []netip.AddrPort // a TCP dial's addresses, tried in order
	tried   int              // the addresses tried before the current one
	addr    net.Addr         // the current attempt's
	sa      *poller.Sockaddr
	slot    uint32         // the attempt's direct socket
	opts    []SocketOption // set before connecting; the kernel reads each Value
	optErr  error          // the failure of one of opts, which cancelled the connect
	// deadline is the context's; each attempt but the last gets its share (linked timeout).
	deadline time.Time
	timeout  unix.Timespec
	firstErr error // the first attempt's failure, reported when every address failed
	// ctxErr is set when the context ended; the connect in flight (connecting) is cancelled.
	ctxErr     error
	connecting bool
	// stopWatching ends the watch on the context (context.AfterFunc's stop).
	stopWatching func() bool
}

// minAttemptTime is the least time an address is given when several share a deadline, as in
// net.Dialer.
const minAttemptTime = 2 * time.Second

// Dial connects to address ("tcp", "tcp4", "tcp6", "unix", or "udp", "udp4", "udp6") from loop
// i and serves the connection like an accepted one; TCP_NODELAY is set unless the set's
// TCPDelay says otherwise. The name is resolved here, on the caller's goroutine, and every
// address it has is tried in turn; ctx bounds the whole dial. A UDP socket, whose connect is
// local, and every socket where the kernel lacks direct sockets or socket commands, is connected
// by the standard library and adopted. The outcome reaches o on the loop; errors are
// *net.OpError, as net.Dial's are.
func (s *Set) Dial(ctx context.Context, i int, network, address string, o Opening) error {
	if i < 0 || i >= len(s.loops) {
		return fmt.Errorf("ringset: dial on loop %d of %d", i, len(s.loops))
	}
	if IsUDP(network) || s.cfg.Features.Require(DialCaps...) != nil {
		return s.dialAndAdopt(ctx, i, network, address, o)
	}
	var addrs []netip.AddrPort
	switch {
	case IsTCP(network):
		var err error
		if addrs, err = resolveTCP(ctx, network, address); err != nil {
			return &net.OpError{Op: "dial", Net: network, Err: err}
		}
	case network == "unix":
	default:
		return &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	return s.dialAddrs(ctx, i, network, address, addrs, o)
}

// dialAddrs dials addrs in turn (a TCP dial), or the unix socket at path, from loop i.
func (s *Set) dialAddrs(ctx context.Context, i int, network, path string, addrs []netip.AddrPort, o Opening) error {
	d := &dialing{network: network, addrs: addrs, opts: s.cfg.socketOptions(IsTCP(network))}
	d.deadline, _ = ctx.Deadline()
	if len(addrs) == 0 {
		d.addr = &net.UnixAddr{Name: path, Net: "unix"}
		var err error
		if d.sa, err = poller.SockaddrUnix(path); err != nil {
			return &net.OpError{Op: "dial", Net: network, Addr: d.addr, Err: err}
		}
	}
	p := &pendingOpen{Opening: o, orig: -1, dial: d}
	l := s.loops[i]
	d.stopWatching = context.AfterFunc(ctx, func() {
		err := ctx.Err()
		l.Post(func() { l.cancelDial(p, err) })
	})
	if err := l.Post(func() { l.startDial(p) }); err != nil {
		d.stopWatching()
		return err
	}
	return nil
}

// resolveTCP resolves a "host:port" for dialing as net.Dial does: an empty host is the local
// system (127.0.0.1, or ::1 for "tcp6"), and a name gives every address of the network's
// family, in the resolver's order.
func resolveTCP(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, err
	}
	if host == "" {
		if network == "tcp6" {
			return []netip.AddrPort{netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))}, nil
		}
		return []netip.AddrPort{netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))}, nil
	}
	ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	addrs := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		addrs[i] = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	}
	return addrs, nil
}

// dialAndAdopt is Dial where the ring cannot connect: the standard library connects, on the
// caller's goroutine, and the socket is adopted.
func (s *Set) dialAndAdopt(ctx context.Context, i int, network, address string, o Opening) error {
	// The set's options, not the standard library's defaults (its 15 s keep-alive), as a dial
	// from the ring would have them.
	d := net.Dialer{KeepAlive: -1, Control: func(network, _ string, rc syscall.RawConn) error {
		return fdbridge.Control(rc, func(fd int) error {
			for _, o := range s.cfg.socketOptions(IsTCP(network)) {
				if err := fdbridge.SetInt(fd, o.Level, o.Name, int(o.Value)); err != nil {
					return err
				}
			}
			return nil
		})
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

// startDial starts tracking a dial and its first attempt.
func (l *loop) startDial(p *pendingOpen) {
	if l.closing {
		p.dial.stopWatching()
		p.fail(ErrStopped)
		return
	}
	l.track(p)
	l.attempt(p)
}

// attempt creates the direct socket for the current address; its completion connects it.
func (l *loop) attempt(p *pendingOpen) {
	d := p.dial
	family := unix.AF_UNIX
	if len(d.addrs) > 0 {
		ap := d.addrs[d.tried]
		d.addr = net.TCPAddrFromAddrPort(ap)
		family = unix.AF_INET
		if ap.Addr().Is6() {
			family = unix.AF_INET6
		}
		var err error
		if d.sa, err = poller.SockaddrInet(ap); err != nil {
			l.dialFailed(p, err)
			return
		}
	}
	s := l.sqe()
	s.PrepSocketDirect(family, unix.SOCK_STREAM, 0, poller.AllocSlot)
	s.SetUserData(recordUserData(opDialSocket, p.idx))
}

func (l *loop) onDialSocket(idx uint32, res int32) {
	p := l.pending[idx]
	d := p.dial
	if res < 0 {
		l.dialFailed(p, os.NewSyscallError("socket", unix.Errno(-res)))
		return
	}
	d.slot = uint32(res)
	if l.closing || d.ctxErr != nil {
		l.closeDirect(d.slot)
		l.dialFailed(p, nil)
		return
	}
	// The options are linked before the connect, which starts only once they are all set; a
	// failing option cancels the connect (-ECANCELED), whose completion reports the dial. An
	// attempt with more addresses after it gets its share of the deadline, as a linked timeout.
	share := l.attemptTimeout(d)
	n := uint32(len(d.opts) + 1)
	if share > 0 {
		n++
	}
	if err := l.ring.Reserve(n); err != nil {
		panic(fmt.Errorf("ringset: loop %d: %w", l.idx, err))
	}
	for i := range d.opts {
		o := &d.opts[i]
		s := l.sqe()
		s.PrepSetsockopt(int32(d.slot), o.Level, o.Name, &o.Value)
		s.SetFlags(poller.FlagFixedFile | poller.FlagIOLink | poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opDialOption, idx))
	}
	s := l.sqe()
	s.PrepConnect(int32(d.slot), d.sa)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(recordUserData(opDialConnect, idx))
	if share > 0 {
		s.SetFlags(poller.FlagFixedFile | poller.FlagIOLink)
		d.timeout = unix.NsecToTimespec(int64(share))
		t := l.sqe()
		t.PrepLinkTimeout(&d.timeout, 0)
		t.SetFlags(poller.FlagCQESkipSuccess)
		t.SetUserData(recordUserData(opDialAux, idx))
	}
	d.connecting = true
}

// attemptTimeout is the current attempt's share of the dial's deadline when more addresses wait
// behind it (as net.Dialer shares it: the time left over the addresses left, but at least
// minAttemptTime), or 0: no limit of its own.
func (l *loop) attemptTimeout(d *dialing) time.Duration {
	left := len(d.addrs) - d.tried
	if d.deadline.IsZero() || left < 2 {
		return 0
	}
	remaining := time.Until(d.deadline)
	return min(remaining, max(remaining/time.Duration(left), minAttemptTime))
}

func (l *loop) onDialOption(idx uint32, res int32) {
	if p := l.pending[idx]; p != nil && p.dial.optErr == nil {
		p.dial.optErr = os.NewSyscallError("setsockopt", unix.Errno(-res))
	}
}

func (l *loop) onDialConnect(idx uint32, res int32) {
	p := l.pending[idx]
	d := p.dial
	d.connecting = false
	if res >= 0 && !l.closing && d.ctxErr == nil {
		l.untrack(idx)
		d.stopWatching()
		l.serveConn(d.slot, &p.Opening, false, nil)
		return
	}
	l.closeDirect(d.slot)
	var err error
	switch {
	case d.optErr != nil:
		err = d.optErr
	case res < 0 && res != -int32(unix.ECANCELED):
		err = os.NewSyscallError("connect", unix.Errno(-res))
	case res < 0 && !l.closing && d.ctxErr == nil: // the attempt's share of the deadline ran out
		err = os.ErrDeadlineExceeded
	}
	l.dialFailed(p, err)
}

// dialFailed ends the current attempt, which failed with err (nil: the dial was stopped, by
// the loop's shutdown or the context's end): the next address is tried, or the dial reports its
// first failure.
func (l *loop) dialFailed(p *pendingOpen, err error) {
	d := p.dial
	if d.firstErr == nil {
		d.firstErr = err
	}
	d.optErr = nil
	if d.tried++; err != nil && d.tried < len(d.addrs) && !l.closing && d.ctxErr == nil {
		l.attempt(p)
		return
	}
	l.untrack(p.idx)
	d.stopWatching()
	switch {
	case d.ctxErr != nil:
		err = d.ctxErr
	case l.closing && err == nil:
		p.fail(ErrStopped)
		return
	default:
		err = d.firstErr
	}
	p.fail(&net.OpError{Op: "dial", Net: d.network, Addr: d.addr, Err: err})
}

// cancelDial stops a dial whose context ended with err: the connect in flight is cancelled (its
// completion reports err); a socket being created is closed when it arrives.
func (l *loop) cancelDial(p *pendingOpen, err error) {
	d := p.dial
	if !l.tracked(p) || d.ctxErr != nil {
		return
	}
	d.ctxErr = err
	if d.connecting {
		s := l.sqe()
		s.PrepCancel(recordUserData(opDialConnect, p.idx), 0)
		s.SetFlags(poller.FlagCQESkipSuccess)
		s.SetUserData(recordUserData(opDialAux, p.idx))
	}
}
