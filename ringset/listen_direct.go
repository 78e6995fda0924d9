package ringset

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// TCP listeners are born as direct descriptors where the kernel allows it: SOCKET into the
// ring's listener slot, the options through URING_CMD, BIND and LISTEN, all ring operations on
// the ring that will accept on it. Elsewhere (and for unix and UDP sockets) the listener is a
// regular socket from the standard library, placed into the ring's table (Set.listen).

// directListenCaps are what a listener born direct needs; FIXED_FD_INSTALL is for learning the
// port the kernel chose for port 0 (getsockname has no ring operation on this kernel).
var directListenCaps = []poller.Capability{poller.CapSocketDirect, poller.CapBindListen, poller.CapSockCmd, poller.CapFixedFdInstall}

// listenDirect creates a listening TCP socket in slot listenerSlot of r, on the calling owner
// thread before anything else is in flight on r, and returns its address and a regular
// descriptor for it (the caller's, to close). Errors are *net.OpError, as net.Listen's are.
func listenDirect(r *poller.Ring, cfg *Config, address string, reusePort bool) (net.Addr, int, error) {
	listenErr := func(addr net.Addr, err error) error {
		return &net.OpError{Op: "listen", Net: cfg.Network, Addr: addr, Err: err}
	}
	ta, err := net.ResolveTCPAddr(cfg.Network, address)
	if err != nil {
		return nil, -1, listenErr(nil, err)
	}
	ap, family, v6only, err := listenAddr(cfg.Network, ta)
	if err != nil {
		return nil, -1, listenErr(ta, err)
	}
	sa, err := poller.SockaddrInet(ap)
	if err != nil {
		return nil, -1, listenErr(ta, err)
	}
	if err := syncCall(r, "socket", func(s *poller.SQE) {
		s.PrepSocketDirect(family, unix.SOCK_STREAM, 0, listenerSlot)
	}); err != nil {
		return nil, -1, listenErr(ta, err)
	}
	opts := []SocketOption{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
	if reusePort {
		opts = append(opts, SocketOption{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1})
	}
	if family == unix.AF_INET6 {
		opts = append(opts, SocketOption{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only})
	}
	opts = append(opts, cfg.socketOptions(true)...) // inherited by accepted sockets
	fd, err := startListening(r, opts, sa, cfg.Backlog)
	if err != nil {
		syncOp(r, func(s *poller.SQE) { s.PrepCloseDirect(listenerSlot) })
		return nil, -1, listenErr(ta, err)
	}
	local, _, _ := fdbridge.Addrs(fd, false)
	if local == nil {
		return ta, fd, nil
	}
	return local, fd, nil
}

// startListening sets opts on the socket in listenerSlot of r, binds it to sa, makes it listen
// and returns a regular descriptor for it, to learn the address it got (the port the kernel
// chose for port 0).
func startListening(r *poller.Ring, opts []SocketOption, sa *poller.Sockaddr, backlog int) (int, error) {
	for i := range opts {
		o := &opts[i] // the kernel reads the value when the operation runs, before onListener returns
		if err := onListener(r, "setsockopt", func(s *poller.SQE) {
			s.PrepSetsockopt(listenerSlot, o.Level, o.Name, &o.Value)
		}); err != nil {
			return -1, err
		}
	}
	if err := onListener(r, "bind", func(s *poller.SQE) { s.PrepBind(listenerSlot, sa) }); err != nil {
		return -1, err
	}
	if err := onListener(r, "listen", func(s *poller.SQE) { s.PrepListen(listenerSlot, backlog) }); err != nil {
		return -1, err
	}
	return fdbridge.Install(r, listenerSlot, recordUserData(opInstall, listenerSlot), func(poller.CQE) {})
}

// onListener runs one operation on the socket in listenerSlot (a direct descriptor) through
// syncCall.
func onListener(r *poller.Ring, what string, prep func(*poller.SQE)) error {
	return syncCall(r, what, func(s *poller.SQE) { prep(s); s.SetFlags(poller.FlagFixedFile) })
}

// syncCall runs one operation on r (see syncOp) and reports a failure as the system call what.
func syncCall(r *poller.Ring, what string, fill func(*poller.SQE)) error {
	res, err := syncOp(r, fill)
	if err != nil {
		return err
	}
	if res < 0 {
		return os.NewSyscallError(what, unix.Errno(-res))
	}
	return nil
}

// listenAddr decides the socket's family and address as net.Listen does: "tcp" with no address
// (or an unspecified one) listens dual-stack on [::]; an IPv4 address, or "tcp4", on AF_INET;
// "tcp6" on IPv6 alone.
func listenAddr(network string, ta *net.TCPAddr) (ap netip.AddrPort, family int, v6only int32, err error) {
	port := uint16(ta.Port)
	ip4 := ta.IP.To4()
	switch {
	case network == "tcp4" || (network == "tcp" && ip4 != nil && !ta.IP.IsUnspecified()):
		if ip4 == nil {
			ip4 = net.IPv4zero.To4()
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip4)), port), unix.AF_INET, 0, nil
	}
	addr := netip.IPv6Unspecified()
	if ta.IP != nil && !ta.IP.IsUnspecified() {
		addr = netip.AddrFrom16([16]byte(ta.IP.To16()))
	}
	if ta.Zone != "" {
		ifi, err := net.InterfaceByName(ta.Zone)
		if err != nil {
			return ap, 0, 0, err
		}
		addr = addr.WithZone(strconv.Itoa(ifi.Index))
	}
	if network == "tcp6" {
		v6only = 1
	}
	return netip.AddrPortFrom(addr, port), unix.AF_INET6, v6only, nil
}

// syncOp runs one operation on r and returns its result; only while nothing else is in flight
// on r (a ring's setup).
func syncOp(r *poller.Ring, fill func(*poller.SQE)) (int32, error) {
	s, err := r.GetSQE()
	if err != nil {
		return 0, err
	}
	fill(s)
	s.SetUserData(recordUserData(opSetup, 0))
	var c [1]poller.CQE
	for r.ReapCompletions(c[:]) == 0 {
		if _, err := r.SubmitAndWait(1); err != nil {
			return 0, fmt.Errorf("ringset: %w", err)
		}
	}
	return c[0].Res, nil
}
