package listener

import (
	"fmt"
	"log"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/ringset"
)

// Sizes of an engine's loops.
const (
	// inboundLimit bounds what a connection whose reader is slow holds on the loop, besides the
	// one chunk handed to the reader: receiving stops there (back-pressure).
	inboundLimit = 256 << 10
	// writeLimit bounds the bytes a connection has accepted from writers and the kernel has not
	// yet taken: a Write blocks there until sends complete.
	writeLimit = 256 << 10
	// closeLinger bounds how long a closed connection keeps trying to deliver what was written
	// before Close when its peer does not read; then the rest is dropped, as a lingering close
	// times out.
	closeLinger = 30 * time.Second
)

// engine is a ring set serving connections for listeners and dials. The shared engine lives as
// long as the process; one a ListenConfig asked for (its own loops) stops when its listener is
// closed and its last connection is gone.
type engine struct {
	set   *ringset.Set
	next  atomic.Uint32 // round-robin position
	refs  atomic.Int64  // the listener, if owned, and every connection on a loop
	owned bool
	// blank is the link of every connection that keeps nothing of its own for the ring.
	blank ringLink
	// flushes are the loops' lists of connections with bytes for them to send, by loop.
	flushes []*flushList
	// stopOnce stops an owned engine when its last reference goes.
	stopOnce sync.Once
}

// pick returns the loop for a new connection.
func (e *engine) pick() int { return int((e.next.Add(1) - 1) % uint32(e.set.NumLoops())) }

func (e *engine) ref() { e.refs.Add(1) }

// unref drops a reference; an owned engine with none left stops, once: an adoption in flight
// when the listener closed may attach a connection after that, whose close takes the count to
// nothing again. A connection that would go to the ring after that stays with the poller.
func (e *engine) unref() {
	if e.refs.Add(-1) == 0 && e.owned {
		e.stopOnce.Do(e.set.Stop)
	}
}

// DefaultLoops is how many rings Listen and Dial serve their connections with (the process's
// shared engine): one per two processors, because the goroutines the connections serve do most
// of the work.
func DefaultLoops() int { return max(1, runtime.GOMAXPROCS(0)/2) }

func startEngine(loops int, owned bool) (*engine, error) {
	e := &engine{owned: owned}
	e.blank.eng = e
	if owned {
		e.refs.Store(1) // the listener's
	}
	var err error
	e.set, err = ringset.Start(ringset.Config{
		Loops: loops, InboundLimit: inboundLimit, // tables as large as the descriptor limit
		NeverPoll: true,
	}, loopHandler{})
	if err != nil {
		return nil, fmt.Errorf("listener: start loops: %w", err)
	}
	e.flushes = make([]*flushList, e.set.NumLoops())
	for i := range e.flushes {
		e.flushes[i] = newFlushList(func(task func()) bool { return e.set.Post(i, task) == nil },
			func() { e.set.Nudge(i) })
	}
	return e, nil
}

var shared struct {
	mu sync.Mutex
	e  *engine
}

// sharedEngine returns the process's shared engine, starting it on first use.
func sharedEngine() (*engine, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.e == nil {
		e, err := startEngine(DefaultLoops(), false)
		if err != nil {
			return nil, err
		}
		shared.e = e
	}
	return shared.e, nil
}

var fallback ringset.Fallback

// available reports whether io_uring serves here (ringset.Available, which honours
// URINGNET_DISABLE); when it does not, it says so once per process, and Listen and Dial return
// the standard library's types.
func available() bool {
	if err := ringset.Available(nil); err != nil {
		fallback.Note(log.Printf, "listener", "using the net package", err)
		return false
	}
	return true
}

// loopHandler connects the loops' events to the connections' goroutine-facing state; every
// method runs on a connection's loop.
type loopHandler struct{}

func (loopHandler) OnBoot(*ringset.Set) ringset.Action         { return ringset.None }
func (loopHandler) OnShutdown(*ringset.Set)                    {}
func (loopHandler) OnOpen(*conn.Conn) ([]byte, ringset.Action) { return nil, ringset.None }
func (loopHandler) OnTick() (time.Duration, ringset.Action)    { return time.Hour, ringset.None }
func (loopHandler) OnTraffic(c *conn.Conn) ringset.Action      { of(c).loopReceived(c); return ringset.None }
func (loopHandler) OnReadEOF(c *conn.Conn) ringset.Action      { of(c).loopEOF(c); return ringset.None }
func (loopHandler) OnSent(c *conn.Conn)                        { of(c).loopSent(c) }
func (loopHandler) OnReceiveStopped(c *conn.Conn)              { of(c).loopReceiveStopped(c) }
func (loopHandler) OnClose(c *conn.Conn, err error) ringset.Action {
	of(c).loopClosed(c, err)
	return ringset.None
}

func of(c *conn.Conn) *ringConn { return c.Context().(*ringConn) }
