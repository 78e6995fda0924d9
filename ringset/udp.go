package ringset

import (
	"log"
	"net"
	"net/netip"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// UDP, as gnet serves it. A UDP set's loops each have their own SO_REUSEPORT socket (in slot
// listenerSlot), each datagram received on it is one OnTraffic on a shared connection that
// stands for it (conn.NewDatagram), and there is no OnOpen or OnClose. Datagrams arrive by a
// multishot RECVMSG through the loop's buffer ring (one larger than ReadBufferSize minus the
// header is cut short, as recvfrom would cut it). A connected UDP socket (dialed, enrolled) is a
// connection of its own in a slot, whose receives are datagrams (see onRecv). Datagrams of
// either kind go out by SENDMSG from the loop's pool of send records, which hold the bytes and
// the destination until the kernel is done with them.

// udpState is a loop's own datagram socket.
type udpState struct {
	layout unix.Msghdr // what each received buffer holds: header, source address, payload
	family int         // the socket's address family, which destinations must match
	armed  bool
}

// datagramSends is a loop's pool of send records, by the index their completions carry.
type datagramSends struct {
	sends []*udpSend
	free  []uint32 // indexes of idle records in sends
}

// udpSend is one datagram in flight: everything SENDMSG points to.
type udpSend struct {
	msg unix.Msghdr
	iov unix.Iovec
	to  poller.Sockaddr
	buf []byte
}

func (l *loop) armRecvFrom() {
	s := l.sqe()
	s.PrepRecvmsgMultishotBufferSelect(listenerSlot, &l.udp.layout, bufferGroup, 0)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(recordUserData(opRecvFrom, 0))
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
			c := conn.NewDatagram(l, l.listenFd, l.set.addr, net.UDPAddrFromAddrPort(from), payload)
			action := None
			l.set.guard(func() { action = l.set.handler.OnTraffic(c) })
			if action == Shutdown {
				l.set.Stop()
			}
		}
		l.bufs.Recycle(bid)
	case cqe.Res == -int32(unix.ENOBUFS):
		l.bufs.Short()
	case cqe.Res == -int32(unix.ECANCELED):
	case cqe.Res < 0:
		// Armed again at once, a receive on a socket that fails would fail again at once.
		failureLog.printf("uringnet: loop %d: receive datagram: %v", l.idx, unix.Errno(-cqe.Res))
		if !l.udp.armed {
			l.hold.holdNow()
			return
		}
	}
	if !l.udp.armed {
		l.rearm()
	}
}

// SendTo sends p as one datagram from c's socket: to addr (a *net.UDPAddr), or, with addr
// nil, to a connected socket's peer.
func (l *loop) SendTo(c *conn.Conn, p []byte, addr net.Addr) error {
	var id uint32
	if n := len(l.dgrams.free); n > 0 {
		id, l.dgrams.free = l.dgrams.free[n-1], l.dgrams.free[:n-1]
	} else {
		id = uint32(len(l.dgrams.sends))
		l.dgrams.sends = append(l.dgrams.sends, new(udpSend))
	}
	us := l.dgrams.sends[id]
	us.msg = unix.Msghdr{}
	if addr != nil {
		if err := l.destination(c, us, addr); err != nil {
			l.dgrams.free = append(l.dgrams.free, id)
			return err
		}
	}
	us.buf = append(us.buf[:0], p...)
	if len(us.buf) > 0 {
		us.iov = unix.Iovec{Base: &us.buf[0]}
		us.iov.SetLen(len(us.buf))
		us.msg.Iov = &us.iov
		us.msg.SetIovlen(1)
	}
	s := l.sqe()
	s.PrepSendmsg(int32(c.Slot), &us.msg, 0)
	s.SetFlags(poller.FlagFixedFile)
	s.SetUserData(recordUserData(opSendTo, id))
	return nil
}

// destination sets addr as us's destination, in the family of the loop's own socket when c
// shares it.
func (l *loop) destination(c *conn.Conn, us *udpSend, addr net.Addr) error {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil {
		// What net.UDPConn.WriteTo says of an address that is not a *net.UDPAddr.
		return &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: unix.EINVAL}
	}
	ap := ua.AddrPort()
	switch {
	case !c.SharesSocket() || l.udp == nil:
	case l.udp.family == unix.AF_INET:
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case ap.Addr().Is4():
		ap = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
	}
	if err := us.to.SetInet(ap); err != nil {
		return &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: err}
	}
	us.to.SetMsgName(&us.msg)
	return nil
}

func (l *loop) onSendTo(cqe *poller.CQE, id uint32) {
	if int(id) < len(l.dgrams.sends) {
		l.dgrams.free = append(l.dgrams.free, id)
	}
	// A connected socket's peer that is not listening answers with ICMP, which the next
	// operation reports as ECONNREFUSED: the datagram is lost, as a UDP datagram may be.
	switch cqe.Res {
	case -int32(unix.ECANCELED), -int32(unix.ECONNREFUSED):
	default:
		if cqe.Res < 0 {
			log.Printf("uringnet: loop %d: send datagram: %v", l.idx, unix.Errno(-cqe.Res))
		}
	}
}
