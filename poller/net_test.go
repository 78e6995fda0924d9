package poller

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Listener, accept and connect as direct descriptors, created by ring operations alone.
func TestDirectSocketBindListenAcceptConnect(t *testing.T) {
	requireFeatures(t, CapSocketDirect, CapBindListen, CapMultishotAccept, CapFixedFdInstall, CapSparseFiles)
	r := loopRing(t, 16)
	fileTable(t, r, 16)
	lslot, addr := directListener(t, r)

	// Three connections from the standard library, one multishot accept.
	prep(t, r, 10, func(s *SQE) { s.PrepMultishotAcceptDirect(int32(lslot), 0); s.SetFlags(FlagFixedFile) })
	var peers []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		peers = append(peers, c)
	}
	slots := map[int32]bool{lslot32(lslot): true}
	for _, c := range waitCQEs(t, r, 3) {
		if c.UserData != 10 || !c.More() {
			t.Fatalf("accept completion %+v: want user data 10 with more to come", c)
		}
		if slots[mustRes(t, c, "accept")] {
			t.Fatalf("slot %d handed out twice", c.Res)
		}
		slots[c.Res] = true
	}

	// A connection dialed from the ring: SOCKET + CONNECT, then accepted by the same multishot.
	prep(t, r, 20, func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, unix.SOCK_STREAM, 0, AllocSlot) })
	cslot := uint32(mustRes(t, waitCQE(t, r, 20), "socket"))
	sa, err := SockaddrInet(addr)
	if err != nil {
		t.Fatal(err)
	}
	prep(t, r, 21, func(s *SQE) { s.PrepConnect(int32(cslot), sa); s.SetFlags(FlagFixedFile) })
	got := byUserData(t, waitCQEs(t, r, 2))
	mustRes(t, got[21], "connect")
	aslot := uint32(mustRes(t, got[10], "accept of the ring's own connection"))

	// Bytes flow between the two direct descriptors.
	msg := []byte("ring to ring")
	prep(t, r, 30, func(s *SQE) { s.PrepSend(int32(cslot), msg, 0); s.SetFlags(FlagFixedFile) })
	if n := mustRes(t, waitCQE(t, r, 30), "send"); int(n) != len(msg) {
		t.Fatalf("sent %d of %d", n, len(msg))
	}
	buf := make([]byte, 64)
	prep(t, r, 31, func(s *SQE) { s.PrepRecv(int32(aslot), buf, 0); s.SetFlags(FlagFixedFile) })
	n := mustRes(t, waitCQE(t, r, 31), "recv")
	if !bytes.Equal(buf[:n], msg) {
		t.Fatalf("received %q, want %q", buf[:n], msg)
	}
	runtime.KeepAlive(sa)
}

func lslot32(s uint32) int32 { return int32(s) }

// A multishot receive through a buffer ring that is too small: the kernel fills every buffer,
// ends the receive with -ENOBUFS, and after the buffers are recycled and the receive re-armed
// the rest arrives. Every byte arrives once, in order.
func TestMultishotRecvBufferRingENOBUFS(t *testing.T) {
	requireFeatures(t, CapMultishotRecv, CapBufferRing, CapSocketDirect, CapBindListen, CapFixedFdInstall)
	r, slot, peer := ringWithConn(t)

	br, err := r.RegisterBufferRing(7, 4, 512)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	want := make([]byte, 256<<10)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rnd.Uint32())
	}
	go func() {
		// Random-sized writes, so that buffer boundaries do not line up with them.
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+rnd.IntN(3000))
			if _, err := peer.Write(rest[:n]); err != nil {
				t.Errorf("peer write: %v", err)
				return
			}
			rest = rest[n:]
		}
	}()

	arm := func() {
		prep(t, r, 50, func(s *SQE) { s.PrepRecvMultishotBufferSelect(int32(slot), br.GroupID(), 0); s.SetFlags(FlagFixedFile) })
	}
	arm()
	var got []byte
	var held []uint16 // buffers kept from the kernel until it runs out
	enobufs := 0
	for len(got) < len(want) {
		c := waitCQEs(t, r, 1)[0]
		switch {
		case c.Res == -int32(unix.ENOBUFS):
			if c.More() {
				t.Fatal("-ENOBUFS with CQEFMore: the receive should have ended")
			}
			enobufs++
			for _, bid := range held {
				br.Recycle(bid)
			}
			held = held[:0]
			br.Publish()
			arm()
		case c.Res > 0:
			bid, ok := c.BufferID()
			if !ok {
				t.Fatalf("data completion without a buffer: %+v", c)
			}
			got = append(got, br.Buffer(bid, int(c.Res))...)
			held = append(held, bid)
			if !c.More() {
				t.Fatalf("multishot receive ended without an error after %d bytes", len(got))
			}
		default:
			t.Fatalf("receive completion %+v (%v) after %d bytes", c, unix.Errno(-c.Res), len(got))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
	}
	if enobufs == 0 {
		t.Fatal("the receive never ran out of buffers; the test did not exercise -ENOBUFS")
	}
	t.Logf("%d bytes through 4×512-byte buffers, re-armed %d times after -ENOBUFS", len(got), enobufs)

	// End of stream: the peer closes, the receive completes with 0 and ends.
	peer.Close()
	for _, bid := range held {
		br.Recycle(bid)
	}
	br.Publish()
	c := waitCQEs(t, r, 1)[0]
	if c.Res != 0 || c.More() {
		t.Fatalf("after the peer closed: %+v, want res 0 without more", c)
	}
}

// A growing buffer ring hands the kernel its first buffers only, and stays at them while no
// batch of receives uses more than half; a burst that empties it ends the multishot receive
// with -ENOBUFS, and each Publish after a busy batch grows what the kernel has, until the ring
// is whole. Every byte arrives once, in order, and no buffer beyond those provided is
// ever written.
func TestGrowingBufferRing(t *testing.T) {
	requireFeatures(t, CapMultishotRecv, CapBufferRing, CapSocketDirect, CapBindListen, CapFixedFdInstall)
	r, slot, peer := ringWithConn(t)

	const entries, size, initial = 64, 512, 2
	br, err := r.RegisterGrowingBufferRing(11, entries, size, initial)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if br.Provided() != initial || br.Entries() != entries {
		t.Fatalf("new ring: %d of %d provided, want %d of %d", br.Provided(), br.Entries(), initial, entries)
	}

	arm := func() {
		prep(t, r, 60, func(s *SQE) { s.PrepRecvMultishotBufferSelect(int32(slot), br.GroupID(), 0); s.SetFlags(FlagFixedFile) })
	}
	arm()
	var got []byte
	enobufs := 0
	cqes := make([]CQE, 256)
	// receive takes batches of completions until n bytes arrived, recycling each batch's
	// buffers and publishing them as a loop does.
	receive := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for len(got) < n {
			if time.Now().After(deadline) {
				t.Fatalf("received %d bytes of %d in 5s", len(got), n)
			}
			if _, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil && !errors.Is(err, ErrTimedOut) {
				t.Fatal(err)
			}
			rearm := false
			for _, c := range cqes[:r.ReapCompletions(cqes)] {
				switch {
				case c.Res == -int32(unix.ENOBUFS):
					enobufs++
					br.Short()
					rearm = true
				case c.Res > 0:
					bid, ok := c.BufferID()
					if !ok || uint32(bid) >= br.Provided() {
						t.Fatalf("data in buffer %d (%v) of a ring with %d provided", bid, ok, br.Provided())
					}
					got = append(got, br.Buffer(bid, int(c.Res))...)
					br.Recycle(bid)
					rearm = rearm || !c.More()
				default:
					t.Fatalf("receive completion %+v (%v) after %d bytes", c, unix.Errno(-c.Res), len(got))
				}
			}
			br.Publish()
			if rearm {
				arm()
			}
		}
	}

	var want []byte
	for i := range 32 { // one small message at a time: one buffer a batch
		msg := []byte{byte(i), byte(i >> 8)}
		want = append(want, msg...)
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		receive(len(want))
	}
	if br.Provided() != initial {
		t.Fatalf("after one receive at a time, %d buffers provided, want still %d", br.Provided(), initial)
	}

	burst := make([]byte, 256<<10)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range burst {
		burst[i] = byte(rnd.Uint32())
	}
	want = append(want, burst...)
	go func() {
		if _, err := peer.Write(burst); err != nil {
			t.Errorf("peer write: %v", err)
		}
	}()
	receive(len(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
	}
	if br.Provided() != entries {
		t.Errorf("after a burst through %d-byte buffers, %d provided, want all %d", size, br.Provided(), entries)
	}
	if enobufs == 0 {
		t.Error("the burst never found the ring empty; the test did not exercise -ENOBUFS")
	}
	t.Logf("%d bytes; ring grew from %d to %d buffers, the receive re-armed %d times after -ENOBUFS", len(got), initial, br.Provided(), enobufs)
}

// SEND, gathered SENDMSG and SEND_ZC to a standard peer that echoes; RECV brings it back.
func TestSendSendmsgSendZCRoundTrip(t *testing.T) {
	requireFeatures(t, CapSocketDirect, CapBindListen, CapFixedFdInstall, CapSendZC)
	r, slot, peer := ringWithConn(t)
	go io.Copy(peer, peer) // echo

	roundTrip := func(what string, want []byte, send func()) {
		t.Helper()
		send()
		got := make([]byte, 0, len(want))
		buf := make([]byte, 4096)
		for len(got) < len(want) {
			prep(t, r, 60, func(s *SQE) { s.PrepRecv(int32(slot), buf, 0); s.SetFlags(FlagFixedFile) })
			c := waitCQE(t, r, 60)
			got = append(got, buf[:mustRes(t, c, what+" echo recv")]...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: echoed %q, want %q", what, got, want)
		}
	}

	plain := []byte("plain send")
	roundTrip("send", plain, func() {
		prep(t, r, 61, func(s *SQE) { s.PrepSend(int32(slot), plain, unix.MSG_WAITALL); s.SetFlags(FlagFixedFile) })
		if n := mustRes(t, waitCQE(t, r, 61), "send"); int(n) != len(plain) {
			t.Fatalf("send %d of %d", n, len(plain))
		}
	})

	parts := [][]byte{[]byte("gathered "), []byte("from "), []byte("three iovecs")}
	iov := make([]unix.Iovec, len(parts))
	for i, p := range parts {
		iov[i].Base = &p[0]
		iov[i].SetLen(len(p))
	}
	msg := &unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	roundTrip("sendmsg", bytes.Join(parts, nil), func() {
		prep(t, r, 62, func(s *SQE) { s.PrepSendmsg(int32(slot), msg, unix.MSG_WAITALL); s.SetFlags(FlagFixedFile) })
		if n := mustRes(t, waitCQE(t, r, 62), "sendmsg"); int(n) != len(bytes.Join(parts, nil)) {
			t.Fatalf("sendmsg sent %d", n)
		}
	})
	runtime.KeepAlive(iov)

	zc := bytes.Repeat([]byte("zero-copy "), 1000)
	roundTrip("send_zc", zc, func() {
		prep(t, r, 63, func(s *SQE) { s.PrepSendZC(int32(slot), zc, unix.MSG_WAITALL, 0); s.SetFlags(FlagFixedFile) })
		cs := waitCQEs(t, r, 2)
		if cs[0].UserData != 63 || int(cs[0].Res) != len(zc) || !cs[0].More() {
			t.Fatalf("send_zc first completion %+v: want %d bytes with more", cs[0], len(zc))
		}
		if cs[1].UserData != 63 || !cs[1].Notif() {
			t.Fatalf("send_zc second completion %+v: want the notification", cs[1])
		}
	})
}

// SHUTDOWN(SHUT_WR) gives the peer EOF while the connection still receives; CLOSE of the
// direct descriptor frees the slot.
func TestShutdownAndCloseDirect(t *testing.T) {
	r, slot, peer := ringWithConn(t)

	prep(t, r, 70, func(s *SQE) { s.PrepShutdown(int32(slot), unix.SHUT_WR); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, r, 70), "shutdown")
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer read after SHUT_WR: %d, %v; want EOF", n, err)
	}
	if _, err := peer.Write([]byte("still open")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	prep(t, r, 71, func(s *SQE) { s.PrepRecv(int32(slot), buf, 0); s.SetFlags(FlagFixedFile) })
	if n := mustRes(t, waitCQE(t, r, 71), "recv after SHUT_WR"); string(buf[:n]) != "still open" {
		t.Fatalf("recv %q", buf[:n])
	}

	prep(t, r, 72, func(s *SQE) { s.PrepCloseDirect(slot) })
	mustRes(t, waitCQE(t, r, 72), "close direct")
	prep(t, r, 73, func(s *SQE) { s.PrepSend(int32(slot), buf, 0); s.SetFlags(FlagFixedFile) })
	if c := waitCQE(t, r, 73); c.Res != -int32(unix.EBADF) {
		t.Fatalf("send on a closed slot: res %d, want -EBADF", c.Res)
	}
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("peer read after close: %d, %v", n, err)
	}

	// CLOSE of a regular descriptor.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	prep(t, r, 74, func(s *SQE) { s.PrepClose(int32(fd)) })
	mustRes(t, waitCQE(t, r, 74), "close")
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("fd %d still open after CLOSE: %v", fd, err)
	}
}

// FIXED_FD_INSTALL turns a direct descriptor into a regular fd that works with setsockopt
// and read, and that stays valid after the slot is closed.
func TestFixedFdInstall(t *testing.T) {
	r, slot, peer := ringWithConn(t)

	fd := installFd(t, r, slot)
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("installed fd flags %#x, %v: want close-on-exec", flags, err)
	}
	for _, v := range []int{1, 0, 1} {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, v); err != nil {
			t.Fatalf("setsockopt TCP_NODELAY=%d: %v", v, err)
		}
		if got, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || (got != 0) != (v != 0) {
			t.Fatalf("getsockopt TCP_NODELAY = %d, %v; want %d", got, err, v)
		}
	}
	if _, err := peer.Write([]byte("via fd")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := unix.Read(fd, buf)
	if err != nil || string(buf[:n]) != "via fd" {
		t.Fatalf("read on installed fd: %q, %v", buf[:n], err)
	}

	prep(t, r, 80, func(s *SQE) { s.PrepFixedFdInstall(slot, FixedFdNoCloexec) })
	fd2 := int(mustRes(t, waitCQE(t, r, 80), "install without cloexec"))
	defer unix.Close(fd2)
	if flags, err := unix.FcntlInt(uintptr(fd2), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
		t.Fatalf("FixedFdNoCloexec fd flags %#x, %v", flags, err)
	}

	// The installed fd holds its own reference to the socket.
	prep(t, r, 81, func(s *SQE) { s.PrepCloseDirect(slot) })
	mustRes(t, waitCQE(t, r, 81), "close direct")
	if _, err := unix.Write(fd, []byte("after slot closed")); err != nil {
		t.Fatalf("write on installed fd after the slot closed: %v", err)
	}

	// Installing from an empty slot fails cleanly.
	prep(t, r, 82, func(s *SQE) { s.PrepFixedFdInstall(slot, 0) })
	if c := waitCQE(t, r, 82); c.Res != -int32(unix.EBADF) {
		t.Fatalf("install from an empty slot: res %d, want -EBADF", c.Res)
	}
}

// Files-update places regular fds into chosen slots; the alloc range keeps the kernel's own
// allocations out of slots placed by hand; a full table answers -ENFILE.
func TestFixedFileTable(t *testing.T) {
	requireFeatures(t, CapSparseFiles, CapSocketDirect)
	r := loopRing(t, 16)
	if err := r.RegisterSparseFiles(4); err != nil {
		t.Fatal(err)
	}
	if err := r.SetFileAllocRange(2, 2); err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if n, err := r.UpdateFiles(0, []int32{int32(fds[0])}); n != 1 || err != nil {
		t.Fatalf("UpdateFiles: %d, %v", n, err)
	}
	unix.Close(fds[0]) // the table keeps its own reference

	msg := []byte("slot 0")
	prep(t, r, 1, func(s *SQE) { s.PrepSend(0, msg, 0); s.SetFlags(FlagFixedFile) })
	mustRes(t, waitCQE(t, r, 1), "send via placed slot")
	runtime.KeepAlive(msg)
	buf := make([]byte, 16)
	if n, err := unix.Read(fds[1], buf); err != nil || string(buf[:n]) != "slot 0" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	var allocated []int32
	for i := uint64(0); i < 3; i++ {
		prep(t, r, 10+i, func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, unix.SOCK_STREAM, 0, AllocSlot) })
		allocated = append(allocated, waitCQE(t, r, 10+i).Res)
	}
	if allocated[0] < 2 || allocated[1] < 2 || allocated[2] != -int32(unix.ENFILE) {
		t.Fatalf("allocations %v: want two slots from [2,4) then -ENFILE", allocated)
	}
	if n, err := r.UpdateFiles(0, []int32{-1}); n != 1 || err != nil {
		t.Fatalf("clearing slot 0: %d, %v", n, err)
	}
	if n, err := unix.Read(fds[1], buf); n != 0 || err != nil {
		t.Fatalf("peer read after the slot was cleared: %d, %v; want EOF", n, err)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
}

// Multishot RECVMSG for UDP through a buffer ring, answered with SENDMSG to the source address.
func TestRecvmsgMultishotUDP(t *testing.T) {
	requireFeatures(t, CapMultishotRecv, CapBufferRing)
	r := loopRing(t, 16)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	name, _ := unix.Getsockname(fd)
	server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(name.(*unix.SockaddrInet4).Port))

	br, err := r.RegisterBufferRing(9, 8, 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	layout := &unix.Msghdr{Namelen: unix.SizeofSockaddrInet6}
	prep(t, r, 90, func(s *SQE) { s.PrepRecvmsgMultishotBufferSelect(int32(fd), layout, br.GroupID(), 0) })
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}

	client, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	clientAddr := client.LocalAddr().(*net.UDPAddr).AddrPort()
	datagrams := []string{"one", "two", "three"}
	for _, d := range datagrams {
		if _, err := client.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range waitCQEs(t, r, len(datagrams)) {
		bid, ok := c.BufferID()
		if c.Res <= 0 || !ok || !c.More() {
			t.Fatalf("recvmsg completion %+v", c)
		}
		out, name, _, payload, ok := ParseRecvmsgOut(br.Buffer(bid, int(c.Res)), layout)
		if !ok || string(payload) != datagrams[i] || out.Payloadlen != uint32(len(datagrams[i])) {
			t.Fatalf("datagram %d: %q (ok %v, header %+v), want %q", i, payload, ok, out, datagrams[i])
		}
		from, ok := AddrPortFromRaw(name)
		if !ok || from != clientAddr {
			t.Fatalf("datagram %d from %v (ok %v), want %v", i, from, ok, clientAddr)
		}
		br.Recycle(bid)
	}
	br.Publish()

	// Reply with SENDMSG to the client's address.
	to, err := SockaddrInet(clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	reply := []byte("reply")
	iov := unix.Iovec{Base: &reply[0]}
	iov.SetLen(len(reply))
	msg := &unix.Msghdr{Name: (*byte)(unsafe.Pointer(&to.raw)), Namelen: to.len, Iov: &iov}
	msg.SetIovlen(1)
	prep(t, r, 91, func(s *SQE) { s.PrepSendmsg(int32(fd), msg, 0) })
	if n := mustRes(t, waitCQE(t, r, 91), "sendmsg"); int(n) != len(reply) {
		t.Fatalf("sendmsg %d", n)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
	runtime.KeepAlive(iov)
}

// A single-shot direct accept reports the peer's address, which a multishot one cannot.
func TestAcceptDirectReportsPeerAddress(t *testing.T) {
	requireFeatures(t, CapSocketDirect, CapBindListen, CapFixedFdInstall, CapSparseFiles)
	r := loopRing(t, 16)
	fileTable(t, r, 8)
	lslot, addr := directListener(t, r)
	var sa unix.RawSockaddrAny
	salen := uint32(unix.SizeofSockaddrAny)
	prep(t, r, 40, func(s *SQE) {
		s.PrepAcceptDirect(int32(lslot), &sa, &salen, 0, AllocSlot)
		s.SetFlags(FlagFixedFile)
	})
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	peer, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := waitCQE(t, r, 40)
	mustRes(t, c, "accept direct")
	if c.More() {
		t.Fatal("a single-shot accept said more would come")
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&sa)), salen)
	got, ok := AddrPortFromRaw(raw)
	if want := peer.LocalAddr().(*net.TCPAddr).AddrPort(); !ok || got != want {
		t.Fatalf("accepted peer %v (ok %v), want %v", got, ok, want)
	}
}

// Socket options reach a direct descriptor, which has no fd, through URING_CMD.
func TestSetsockoptOnDirectDescriptor(t *testing.T) {
	requireFeatures(t, CapSockCmd, CapSocketDirect, CapFixedFdInstall, CapSparseFiles)
	r := loopRing(t, 8)
	fileTable(t, r, 4)
	prep(t, r, 1, func(s *SQE) { s.PrepSocketDirect(unix.AF_INET, unix.SOCK_STREAM, 0, AllocSlot) })
	slot := uint32(mustRes(t, waitCQE(t, r, 1), "socket direct"))
	for _, o := range []struct{ level, opt int }{{unix.SOL_SOCKET, unix.SO_REUSEADDR}, {unix.IPPROTO_TCP, unix.TCP_NODELAY}} {
		one := int32(1)
		prep(t, r, 2, func(s *SQE) { s.PrepSetsockopt(int32(slot), o.level, o.opt, &one); s.SetFlags(FlagFixedFile) })
		mustRes(t, waitCQE(t, r, 2), "setsockopt")
		runtime.KeepAlive(&one)
		fd := installFd(t, r, slot)
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v == 0 {
			t.Fatalf("option %d/%d after URING_CMD setsockopt: %d, %v", o.level, o.opt, v, err)
		}
	}
}

// ASYNC_CANCEL by fixed descriptor with CancelAll cancels every operation on the slot and
// reports how many; a single-shot buffer-select receive takes one buffer and ends.
func TestCancelFixedFdAllAndBufferSelectRecv(t *testing.T) {
	r, slot, peer := ringWithConn(t)
	br, err := r.RegisterBufferRing(5, 4, 256)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()

	if _, err := peer.Write([]byte("one buffer")); err != nil {
		t.Fatal(err)
	}
	prep(t, r, 1, func(s *SQE) { s.PrepRecvBufferSelect(int32(slot), br.GroupID(), 0); s.SetFlags(FlagFixedFile) })
	c := waitCQE(t, r, 1)
	bid, ok := c.BufferID()
	if c.Res <= 0 || !ok || c.More() || string(br.Buffer(bid, int(c.Res))) != "one buffer" {
		t.Fatalf("buffer-select receive: %+v (%q)", c, br.Buffer(bid, max(int(c.Res), 0)))
	}
	br.Recycle(bid)
	br.Publish()

	// Two operations waiting on the slot: a multishot receive and a plain one.
	buf := make([]byte, 16)
	prep(t, r, 2, func(s *SQE) { s.PrepRecvMultishotBufferSelect(int32(slot), br.GroupID(), 0); s.SetFlags(FlagFixedFile) })
	prep(t, r, 3, func(s *SQE) { s.PrepRecv(int32(slot), buf, 0); s.SetFlags(FlagFixedFile) })
	if _, err := r.SubmitAndWait(0); err != nil {
		t.Fatal(err)
	}
	prep(t, r, 4, func(s *SQE) { s.PrepCancelFixedFd(slot, CancelAll) })
	got := byUserData(t, waitCQEs(t, r, 3))
	if got[4].Res != 2 {
		t.Fatalf("cancel by fixed fd, all: res %d, want 2 cancelled", got[4].Res)
	}
	for _, ud := range []uint64{2, 3} {
		c := got[ud]
		if c.Res != -int32(unix.ECANCELED) || c.More() {
			t.Fatalf("operation %d after the cancel: %+v, want -ECANCELED and ended", ud, c)
		}
	}
	runtime.KeepAlive(buf)
}

// A multishot accept into regular descriptors, for when direct ones cannot be used.
func TestMultishotAcceptRegularFds(t *testing.T) {
	requireFeatures(t, CapMultishotAccept)
	r := loopRing(t, 8)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, _ := ln.(*net.TCPListener).SyscallConn()
	var lfd int
	raw.Control(func(fd uintptr) { lfd = int(fd) })
	prep(t, r, 1, func(s *SQE) { s.PrepMultishotAccept(int32(lfd), unix.SOCK_CLOEXEC) })
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cqe := waitCQE(t, r, 1)
		fd := int(mustRes(t, cqe, "accept"))
		if !cqe.More() {
			t.Fatal("multishot accept ended")
		}
		peer, err := unix.Getpeername(fd)
		if err != nil || peer.(*unix.SockaddrInet4).Port != c.LocalAddr().(*net.TCPAddr).Port {
			t.Fatalf("accepted fd %d's peer %v, %v; want %v", fd, peer, err, c.LocalAddr())
		}
		unix.Close(fd)
	}
}
