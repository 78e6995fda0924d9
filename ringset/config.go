package ringset

import (
	"errors"
	"fmt"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
	"golang.org/x/sys/unix"
)

// Action is what a handler asks of the loop after a callback.
type Action int

// Actions.
const (
	None     Action = iota // carry on
	Close                  // close the connection
	Shutdown               // stop the whole set
)

// Handler receives a set's events. OnBoot runs before the loops serve; OnOpen, OnTraffic and
// OnClose run on the connection's loop; OnTick on loop 0. In OnClose the connection still holds
// the input it was left with (and, where it failed, what arrived as it did): its buffers are
// freed after OnClose returns.
type Handler interface {
	OnBoot(s *Set) Action
	OnShutdown(s *Set)
	OnOpen(c *conn.Conn) (out []byte, action Action)
	OnClose(c *conn.Conn, err error) Action
	OnTraffic(c *conn.Conn) Action
	OnTick() (delay time.Duration, action Action)
}

// SendObserver is what a Handler also implements to hear, on the loop, of every send that
// completed for an open connection (its OutboundBuffered is then current): a writer that
// waits for its bytes to leave (a blocking net.Conn Write) is woken from here.
type SendObserver interface {
	OnSent(c *conn.Conn)
}

// Balancer picks the loop a new connection goes to.
type Balancer int

// Balancers.
const (
	RoundRobin       Balancer = iota // each loop in turn
	LeastConnections                 // the loop serving the fewest connections
	SourceAddrHash                   // crc32 of the peer's "ip:port", as gnet hashes it
)

func (b Balancer) String() string {
	switch b {
	case RoundRobin:
		return "round-robin"
	case LeastConnections:
		return "least-connections"
	case SourceAddrHash:
		return "source-addr-hash"
	}
	return fmt.Sprintf("balancer(%d)", int(b))
}

// MaxLoops is the most loops a set runs.
const MaxLoops = 256

// Config says what a set serves and how.
type Config struct {
	// Network is "tcp", "tcp4", "tcp6", "unix", or "udp", "udp4", "udp6" (see udp.go); empty
	// for a set that listens nowhere and serves only what it dials or adopts (a client).
	Network string
	Address string // host:port, or a path for unix

	Loops    int      // event loops; 0 means 1, at most MaxLoops
	Balancer Balancer // how connections are spread over loops (not used with ReusePort)
	// ReusePort gives every loop its own SO_REUSEPORT listener and multishot accept: the
	// kernel spreads connections by a hash of their addresses and no descriptor is passed.
	// By default one acceptor ring accepts and passes each connection to the balancer's loop.
	ReusePort bool

	// MaxConnsPerLoop sizes each loop's fixed-file table. The kernel caps a table at the
	// process's descriptor limit (RLIMIT_NOFILE), and so does the default: each loop serves as
	// many connections as the process could hold regular descriptors. A larger value is cut to
	// the limit.
	MaxConnsPerLoop uint32
	// ReadBufferSize and ReadBuffers size each loop's provided-buffer ring (defaults 16 KiB and
	// 512; the count is rounded up to a power of two). ReadBuffers is the most the ring holds:
	// it starts with fewer and grows as batches of receives need them.
	ReadBufferSize uint32
	ReadBuffers    uint32
	// InboundLimit bounds the unconsumed bytes a connection may hold; receiving pauses there
	// and resumes once the handler consumes (default 1 MiB).
	InboundLimit int
	// MessageLimit bounds how far a Peek or Next that came up short (a framed protocol waiting
	// for a whole message) raises a connection's limit beyond InboundLimit (default 64 MiB): a
	// length a peer sends is no licence to buffer without bound.
	MessageLimit int
	// Ticker enables OnTick.
	Ticker bool
	// Backlog is the listen backlog (default 1024).
	Backlog int
	// TCPDelay leaves Nagle's algorithm on. By default it is off (TCP_NODELAY), as in gnet; it
	// is set on the listener, from which Linux copies it to every accepted connection.
	TCPDelay bool

	// SocketOptions are set on every listener before it listens, from which Linux copies them
	// to each accepted connection (keep-alive and its timings, buffer sizes), and on every
	// dialed socket before it connects.
	SocketOptions []SocketOption

	// Movable lets connections move between loops while they serve (Set.Move). The handler
	// must then reach a connection only through it (its callbacks, Exec, AsyncWrite, …), never
	// by remembering which loop it was on.
	Movable bool
	// Rebalance, when not nil, moves connections away from a loop that stays busier than the
	// others (rebalance.go); it implies Movable.
	Rebalance *Rebalance

	// ReportCloseFirst calls OnClose as soon as a connection's close begins, as gnet does: the
	// handler may still write then (a last reply, flushed before the descriptor closes), and
	// the connection stops counting. By default OnClose runs once the descriptor is closed.
	ReportCloseFirst bool

	// NeverPoll makes every loop wait in the kernel whenever its completion queue is empty,
	// rather than pace itself by polling after a busy batch (pace.go). Polling keeps the
	// loop's P, which suits handlers that do their work on the loop; a set whose work runs on
	// goroutines the loop wakes (the listener's) needs that P for them: such a loop also
	// gives its P up as a wait begins whenever goroutines are waiting for one (where the
	// runtime counts them: Go 1.26 and later), parking until Go's netpoller readies it
	// (park.go), and otherwise holds it through a wait no longer than a loop that shares the
	// Ps does (pace.go).
	NeverPoll bool

	// Features is what the kernel may be assumed to have; the zero value means probe it.
	// Tests remove capabilities to force the slower paths.
	Features *poller.Features

	// acceptorTable sizes the acceptor's fixed-file table (0: acceptorSlots); tests make it
	// smaller than a burst of connections.
	acceptorTable uint32
	// acceptorFaults makes the kernel's rare failures happen to the acceptor (faults.go), for
	// tests.
	acceptorFaults *faults
}

// SocketOption is one integer socket option (setsockopt(level, name, value)).
type SocketOption struct {
	Level, Name int
	Value       int32
}

// socketOptions are the options a socket of the set gets before it listens or connects:
// TCP_NODELAY (unless TCPDelay) and SocketOptions, less the TCP-level ones for a unix socket.
func (c *Config) socketOptions(tcp bool) []SocketOption {
	var opts []SocketOption
	if tcp && !c.TCPDelay {
		opts = append(opts, SocketOption{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1})
	}
	for _, o := range c.SocketOptions {
		if tcp || o.Level != unix.IPPROTO_TCP {
			opts = append(opts, o)
		}
	}
	return opts
}

// Required are the capabilities without which a set cannot run on io_uring.
var Required = []poller.Capability{
	poller.CapSingleIssuer, poller.CapDeferTaskrun, poller.CapRegisteredRing, poller.CapExtArg,
	poller.CapBufferRing, poller.CapSparseFiles, poller.CapMultishotRecv,
	poller.CapMsgRing, poller.CapMsgRingFd,
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Loops == 0 {
		c.Loops = 1
	}
	if c.Loops < 0 || c.Loops > MaxLoops {
		return c, fmt.Errorf("ringset: %d loops: want 1 to %d", c.Loops, MaxLoops)
	}
	if limit := connsPerLoopLimit(); c.MaxConnsPerLoop == 0 || c.MaxConnsPerLoop > limit {
		c.MaxConnsPerLoop = limit
	}
	if c.ReadBufferSize == 0 {
		c.ReadBufferSize = 16 << 10
	}
	if IsUDP(c.Network) && c.ReadBufferSize <= minDatagramBuffer {
		return c, fmt.Errorf("ringset: a read buffer of %d bytes holds no datagram: more than %d needed", c.ReadBufferSize, minDatagramBuffer)
	}
	if c.ReadBuffers == 0 {
		c.ReadBuffers = 512
	}
	for p := uint32(1); ; p <<= 1 {
		if p >= c.ReadBuffers {
			c.ReadBuffers = min(p, 1<<15)
			break
		}
	}
	if c.InboundLimit == 0 {
		c.InboundLimit = 1 << 20
	}
	if c.MessageLimit == 0 {
		c.MessageLimit = 64 << 20
	}
	if c.Backlog == 0 {
		c.Backlog = 1024
	}
	if IsUDP(c.Network) {
		c.ReusePort = true // every loop reads its own socket, as gnet forces for UDP
	}
	if c.ReusePort && (c.Network == "unix" || c.Network == "") {
		return c, errors.New("ringset: ReusePort needs a TCP network")
	}
	if c.Rebalance != nil {
		r := c.Rebalance.withDefaults()
		c.Rebalance, c.Movable = &r, true
	}
	if c.Balancer < RoundRobin || c.Balancer > SourceAddrHash {
		return c, fmt.Errorf("ringset: unknown balancer %v", c.Balancer)
	}
	if c.Features == nil {
		f, err := poller.Probe()
		if err != nil {
			return c, err
		}
		c.Features = &f
	}
	if err := Available(c.Features); err != nil {
		return c, err
	}
	return c, nil
}

// minDatagramBuffer is what each datagram received into a provided buffer takes besides its
// payload: the kernel's header (struct io_uring_recvmsg_out) and the sender's address.
const minDatagramBuffer = 16 + unix.SizeofSockaddrInet6

// maxFixedFiles is the kernel's bound on a fixed-file table (IORING_MAX_FIXED_FILES).
const maxFixedFiles = 1 << 20

// connsPerLoopLimit is the most connections a loop's table can hold in this process: the
// descriptor limit (the kernel's cap on a table), less the slot kept for a listener.
func connsPerLoopLimit() uint32 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 2 {
		return 1023
	}
	return uint32(min(rl.Cur, maxFixedFiles) - 1)
}

// ErrStopped is returned when work is posted to a loop that has stopped.
var ErrStopped = errors.New("ringset: loop stopped")
