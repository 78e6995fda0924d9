package ringset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/internal/leakcheck"
	"golang.org/x/sys/unix"
)

// opened collects a set's connections as they open.
type opened struct {
	mu    sync.Mutex
	conns []*conn.Conn
	ch    chan *conn.Conn
}

func (o *opened) add(c *conn.Conn) ([]byte, Action) {
	o.mu.Lock()
	o.conns = append(o.conns, c)
	o.mu.Unlock()
	if o.ch != nil {
		o.ch <- c
	}
	return nil, None
}

func (o *opened) all() []*conn.Conn {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*conn.Conn(nil), o.conns...)
}

// moveAndWait moves c to loop to and returns how the move ended.
func moveAndWait(t testing.TB, s *Set, c *conn.Conn, to int) error {
	t.Helper()
	done := make(chan error, 1)
	if err := s.Move(c, to, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("move to loop %d did not end in 10 s", to)
		return nil
	}
}

// echoStream is one client of the move tests: it sends a stream of random-sized writes drawn
// from a seeded generator and checks that the same stream comes back, byte for byte, until
// stop closes, adding the bytes it verifies to verified as it goes.
func echoStream(c net.Conn, seed uint64, stop <-chan struct{}, verified *atomic.Int64) error {
	rnd := rand.New(rand.NewPCG(seed, 1))
	next := func(b []byte) {
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
	}
	check := rand.New(rand.NewPCG(seed, 1))
	want := make([]byte, 1024)
	out := make([]byte, 1024)
	in := make([]byte, 1024)
	var done int64
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		n := 1 + int(rnd.IntN(len(out)))
		next(out[:n])
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write(out[:n]); err != nil {
			return fmt.Errorf("write after %d bytes: %w", done, err)
		}
		check.IntN(len(out)) // keep the checker's generator in step with the sender's
		if _, err := io.ReadFull(c, in[:n]); err != nil {
			return fmt.Errorf("read after %d bytes: %w", done, err)
		}
		for i := range want[:n] {
			want[i] = byte(check.Uint32())
		}
		for i := 0; i < n; i++ {
			if in[i] != want[i] {
				return fmt.Errorf("byte %d of the stream is %#x, want %#x", done+int64(i), in[i], want[i])
			}
		}
		done += int64(n)
		verified.Add(int64(n))
	}
}

// Under continuous verified echo load, every one of 1,000 connections over four loops moves
// at least 20 times, half of the moves asked from another goroutine and half from the
// connection's own loop: no byte is lost, duplicated or reordered, each move lands on the loop
// named, and the set ends with the descriptors and goroutines it started with.
func TestMoveUnderEchoLoad(t *testing.T) { moveUnderEchoLoad(t, 1000, 20) }

// The garbage collector against the memory the kernel holds (receive buffers' contents being
// copied, sends' bytes, moving connections' state): collections forced back to back, with the
// collector's target at 1% (GOGC=1), while 1,000 connections echo and move as above (200 under
// the race detector), every byte checked.
func TestCollectionsUnderMovingEchoLoad(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	stop := make(chan struct{})
	collections := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				collections <- n
				return
			default:
				runtime.GC()
				n++
			}
		}
	}()
	conns := 1000
	if raceEnabled {
		conns = 200
	}
	moveUnderEchoLoad(t, conns, 5)
	close(stop)
	t.Logf("%d collections forced", <-collections)
}

// moveUnderEchoLoad moves each of conns connections over four loops moves times under verified
// echo load.
func moveUnderEchoLoad(t *testing.T, conns, moves int) {
	const loops = 4
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	var o opened
	h := &hooks{open: o.add}
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Loops: loops, Movable: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]net.Conn, conns)
	for i := range clients {
		if clients[i], err = net.Dial("tcp", s.Addr().String()); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	wait, verified := echoLoad(clients, stop)
	waitUntil(t, 10*time.Second, func() bool { return len(o.all()) >= conns })
	all := o.all()
	// Every round of moves happens under load: before each, the clients have echoed at least
	// another kilobyte per connection since the previous one.
	flowed := func(atLeast int64) {
		waitUntil(t, 30*time.Second, func() bool { return verified.Load() >= atLeast })
	}
	var wrong atomic.Int64
	for round := 0; round < moves; round++ {
		flowed(verified.Load() + int64(conns)<<10)
		var wg sync.WaitGroup
		for i, c := range all {
			to := (i + round + 1) % loops
			wg.Add(1)
			done := func(err error) {
				defer wg.Done()
				if err != nil || c.Loop().Index() != to || !c.OnOwnerThread() {
					wrong.Add(1)
					t.Errorf("move of connection %d to loop %d: %v (now on loop %d)", i, to, err, c.Loop().Index())
				}
			}
			var err error
			if round%2 == 0 {
				err = s.Move(c, to, done)
			} else {
				// Asked on the connection's own loop, as a handler would.
				err = c.Exec(func() {
					if err := s.Move(c, to, done); err != nil {
						done(err)
					}
				})
			}
			if err != nil {
				t.Fatalf("Move: %v", err)
			}
		}
		wg.Wait()
		if wrong.Load() > 0 {
			break
		}
	}
	close(stop)
	for _, err := range wait() {
		t.Error(err)
	}
	for _, c := range clients {
		c.Close()
	}
	t.Logf("%d connections, %d moves each, %d bytes echoed and verified", conns, moves, verified.Load())
	if verified.Load() == 0 {
		t.Fatal("no bytes were echoed")
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if h.closed.Load() != int64(conns) {
		t.Errorf("%d connections reported closed, want %d", h.closed.Load(), conns)
	}
	leakcheck.Settle(t, goroutines, fds)
}

// Work posted for a connection from other goroutines follows it across moves in the order it
// was posted: a writer's numbered AsyncWrites arrive in order while the connection moves.
func TestMoveKeepsPostedWorkInOrder(t *testing.T) {
	o := opened{ch: make(chan *conn.Conn, 1)}
	h := &hooks{open: o.add, traffic: func(*conn.Conn) Action { return None }}
	s := startSet(t, Config{Loops: 3, Movable: true}, h)
	client := dial(t, s)
	c := <-o.ch
	const writes = 20000
	go func() {
		var b [4]byte
		for i := uint32(0); i < writes; i++ {
			binary.BigEndian.PutUint32(b[:], i)
			msg := b // each write keeps its own bytes until sent
			if err := c.AsyncWrite(msg[:], nil); err != nil {
				t.Errorf("AsyncWrite %d: %v", i, err)
				return
			}
		}
	}()
	moved := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; i < 200; i++ {
			if err := moveAndWait(t, s, c, (i+1)%3); err != nil {
				t.Errorf("move %d: %v", i, err)
				break
			}
			n++
		}
		moved <- n
	}()
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b [4]byte
	for i := uint32(0); i < writes; i++ {
		if _, err := io.ReadFull(client, b[:]); err != nil {
			t.Fatalf("read write %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(b[:]); got != i {
			t.Fatalf("write %d arrived where write %d belongs", got, i)
		}
	}
	if n := <-moved; n != 200 {
		t.Fatalf("%d of 200 moves completed", n)
	}
}

// A connection keeps its context, its cached descriptor and its addresses across a move, and
// they keep working on the new loop; closing the connection there closes the cached descriptor.
func TestMoveKeepsState(t *testing.T) {
	o := opened{ch: make(chan *conn.Conn, 1)}
	s := startSet(t, Config{Loops: 2, Movable: true}, &hooks{open: o.add})
	client := dial(t, s)
	c := <-o.ch
	type before struct {
		fd     int
		remote net.Addr
	}
	got := make(chan before, 1)
	c.Exec(func() {
		c.SetContext("kept")
		fd, err := c.Fd()
		if err != nil {
			t.Error(err)
		}
		got <- before{fd, c.RemoteAddr()}
	})
	b := <-got
	from := c.Loop().Index()
	if err := moveAndWait(t, s, c, 1-from); err != nil {
		t.Fatal(err)
	}
	check := make(chan error, 1)
	c.Exec(func() {
		switch fd, err := c.Fd(); {
		case c.Context() != "kept":
			check <- fmt.Errorf("context is %v after the move", c.Context())
		case err != nil || fd != b.fd:
			check <- fmt.Errorf("Fd after the move: %d, %v; it was %d", fd, err, b.fd)
		case c.RemoteAddr().String() != b.remote.String():
			check <- fmt.Errorf("RemoteAddr after the move: %v, was %v", c.RemoteAddr(), b.remote)
		default:
			check <- c.SetNoDelay(false)
		}
	})
	if err := <-check; err != nil {
		t.Fatal(err)
	}
	if v, err := unix.GetsockoptInt(b.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 0 {
		t.Fatalf("TCP_NODELAY through the cached descriptor after the move: %v, %v; want 0", v, err)
	}
	if err := echoRoundTrip(client, 64<<10, 3); err != nil {
		t.Fatal(err)
	}
	fds := leakcheck.OpenFds(t)
	closeAsync(c, nil)
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after close: %v, want EOF", err)
	}
	leakcheck.Settle(t, runtime.NumGoroutine(), fds-1)
}

// A move the target cannot take (its fixed-file table is full) leaves the connection serving
// on its loop, and says why; once the target has room, the same move succeeds.
func TestMoveToFullLoopStays(t *testing.T) {
	o := opened{ch: make(chan *conn.Conn, 4)}
	s := startSet(t, Config{Loops: 2, Movable: true, MaxConnsPerLoop: 2}, &hooks{open: o.add})
	// Round-robin: connections 0 and 2 on loop 0, 1 and 3 on loop 1, which fills both tables.
	clients, conns := make([]net.Conn, 4), make([]*conn.Conn, 4)
	for i := range clients {
		clients[i] = dial(t, s)
		conns[i] = <-o.ch
		if got := conns[i].Loop().Index(); got != i%2 {
			t.Fatalf("connection %d on loop %d, want %d", i, got, i%2)
		}
	}
	err := moveAndWait(t, s, conns[0], 1)
	if err == nil {
		t.Fatal("a move into a full table succeeded")
	}
	t.Logf("move into a full table: %v", err)
	if got := conns[0].Loop().Index(); got != 0 {
		t.Fatalf("the connection is on loop %d after a failed move, want 0", got)
	}
	for i, cl := range clients {
		if err := echoRoundTrip(cl, 32<<10, uint64(i)); err != nil {
			t.Fatalf("client %d after the failed move: %v", i, err)
		}
	}
	closeAsync(conns[1], nil)
	if _, err := clients[1].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client 1 after its close: %v, want EOF", err)
	}
	waitUntil(t, 10*time.Second, func() bool { return s.loops[1].count.Load() <= 1 })
	if err := moveAndWait(t, s, conns[0], 1); err != nil {
		t.Fatalf("move once the table has room: %v", err)
	}
	for _, i := range []int{0, 2, 3} {
		if err := echoRoundTrip(clients[i], 32<<10, uint64(i)); err != nil {
			t.Fatalf("client %d after the move: %v", i, err)
		}
	}
}

// What Move refuses, and what it reports for a connection that cannot move.
func TestMoveRefusals(t *testing.T) {
	o := opened{ch: make(chan *conn.Conn, 1)}
	fixed := startSet(t, Config{Loops: 2}, &hooks{open: o.add})
	dial(t, fixed)
	c := <-o.ch
	if err := fixed.Move(c, 1, nil); !errors.Is(err, ErrNotMovable) {
		t.Errorf("Move on a set without Movable: %v, want ErrNotMovable", err)
	}
	closed := make(chan struct{})
	s := startSet(t, Config{Loops: 2, Movable: true}, &hooks{open: o.add, close: func(*conn.Conn, error) { close(closed) }})
	client := dial(t, s)
	c = <-o.ch
	if err := s.Move(c, 2, nil); !errors.Is(err, ErrNoSuchLoop) {
		t.Errorf("Move to loop 2 of 2: %v, want ErrNoSuchLoop", err)
	}
	if err := fixed.Move(c, 0, nil); !errors.Is(err, ErrNotMovable) {
		t.Errorf("Move through another set: %v", err)
	}
	if err := moveAndWait(t, s, c, c.Loop().Index()); err != nil {
		t.Errorf("move to the loop it is on: %v, want nil", err)
	}
	client.Close()
	<-closed
	if err := moveAndWait(t, s, c, 1-c.Loop().Index()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("move of a closed connection: %v, want net.ErrClosed", err)
	}
}

// Stopping a set while connections are moving closes every one of them exactly once, with
// nothing leaked: moves in flight either land (and the connection is closed there) or end
// with the reason.
func TestStopWhileMoving(t *testing.T) {
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFds(t)
	var o opened
	h := &hooks{open: o.add}
	s, err := Start(Config{Network: "tcp", Address: "127.0.0.1:0", Loops: 4, Movable: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	clients := make([]net.Conn, n)
	for i := range clients {
		if clients[i], err = net.Dial("tcp", s.Addr().String()); err != nil {
			t.Fatal(err)
		}
		clients[i].Write([]byte("x"))
	}
	// Each echo back says its server side has read the byte: a socket closed with a byte
	// still unread would be reset by the kernel rather than closed.
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, func() bool { return len(o.all()) >= n })
	var ended, asked atomic.Int64
	for i, c := range o.all() {
		if s.Move(c, (i+1)%4, func(error) { ended.Add(1) }) == nil {
			asked.Add(1)
		}
		if i == n/2 {
			s.Stop()
		}
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if h.closed.Load() != n {
		t.Errorf("%d connections reported closed, want %d", h.closed.Load(), n)
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("client: %v; want its connection closed", err)
		}
		c.Close()
	}
	if ended.Load() != asked.Load() {
		t.Errorf("%d moves were accepted and %d reported their end", asked.Load(), ended.Load())
	}
	t.Logf("%d of %d moves accepted before the loops stopped; each reported its end once", asked.Load(), n)
	leakcheck.Settle(t, goroutines, fds)
}
