// Command netpoll is an echo server written against gnet's own poller package,
// github.com/panjf2000/gnet/v2/pkg/netpoll: one goroutine per Poller runs Polling, the first
// Poller also watches the listening socket and hands each accepted connection to a Poller in
// turn with Trigger, and each connection's callback reads what arrived and writes it back,
// keeping what the socket does not take until it is writable again.
//
// It is gnet's netpoll program with one line changed: the import of netpoll, which is
// uringnet's compat/netpoll here, so the Pollers run on io_uring (readiness from POLL_ADD,
// Trigger woken by MSG_RING). With the import put back to gnet's, it is the same program on
// epoll, which is how the benchmark compares the two.
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/panjf2000/gnet/v2/pkg/queue"
	"github.com/uringnet/uringnet/compat/netpoll"
	"golang.org/x/sys/unix"
)

// loop is one Poller and the connections it serves; only its Polling goroutine touches them.
type loop struct {
	poller *netpoll.Poller
	edge   bool
	conns  map[int]*conn
	buf    []byte // the read buffer, shared by the loop's connections
}

// conn is a connection's state: what the socket has not taken yet, and whether the poller
// is asked to say when it takes more.
type conn struct {
	pa      netpoll.PollAttachment
	out     []byte
	writing bool
}

func newLoop(edge bool) (*loop, error) {
	p, err := netpoll.OpenPoller()
	if err != nil {
		return nil, err
	}
	return &loop{poller: p, edge: edge, conns: map[int]*conn{}, buf: make([]byte, 64<<10)}, nil
}

// register starts serving a connection; it runs on the loop's goroutine, by Trigger.
func (l *loop) register(param any) error {
	fd := param.(int)
	c := &conn{pa: netpoll.PollAttachment{FD: fd, Callback: l.serve}}
	if err := l.poller.AddRead(&c.pa, l.edge); err != nil {
		unix.Close(fd)
		return nil
	}
	l.conns[fd] = c
	return nil
}

// serve handles a connection's events: it echoes what it can read and flushes what waits.
func (l *loop) serve(fd int, ev netpoll.IOEvent, flags netpoll.IOFlags) error {
	c := l.conns[fd]
	if c == nil {
		return nil
	}
	if netpoll.IsWriteEvent(ev) && !l.flush(c) {
		return nil
	}
	if netpoll.IsReadEvent(ev) || netpoll.IsErrorEvent(ev, flags) {
		for len(c.out) == 0 { // read while everything read so far is sent
			n, err := unix.Read(fd, l.buf)
			if err == unix.EAGAIN {
				break
			}
			if n <= 0 || err != nil {
				l.close(c)
				return nil
			}
			c.out = append(c.out, l.buf[:n]...)
			if !l.flush(c) {
				return nil
			}
			if !l.edge {
				break // level-triggered: the poller reports what is left
			}
		}
	}
	return nil
}

// flush writes what waits; it reports false when the connection is gone. The registration
// changes only when the socket fills up and when it has taken everything again.
func (l *loop) flush(c *conn) bool {
	for len(c.out) > 0 {
		n, err := unix.Write(c.pa.FD, c.out)
		if err == unix.EAGAIN {
			if !c.writing {
				c.writing = true
				l.poller.ModReadWrite(&c.pa, l.edge) // tell us when it takes more
			}
			return true
		}
		if err != nil {
			l.close(c)
			return false
		}
		c.out = c.out[n:]
	}
	c.out = c.out[:0]
	if c.writing {
		c.writing = false
		l.poller.ModRead(&c.pa, l.edge)
	}
	return true
}

func (l *loop) close(c *conn) {
	l.poller.Delete(c.pa.FD)
	unix.Close(c.pa.FD)
	delete(l.conns, c.pa.FD)
}

// listen opens a non-blocking TCP listener on 127.0.0.1:port.
func listen(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 1024); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func main() {
	var port, loops int
	var edge bool
	flag.IntVar(&port, "port", 9000, "port to listen on")
	flag.IntVar(&loops, "loops", 1, "pollers, each on its own goroutine")
	flag.BoolVar(&edge, "et", false, "register connections edge-triggered")
	flag.Parse()

	lfd, err := listen(port)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	ls := make([]*loop, loops)
	for i := range ls {
		if ls[i], err = newLoop(edge); err != nil {
			log.Fatalf("open poller: %v", err)
		}
	}
	next := 0
	accept := func(fd int, ev netpoll.IOEvent, flags netpoll.IOFlags) error {
		for {
			nfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err != nil {
				return nil // EAGAIN: all taken; anything else: try at the next event
			}
			unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			l := ls[next%len(ls)]
			next++
			l.poller.Trigger(queue.HighPriority, l.register, nfd)
		}
	}
	if err := ls[0].poller.AddRead(&netpoll.PollAttachment{FD: lfd, Callback: accept}, false); err != nil {
		log.Fatalf("watch the listener: %v", err)
	}
	log.Printf("netpoll echo server with %d pollers (edge-triggered %t) is listening on 127.0.0.1:%d", loops, edge, port)
	errs := make(chan error, loops)
	for i, l := range ls {
		go func() {
			errs <- l.poller.Polling(func(fd int, ev netpoll.IOEvent, flags netpoll.IOFlags) error {
				if i == 0 && fd == lfd {
					return accept(fd, ev, flags)
				}
				return l.serve(fd, ev, flags)
			})
		}()
	}
	log.Fatal(fmt.Errorf("polling ended: %w", <-errs))
}
