package fdbridge

import (
	"net"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket options net.TCPConn and gnet.Conn offer, on a regular descriptor. A failure is
// an *os.SyscallError named "setsockopt", as net's own is inside the *net.OpError it returns;
// the caller, which knows the connection's addresses, puts it in one.

// SetNoDelay turns Nagle's algorithm off (true) or on.
func SetNoDelay(fd int, noDelay bool) error {
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(noDelay))
}

// SetKeepAlive turns keep-alive probes on or off; a positive period sets both the idle time
// before the first probe and the interval between probes, rounded up to whole seconds, as
// net.TCPConn does.
func SetKeepAlive(fd int, on bool, period time.Duration) error {
	if err := setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(on)); err != nil {
		return err
	}
	if !on || period <= 0 {
		return nil
	}
	secs := int((period + time.Second - 1) / time.Second)
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return err
	}
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}

// SetKeepAliveProbes turns keep-alive on or off and, when on, sets the idle time before the
// first probe and the interval between probes (in seconds, each at least 1) and how many
// unanswered probes end the connection, as gnet's Conn.SetKeepAlive does.
func SetKeepAliveProbes(fd int, on bool, idle, intvl, cnt int) error {
	if on && (idle <= 0 || intvl <= 0 || cnt <= 0) {
		// The kernel would refuse them one by one, after keep-alive was already on.
		return os.NewSyscallError("setsockopt", unix.EINVAL)
	}
	if err := setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(on)); err != nil || !on {
		return err
	}
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, idle); err != nil {
		return err
	}
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, intvl); err != nil {
		return err
	}
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, cnt)
}

// SetLinger sets what Close does with unsent data: sec < 0 sends it in the background (the
// default), 0 discards it and resets the connection, sec > 0 waits up to sec seconds.
func SetLinger(fd int, sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}

// SetReadBuffer sets the socket's receive buffer size.
func SetReadBuffer(fd, bytes int) error {
	return setInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes)
}

// SetWriteBuffer sets the socket's send buffer size.
func SetWriteBuffer(fd, bytes int) error {
	return setInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes)
}

// Addrs returns the socket's local and peer addresses as *net.TCPAddr (*net.UDPAddr for a
// datagram socket) or *net.UnixAddr. When the peer's cannot be had (the connection was reset)
// the local one is still returned.
//
// Every connection keeps what this returns for its life, so it allocates no more than it
// returns: the system calls fill a sockaddr on the stack (unix.Getsockname would allocate two
// records of its own, which the heap carries as garbage), and a TCP local address equal to the
// previous one returned is that same *net.TCPAddr, shared, as gnet shares its listener's among
// all its connections (every connection accepted on a listener has the same).
func Addrs(fd int, datagram bool) (local, remote net.Addr, err error) {
	if local, err = sockAddr(unix.SYS_GETSOCKNAME, fd, datagram); err != nil {
		return nil, nil, err
	}
	remote, err = sockAddr(unix.SYS_GETPEERNAME, fd, datagram)
	return local, remote, err
}

// sockAddr is the socket's local (trap getsockname) or peer (getpeername) address.
func sockAddr(trap uintptr, fd int, datagram bool) (net.Addr, error) {
	call, get := "getsockname", unix.Getsockname
	if trap == unix.SYS_GETPEERNAME {
		call, get = "getpeername", unix.Getpeername
	}
	var rsa unix.RawSockaddrAny
	if err := sockname(trap, fd, &rsa); err != nil {
		return nil, os.NewSyscallError(call, err)
	}
	return rawAddr(&rsa, datagram, trap == unix.SYS_GETSOCKNAME, fd, get), nil
}

// Sockname is getsockname(2) of fd into rsa, which the caller keeps (on its stack: nothing is
// allocated).
func Sockname(fd int, rsa *unix.RawSockaddrAny) error {
	return os.NewSyscallError("getsockname", sockname(unix.SYS_GETSOCKNAME, fd, rsa))
}

// sockname is getsockname(2) or getpeername(2) (trap) of fd into rsa.
func sockname(trap uintptr, fd int, rsa *unix.RawSockaddrAny) error {
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return e
	}
	return nil
}

// lastLocal is the TCP local address Addrs returned last, shared with the next connection that
// has the same one.
var lastLocal atomic.Pointer[net.TCPAddr]

// rawAddr is rsa as net names it (see netAddr); a TCP local address may be lastLocal. A TCP
// address is read from rsa; anything else (unix, datagram sockets: rarer) is asked again
// through get, unix.Getsockname or unix.Getpeername, whose parsing it reuses.
func rawAddr(rsa *unix.RawSockaddrAny, datagram, local bool, fd int, get func(int) (unix.Sockaddr, error)) net.Addr {
	if datagram || (rsa.Addr.Family != unix.AF_INET && rsa.Addr.Family != unix.AF_INET6) {
		sa, err := get(fd)
		if err != nil {
			return nil
		}
		return netAddr(sa, datagram)
	}
	if local && rsa.Addr.Family == unix.AF_INET {
		in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		port := int(in4.Port>>8 | in4.Port<<8) // network byte order
		if a := lastLocal.Load(); a != nil && a.Port == port && a.Zone == "" && net.IP(in4.Addr[:]).Equal(a.IP) {
			return a
		}
	}
	a := TCPAddrFromRaw(rsa)
	if local && a != nil {
		lastLocal.Store(a)
	}
	return a
}

// TCPAddrFromRaw is the IPv4 or IPv6 address in rsa (as accept, getsockname and getpeername
// write it) as gnet names a TCP one, an IPv4 address in 16 bytes (IPv4-in-IPv6), in one
// allocation; nil for any other family.
func TCPAddrFromRaw(rsa *unix.RawSockaddrAny) *net.TCPAddr { return tcpAddrFromRaw(rsa, false) }

// NetTCPAddrFromRaw is TCPAddrFromRaw as net names the address of a connection it accepted or
// dialed: an IPv4 address in 4 bytes (netip's AddrPort of it is then IPv4, not IPv4-in-IPv6).
func NetTCPAddrFromRaw(rsa *unix.RawSockaddrAny) *net.TCPAddr { return tcpAddrFromRaw(rsa, true) }

func tcpAddrFromRaw(rsa *unix.RawSockaddrAny, short4 bool) *net.TCPAddr {
	// The address and its IP in one allocation.
	v := new(struct {
		a  net.TCPAddr
		ip [net.IPv6len]byte
	})
	v.a.IP = v.ip[:]
	switch rsa.Addr.Family {
	case unix.AF_INET:
		in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		if short4 {
			v.a.IP = v.ip[:net.IPv4len]
			copy(v.a.IP, in4.Addr[:])
		} else {
			copy(v.ip[:], net.IPv4(in4.Addr[0], in4.Addr[1], in4.Addr[2], in4.Addr[3]))
		}
		v.a.Port = int(in4.Port>>8 | in4.Port<<8) // network byte order
	case unix.AF_INET6:
		in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		v.ip = in6.Addr
		v.a.Port = int(in6.Port>>8 | in6.Port<<8)
		v.a.Zone = zoneName(in6.Scope_id)
	default:
		return nil
	}
	return &v.a
}

// netAddr is sa as net names it: *net.TCPAddr, or *net.UDPAddr for a datagram socket's, or
// *net.UnixAddr.
func netAddr(sa unix.Sockaddr, datagram bool) net.Addr {
	var ip net.IP
	var port int
	var zone string
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = net.IP(a.Addr[:]).To16(), a.Port
	case *unix.SockaddrInet6:
		ip, port, zone = net.IP(a.Addr[:]), a.Port, zoneName(a.ZoneId)
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	default:
		return nil
	}
	if datagram {
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
}

// setInt sets an integer option; os.NewSyscallError is nil for a nil error.
func setInt(fd, level, opt, v int) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, level, opt, v))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
