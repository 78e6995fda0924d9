package ringset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
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
	waker   waker
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
	// listenerFd is a regular descriptor for the (first) listener, for DupListener; -1 when
	// the set listens nowhere.
	listenerFd int

	stopOnce sync.Once
	started  chan struct{} // closed when Start has finished building the set, or given up
	begin    chan struct{} // closed after OnBoot: the loops and the acceptor start serving
	beginOne sync.Once
	startErr error // why Start gave up; shutdown then has nothing left to do
	done     chan struct{}
	errMu    sync.Mutex
	err      error
}

// Start listens, calls OnBoot, starts the loops and the acceptor, and returns a running set.
// A returned error matching poller.ErrUnavailable means io_uring cannot serve here.
func Start(cfg Config, h Handler) (*Set, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Set{cfg: cfg, handler: h, listenerFd: -1, done: make(chan struct{}), started: make(chan struct{}), begin: make(chan struct{}),
		recvLimit: cfg.Features.Has(poller.CapRecvLimit),
		direct:    isTCP(cfg.Network) && cfg.Features.Require(directListenCaps...) == nil}
	s.sent, _ = h.(SendObserver)
	// A loop may call Stop (a tick, a handler, a failure) before Start returns: shutdown waits
	// for the set to be complete, or for Start to have cleaned up after itself.
	defer close(s.started)
	startFailed := func(e error) (*Set, error) {
		s.startErr = e
		s.beginOne.Do(func() { close(s.begin) })
		if s.acc != nil {
			s.acc.stop.Store(true)
			s.acc.wake()
			<-s.acc.exit
		}
		s.stopLoops()
		s.release()
		return nil, e
	}
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
			s.waker.close()
			return nil, err
		}
		if s.listenerFd, err = unix.FcntlInt(uintptr(lfds[0]), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			for _, fd := range lfds {
				unix.Close(fd)
			}
			s.waker.close()
			return nil, fmt.Errorf("ringset: duplicate listener descriptor: %w", err)
		}
	}
	// Each ring's fixed-file table takes its own reference to its listener.
	defer func() {
		for _, fd := range lfds {
			unix.Close(fd)
		}
	}()
	// Every loop exists before any runs: a running loop's handlers may read s.loops.
	for i := 0; i < cfg.Loops; i++ {
		l := &loop{idx: i, set: s, exit: make(chan struct{}), listenFd: -1}
		if cfg.ReusePort && lfds != nil {
			l.listenFd = lfds[i]
		}
		if isUDP(cfg.Network) {
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
	for i, l := range s.loops {
		ready := make(chan error, 1)
		go l.run(ready)
		if err := <-ready; err != nil {
			for _, never := range s.loops[i+1:] {
				never.abandon()
			}
			return startFailed(err)
		}
	}
	if !cfg.ReusePort && cfg.Network != "" {
		s.acc = &acceptor{set: s, listenFd: -1, exit: make(chan struct{})}
		if lfds != nil {
			s.acc.listenFd = lfds[0]
		}
		ready := make(chan error, 1)
		go s.acc.run(ready)
		if err := <-ready; err != nil {
			s.acc = nil
			return startFailed(err)
		}
	}
	// Everything is set up and listening; nothing is served until OnBoot has run.
	if action := h.OnBoot(s); action == Shutdown {
		return startFailed(errors.New("ringset: OnBoot asked to shut down"))
	}
	s.beginOne.Do(func() { close(s.begin) })
	if cfg.Rebalance != nil {
		s.rebal = startRebalancer(s)
	}
	return s, nil
}

// listen creates n listening sockets on the configured address (regular descriptors, through
// the standard library's address handling; with n > 1 they share the port with SO_REUSEPORT)
// and returns duplicates of them.
func (s *Set) listen(n int) ([]int, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
				return err
			}
			return serr
		}
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
	if isUDP(s.cfg.Network) {
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
	if s.listenerFd < 0 {
		return -1, errors.New("ringset: the set listens nowhere")
	}
	fd, err := unix.FcntlInt(uintptr(s.listenerFd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("ringset: duplicate listener descriptor: %w", err)
	}
	return fd, nil
}

// NumLoops is how many loops the set runs.
func (s *Set) NumLoops() int { return len(s.loops) }

// CountConnections is how many connections the loops serve.
func (s *Set) CountConnections() int {
	n := int64(0)
	for _, l := range s.loops {
		n += l.count.Load()
	}
	return int(n)
}

// PassedDescriptors is how many connections loop i received from the acceptor by MSG_RING.
func (s *Set) PassedDescriptors(i int) int64 { return s.loops[i].passed.Load() }

// ListenerKind says how the set's listeners were made: "direct" (born as direct descriptors by
// ring operations) or "regular" (by the standard library, then placed in a ring's table).
func (s *Set) ListenerKind() string {
	if s.direct {
		return "direct"
	}
	return "regular"
}

// loopOnThread returns the loop whose locked thread is tid, if any.
func (s *Set) loopOnThread(tid int64) *loop {
	for _, l := range s.loops {
		if l.tid.Load() == tid {
			return l
		}
	}
	return nil
}

// Waker names how other goroutines wake the loops: "sync-msg-ring" or "messenger-ring".
func (s *Set) Waker() string { return s.waker.kind() }

// Post runs f on loop i.
func (s *Set) Post(i int, f func()) error { return s.loops[i].Post(f) }

// Stop starts shutting the set down: OnShutdown, then the acceptor stops, then every loop
// closes its connections and exits. It returns at once; Wait returns when all is done.
func (s *Set) Stop() {
	s.stopOnce.Do(func() { go s.shutdown() })
}

func (s *Set) shutdown() {
	<-s.started
	if s.startErr != nil {
		close(s.done)
		return
	}
	s.guard(func() { s.handler.OnShutdown(s) })
	if s.rebal != nil {
		s.rebal.close()
	}
	if s.acc != nil {
		s.acc.stop.Store(true)
		if err := s.acc.wake(); err != nil {
			s.fail(err)
		}
		<-s.acc.exit
	}
	s.stopLoops()
	s.release()
	close(s.done)
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

// release frees what the set holds beyond its loops: the loops' ring descriptors are closed
// only now, after the acceptor and every waker are done with them, so that their numbers cannot
// be reused by another ring while a message could still be addressed to them.
func (s *Set) release() {
	for _, l := range s.loops {
		if l.fd > 0 {
			unix.Close(l.fd)
		}
	}
	if s.listenerFd >= 0 {
		unix.Close(s.listenerFd)
	}
	if s.unlink != "" {
		unix.Unlink(s.unlink)
	}
	if err := s.waker.close(); err != nil {
		s.fail(err)
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
// or Adopt); any goroutine may call it. Source-address hash, having no address here, picks
// round-robin.
func (s *Set) PickLoop() int {
	n := s.picks.Add(1) - 1
	return s.pick(&n).idx
}

// pick chooses the loop for a new connection.
func (s *Set) pick(next *uint64) *loop {
	if s.cfg.Balancer == LeastConnections {
		best := s.loops[0]
		for _, l := range s.loops[1:] {
			if l.count.Load() < best.count.Load() {
				best = l
			}
		}
		return best
	}
	l := s.loops[*next%uint64(len(s.loops))]
	*next++
	return l
}
