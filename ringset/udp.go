package ringset

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// UDP, as gnet serves it: every loop has its own SO_REUSEPORT socket (in slot listenerSlot),
// each datagram is one OnTraffic on a connection that stands for it (conn.NewDatagram), and
// there is no OnOpen or OnClose. Datagrams arrive by a multishot RECVMSG through the loop's
// buffer ring (one larger than ReadBufferSize minus the header is cut short, as recvfrom would
// cut it); replies go out by SENDMSG from a pool of send records that hold the bytes and the
// destination until the kernel is done with them.

// udpState is a loop's datagram socket.
type udpState struct {
	layout unix.Msghdr // what each received buffer holds: header, source address, payload
	family int         // the socket's address family, which destinations must match
	armed  bool
	sends  []*udpSend
	free   []uint32 // indexes of idle records in sends
}

// udpSend is one datagram in flight: everything SENDMSG points to.
type udpSend struct {
	msg unix.Msghdr
	iov unix.Iovec
	to  poller.Sockaddr
	buf []byte
}

func isUDP(network string) bool {
	return network == "udp" || network == "udp4" || network == "udp6"
}

func (l *loop) armRecvFrom() {
	s := l.sqe()
	s.PrepRecvmsgMultishot(listenerSlot, &l.udp.layout, bufferGroup, 0)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(userData(opRecvFrom, 0, 0))
	l.udp.armed = true
}

func (l *loop) onRecvFrom(cqe *poller.CQE) {
	if !cqe.More() {
		l.udp.armed = false
	}
	bid, hasBuf := cqe.BufferID()
	switch {
	case cqe.Res > 0 && hasBuf:
		_, name, _, payload, ok := poller.ParseRecvmsgOut(l.bufs.Buffer(bid, int(cqe.Res)), &l.udp.layout)
		from, addrOK := poller.AddrPortFromRaw(name)
		if ok && addrOK && !l.closing {
			c := conn.NewDatagram(l, l.set.addr, net.UDPAddrFromAddrPort(from), payload)
			action := None
			l.set.guard(func() { action = l.set.handler.OnTraffic(c) })
			if action == Shutdown {
				l.set.Stop()
			}
		}
		l.bufs.Recycle(bid)
	case cqe.Res == -int32(unix.ENOBUFS), cqe.Res == -int32(unix.ECANCELED):
	case cqe.Res < 0:
		log.Printf("uringnet: loop %d: receive datagram: %v", l.idx, unix.Errno(-cqe.Res))
	}
	if !l.udp.armed && !l.closing {
		l.armRecvFrom()
	}
}

// SendTo sends p as one datagram to addr (a *net.UDPAddr) from the loop's socket.
func (l *loop) SendTo(_ *conn.Conn, p []byte, addr net.Addr) error {
	if l.udp == nil {
		return errors.New("ringset: SendTo on a stream set")
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil {
		return fmt.Errorf("ringset: SendTo: %v is not a UDP address", addr)
	}
	ap := ua.AddrPort()
	if l.udp.family == unix.AF_INET {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	} else if ap.Addr().Is4() {
		ap = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	var id uint32
	if n := len(l.udp.free); n > 0 {
		id, l.udp.free = l.udp.free[n-1], l.udp.free[:n-1]
	} else {
		id = uint32(len(l.udp.sends))
		l.udp.sends = append(l.udp.sends, new(udpSend))
	}
	us := l.udp.sends[id]
	if err := us.to.SetInet(ap); err != nil {
		l.udp.free = append(l.udp.free, id)
		return fmt.Errorf("ringset: SendTo %v: %w", addr, err)
	}
	us.buf = append(us.buf[:0], p...)
	us.msg = unix.Msghdr{}
	us.to.SetMsgName(&us.msg)
	if len(us.buf) > 0 {
		us.iov = unix.Iovec{Base: &us.buf[0]}
		us.iov.SetLen(len(us.buf))
		us.msg.Iov = &us.iov
		us.msg.SetIovlen(1)
	}
	s := l.sqe()
	s.PrepSendmsg(listenerSlot, &us.msg, 0)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(userData(opSendTo, 0, id))
	return nil
}

func (l *loop) onSendTo(cqe *poller.CQE, id uint32) {
	if int(id) < len(l.udp.sends) {
		l.udp.free = append(l.udp.free, id)
	}
	if cqe.Res < 0 && cqe.Res != -int32(unix.ECANCELED) {
		log.Printf("uringnet: loop %d: send datagram: %v", l.idx, unix.Errno(-cqe.Res))
	}
}
