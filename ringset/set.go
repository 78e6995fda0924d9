package ringset

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Set is a running group of event loops serving one listener.
type Set struct {
	cfg     Config
	handler Handler
	loops   []*loop
	acc     *acceptor
	waker   *waker
	addr    net.Addr
	unlink  string // a unix socket path to remove at the end
	// recvLimit: receives are armed with the connection's remaining inbound budget.
	recvLimit bool
	// direct: TCP listeners are born as direct descriptors (see listen_direct.go).
	direct bool
	// sent hears of completed sends, if the handler asked to (SendObserver).
	sent SendObserver
	// handoffs carries moving connections from loop to loop (move.go).
	handoffs handoffs
	// rebal is the rebalancer, if the Config asked for one; epoch counts its intervals and
	// moved the moves it started (rebalance.go).
	rebal *rebalancer
	epoch atomic.Uint32
	moved atomic.Int64
	// picks is PickLoop's round-robin position.
	picks atomic.Uint64
	// listenFds are regular descriptors for the set's listeners (one, or one per loop with
	// ReusePort; none when the set listens nowhere), kept until the set is released: for
	// DupListener, for shutting the listeners at Stop, and for a datagram socket's options.
	listenFds []int
	// stopping: Stop was called; the listeners no longer accept.
	stopping atomic.Bool

	stopOnce sync.Once
	started  chan struct{} // closed when the set serves, or was taken down before it did
	begin    chan struct{} // closed after OnBoot: the loops and the acceptor start serving
	beginOne sync.Once
	startErr error // why Start gave up; shutdown then has nothing left to do
	done     chan struct{}
	errMu    sync.Mutex
	err      error
}

// ErrBootShutdown is what Serve (and Start) return when the handler's OnBoot asked to shut down;
// the set has then been taken down without serving.
var ErrBootShutdown = errors.New("ringset: OnBoot asked to shut down")

// Start is Prepare then Serve: it listens, calls OnBoot, starts the loops and the acceptor, and
// returns a running set. A returned error matching poller.ErrUnavailable means io_uring cannot
// serve here.
func Start(cfg Config, h Handler) (*Set, error) {
	s, err := Prepare(cfg, h)
	if err != nil {
		return nil, err
	}
	if err := s.Serve(); err != nil {
		return nil, err
	}
	return s, nil
}

// Prepare builds a set without serving it: the listeners are bound and listening and every
// ring is set up on its thread, but nothing is accepted or handled until Serve (or Abandon,
// which takes the set down unserved). Several sets can so be prepared before any of them serves.
func Prepare(cfg Config, h Handler) (*Set, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Set{cfg: cfg, handler: h, done: make(chan struct{}), started: make(chan struct{}), begin: make(chan struct{}),
		recvLimit: cfg.Features.Has(poller.CapRecvLimit),
		direct:    IsTCP(cfg.Network) && cfg.Features.Require(directListenCaps...) == nil}
	s.sent, _ = h.(SendObserver)
	if s.waker, err = newWaker(cfg.Features); err != nil {
		return nil, err
	}
	// TCP listeners are born as direct descriptors by the rings that accept on them (see
	// listen_direct.go) where the kernel allows; otherwise one regular listener for the
	// acceptor, or one per loop with ReusePort, made here.
	var lfds []int
	if !s.direct && cfg.Network != "" {
		nListeners := 1
		if cfg.ReusePort {
			nListeners = cfg.Loops
		}
		if lfds, err = s.listen(nListeners); err != nil {
			s.waker.release()
			return nil, err
		}
		s.listenFds = lfds // each ring's table takes a reference of its own besides
	}
	s.makeLoops(lfds)
	if err := s.startLoops(); err != nil {
		return nil, err
	}
	if !cfg.ReusePort && cfg.Network != "" {
		if err := s.startAcceptor(lfds); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makeLoops makes the set's loops, each with its regular listener of lfds (ReusePort) and its
// datagram state; none runs yet. Every loop exists before any runs: a running loop's handlers
// may read s.loops.
func (s *Set) makeLoops(lfds []int) {
	cfg := &s.cfg
	for i := 0; i < cfg.Loops; i++ {
		l := &loop{idx: i, set: s, exit: make(chan struct{}), listenFd: -1, callSignal: make(chan struct{}, 1)}
		if cfg.ReusePort && lfds != nil {
			l.listenFd = lfds[i]
		}
		if IsUDP(cfg.Network) {
			family := unix.AF_INET6
			if sa, err := unix.Getsockname(lfds[i]); err == nil {
				if _, v4 := sa.(*unix.SockaddrInet4); v4 {
					family = unix.AF_INET
				}
			}
			l.udp = &udpState{layout: unix.Msghdr{Namelen: unix.SizeofSockaddrInet6}, family: family}
		}
		s.loops = append(s.loops, l)
	}
}

// startLoops starts each loop's goroutine, which sets up its ring on its own thread, and waits
// for it; the first that fails takes the set down, and the loops after it never start.
func (s *Set) startLoops() error {
	for i, l := range s.loops {
		ready := make(chan error, 1)
		go l.run(ready)
		err := <-ready
		if s.direct && l.listenFd >= 0 {
			s.listenFds = append(s.listenFds, l.listenFd) // born direct on the loop's ring
		}
		if err != nil {
			for _, never := range s.loops[i+1:] {
				never.abandon()
			}
			return s.abort(err)
		}
	}
	return nil
}

// startAcceptor starts the acceptor on the set's one listener (lfds[0] when it is a regular
// one) and waits for its ring; a failure takes the set down.
func (s *Set) startAcceptor(lfds []int) error {
	s.acc = &acceptor{set: s, listenFd: -1, exit: make(chan struct{})}
	if lfds != nil {
		s.acc.listenFd = lfds[0]
	}
	ready := make(chan error, 1)
	go s.acc.run(ready)
	err := <-ready
	if s.direct && s.acc.listenFd >= 0 {
		s.listenFds = append(s.listenFds, s.acc.listenFd)
	}
	if err != nil {
		s.acc = nil
		return s.abort(err)
	}
	return nil
}

// Serve calls OnBoot and, unless it asks to shut down (then the set is taken down and Serve
// returns ErrBootShutdown), lets the loops and the acceptor serve. A panic in OnBoot takes the
// set down (its address is free again) and goes on to Serve's caller, as it would from a call
// of the handler's own.
func (s *Set) Serve() error {
	booted := false
	defer func() {
		if !booted {
			r := recover()
			s.abort(fmt.Errorf("ringset: OnBoot panicked: %v", r))
			panic(r)
		}
	}()
	action := s.handler.OnBoot(s)
	booted = true
	if action == Shutdown {
		return s.abort(ErrBootShutdown)
	}
	s.beginOne.Do(func() { close(s.begin) })
	if s.cfg.Rebalance != nil {
		s.rebal = startRebalancer(s)
	}
	close(s.started)
	return nil
}

// Abandon takes down a prepared set that never served; OnBoot and OnShutdown are not called.
func (s *Set) Abandon() { s.abort(ErrStopped) }

// abort takes down a set that is not serving (its preparation failed, OnBoot asked to shut
// down, or it was abandoned) and returns err.
func (s *Set) abort(err error) error {
	s.startErr = err
	s.beginOne.Do(func() { close(s.begin) })
	if s.acc != nil {
		s.acc.stop.Store(true)
		s.acc.wake()
		<-s.acc.exit
	}
	s.stopLoops()
	s.release()
	close(s.done)
	close(s.started)
	return err
}

// listen creates n listening sockets on the configured address (regular descriptors, through
// the standard library's address handling; with ReusePort they share the port with
// SO_REUSEPORT, with each other and with other programs' sockets) and returns duplicates of
// them.
func (s *Set) listen(n int) ([]int, error) {
	lc := net.ListenConfig{}
	if s.cfg.ReusePort {
		lc.Control = fdbridge.ReusePort
	}
	var fds []int
	addr := s.cfg.Address
	for i := 0; i < n; i++ {
		fd, err := s.listenOne(lc, addr)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, err
		}
		fds = append(fds, fd)
		addr = s.addr.String() // the others join the first one's port
	}
	return fds, nil
}

func (s *Set) listenOne(lc net.ListenConfig, addr string) (int, error) {
	var sock interface {
		io.Closer
		syscall.Conn
	}
	if IsUDP(s.cfg.Network) {
		pc, err := lc.ListenPacket(context.Background(), s.cfg.Network, addr)
		if err != nil {
			return -1, fmt.Errorf("ringset: listen: %w", err)
		}
		s.addr, sock = pc.LocalAddr(), pc.(*net.UDPConn)
	} else {
		ln, err := lc.Listen(context.Background(), s.cfg.Network, addr)
		if err != nil {
			return -1, fmt.Errorf("ringset: listen: %w", err)
		}
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
			s.unlink = s.cfg.Address
		}
		s.addr, sock = ln.Addr(), ln.(interface {
			io.Closer
			syscall.Conn
		})
	}
	defer sock.Close()
	fd, err := fdbridge.Dup(sock)
	if err != nil {
		return -1, fmt.Errorf("ringset: listener: %w", err)
	}
	_, isTCP := sock.(*net.TCPListener)
	for _, o := range s.cfg.socketOptions(isTCP) {
		if err := unix.SetsockoptInt(fd, o.Level, o.Name, int(o.Value)); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("ringset: listener setsockopt(%d, %d): %w", o.Level, o.Name, err)
		}
	}
	return fd, nil
}

// Addr is the address the set listens on (with the real port when 0 was asked for).
func (s *Set) Addr() net.Addr { return s.addr }

// DupListener returns a new regular descriptor for the set's listener (the first one, with
// ReusePort), which the caller must close, as gnet's Engine.Dup does.
func (s *Set) DupListener() (int, error) {
	if len(s.listenFds) == 0 {
		return -1, errors.New("ringset: the set listens nowhere")
	}
	return fdbridge.DupFd(s.listenFds[0])
}

// NumLoops is how many loops the set runs.
func (s *Set) NumLoops() int { return len(s.loops) }

// CountConnections is how many connections the loops serve: opened (OnOpen has begun) and not
// yet reported closed.
func (s *Set) CountConnections() int {
	n := int64(0)
	for _, l := range s.loops {
		n += l.count.Load()
	}
	return int(n)
}

// Post runs f on loop i.
func (s *Set) Post(i int, f func()) error { return s.loops[i].Post(f) }

// Stop starts shutting the set down: the listeners stop listening (a connection that arrives
// from now on is refused), OnShutdown runs, then the acceptor stops, then every loop closes its
// connections and exits. It returns at once; Wait returns when all is done.
func (s *Set) Stop() {
	s.stopOnce.Do(func() { go s.shutdown() })
}

func (s *Set) shutdown() {
	<-s.started
	if s.startErr != nil {
		return // taken down before it served: abort did everything
	}
	s.stopListening()
	s.guard(func() { s.handler.OnShutdown(s) })
	if s.rebal != nil {
		s.rebal.close()
	}
	if s.acc != nil {
		s.acc.stop.Store(true)
		// The acceptor may have ended already (the listeners' shutdown above ends its accept,
		// and it may see stop as soon as it is stored); its ring is then closing, but the
		// descriptor woken stays open until release. A wake-up that fails anyway stops nothing:
		// the acceptor's wait is bounded by maxWait.
		if err := s.acc.wake(); err != nil {
			log.Printf("uringnet: wake the acceptor: %v", err)
		}
		<-s.acc.exit
	}
	s.stopLoops()
	s.release()
	close(s.done)
}

// stopListening makes the stream listeners refuse new connections at once, and resets those
// that wait in their backlogs, while their descriptors stay valid (OnShutdown may still Dup
// one): shutdown(2) of a listening socket takes it out of the listening state. The accepts
// armed on them end, and are not armed again.
func (s *Set) stopListening() {
	s.stopping.Store(true)
	if IsUDP(s.cfg.Network) {
		return
	}
	for _, fd := range s.listenFds {
		if err := unix.Shutdown(fd, unix.SHUT_RD); err != nil {
			log.Printf("uringnet: stop listening on %v: %v", s.addr, os.NewSyscallError("shutdown", err))
		}
	}
}

// stopLoops asks every loop to close its connections and waits for each to exit.
func (s *Set) stopLoops() {
	for _, l := range s.loops {
		l := l
		if err := l.Post(l.beginShutdown); err != nil && !errors.Is(err, ErrStopped) {
			s.fail(err)
		}
	}
	for _, l := range s.loops {
		<-l.exit
	}
}

// release frees what the set holds beyond its loops: the loops' and the acceptor's ring
// descriptors are closed only now, after the acceptor has exited and the waker has sent its last
// wake-up, so that their numbers cannot be reused by another ring while a message could still be
// addressed to them.
func (s *Set) release() {
	if err := s.waker.release(); err != nil {
		s.fail(err)
	}
	for _, l := range s.loops {
		if l.fd > 0 {
			unix.Close(l.fd)
		}
	}
	if s.acc != nil && s.acc.fd > 0 {
		unix.Close(s.acc.fd)
	}
	for _, fd := range s.listenFds {
		unix.Close(fd)
	}
	if s.unlink != "" {
		unix.Unlink(s.unlink)
	}
}

// Wait blocks until the set has stopped and returns the first error that stopped it.
func (s *Set) Wait() error {
	<-s.done
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// fail records err as the set's error (the first one wins) and stops the set.
func (s *Set) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.Stop()
}

// guard runs a handler callback; a panic becomes an error (logged with its stack).
func (s *Set) guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Printf("uringnet: handler panic: %v\n%s", r, debug.Stack())
			err = fmt.Errorf("ringset: handler panic: %v", r)
		}
	}()
	f()
	return nil
}

// PickLoop is the loop the set's balancer picks for a connection it did not accept (to Dial
// or Adopt) with peer addr; any goroutine may call it. Source-address hash hashes addr as gnet
// does, or, with no address, picks round-robin.
func (s *Set) PickLoop(addr net.Addr) int {
	if s.cfg.Balancer == SourceAddrHash && addr != nil {
		return s.loopByAddr(addr.String()).idx
	}
	n := s.picks.Add(1) - 1
	return s.pick(&n).idx
}

// loopByAddr is gnet's source-address hash: crc32 of the peer's address as a string.
func (s *Set) loopByAddr(addr string) *loop {
	return s.loops[crc32.ChecksumIEEE([]byte(addr))%uint32(len(s.loops))]
}

// pick chooses the loop for a new connection.
func (s *Set) pick(next *uint64) *loop {
	if s.cfg.Balancer == LeastConnections {
		best, least := s.loops[0], s.loops[0].load()
		for _, l := range s.loops[1:] {
			if n := l.load(); n < least {
				best, least = l, n
			}
		}
		return best
	}
	l := s.loops[*next%uint64(len(s.loops))]
	*next++
	return l
}
