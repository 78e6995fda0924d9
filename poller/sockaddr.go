package poller

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sockaddr is a socket address in the kernel's binary form, for BIND and CONNECT.
type Sockaddr struct {
	raw unix.RawSockaddrAny
	len uint32
}

// SetMsgName points msg's name (the destination of a SENDMSG, typically) at sa.
func (sa *Sockaddr) SetMsgName(msg *unix.Msghdr) {
	msg.Name = (*byte)(unsafe.Pointer(&sa.raw))
	msg.Namelen = sa.len
}

// SockaddrInet builds an AF_INET address for a 4-byte address and an AF_INET6 address otherwise
// (a 4-in-6 address stays AF_INET6, for dual-stack sockets; Unmap it for an AF_INET socket).
// The IPv6 zone must be a numeric interface index or empty: names are not resolved here.
func SockaddrInet(ap netip.AddrPort) (*Sockaddr, error) {
	sa := new(Sockaddr)
	if err := sa.SetInet(ap); err != nil {
		return nil, err
	}
	return sa, nil
}

// SetInet makes sa the address ap, in place (as SockaddrInet does, without allocating).
func (sa *Sockaddr) SetInet(ap netip.AddrPort) error {
	*sa = Sockaddr{}
	addr := ap.Addr()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	switch {
	case addr.Is4():
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		in.Family = unix.AF_INET
		in.Port = *(*uint16)(unsafe.Pointer(&port))
		in.Addr = addr.As4()
		sa.len = unix.SizeofSockaddrInet4
	case addr.Is6():
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa.raw))
		in.Family = unix.AF_INET6
		in.Port = *(*uint16)(unsafe.Pointer(&port))
		in.Addr = addr.As16()
		if z := addr.Zone(); z != "" {
			id, err := strconv.ParseUint(z, 10, 32)
			if err != nil {
				return fmt.Errorf("poller: sockaddr %v: zone %q is not a numeric interface index", ap, z)
			}
			in.Scope_id = uint32(id)
		}
		sa.len = unix.SizeofSockaddrInet6
	default:
		return fmt.Errorf("poller: sockaddr %v: not an IP address", ap)
	}
	return nil
}

// SockaddrUnix builds an AF_UNIX address; a leading '@' names an abstract socket.
func SockaddrUnix(path string) (*Sockaddr, error) {
	sa := new(Sockaddr)
	un := (*unix.RawSockaddrUnix)(unsafe.Pointer(&sa.raw))
	if len(path) == 0 || len(path) >= len(un.Path) {
		return nil, fmt.Errorf("poller: sockaddr unix %q: length must be 1 to %d", path, len(un.Path)-1)
	}
	un.Family = unix.AF_UNIX
	for i := 0; i < len(path); i++ {
		un.Path[i] = int8(path[i])
	}
	if path[0] == '@' {
		un.Path[0] = 0
	}
	// sun_family plus the path; a pathname socket also counts its terminating NUL.
	sa.len = uint32(2 + len(path))
	if path[0] != '@' {
		sa.len++
	}
	return sa, nil
}

// Family is the address family (unix.AF_INET, AF_INET6 or AF_UNIX).
func (sa *Sockaddr) Family() int { return int(sa.raw.Addr.Family) }

// AddrPortFromRaw decodes an AF_INET or AF_INET6 address as the kernel wrote it (for example
// the name ParseRecvmsgOut returns); ok is false for other families or a short buffer.
func AddrPortFromRaw(b []byte) (ap netip.AddrPort, ok bool) {
	if len(b) < 2 {
		return ap, false
	}
	family := *(*uint16)(unsafe.Pointer(&b[0]))
	switch {
	case family == unix.AF_INET && len(b) >= unix.SizeofSockaddrInet4:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(&b[0]))
		port := binary.BigEndian.Uint16(b[2:4])
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), port), true
	case family == unix.AF_INET6 && len(b) >= unix.SizeofSockaddrInet6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(&b[0]))
		port := binary.BigEndian.Uint16(b[2:4])
		addr := netip.AddrFrom16(in.Addr)
		if in.Scope_id != 0 {
			addr = addr.WithZone(fmt.Sprint(in.Scope_id))
		}
		return netip.AddrPortFrom(addr, port), true
	}
	return ap, false
}

// AddrPort decodes an AF_INET or AF_INET6 Sockaddr.
func (sa *Sockaddr) AddrPort() (netip.AddrPort, bool) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sa.raw)), sa.len)
	return AddrPortFromRaw(b)
}
