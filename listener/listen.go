package listener

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/uringnet/uringnet/fdbridge"
	"github.com/uringnet/uringnet/ringset"
)

// ListenConfig holds the options of a listener.
type ListenConfig struct {
	// Loops, when positive, gives the listener's connections event loops of their own, which
	// stop once the listener is closed and its last connection is gone. Zero serves them on the
	// process's shared loops (one per two processors), which Dial uses too.
	Loops int
	// Backlog is the listen queue's length; zero keeps net.Listen's (the system's somaxconn).
	Backlog int
	// ReusePort sets SO_REUSEPORT, so that several listeners (in this process or others) share
	// the port and the kernel spreads connections over them.
	ReusePort bool
}

// Listen announces on the local address like net.Listen; network is "tcp", "tcp4", "tcp6" or
// "unix". Connections are served by io_uring loops; where io_uring cannot serve (or
// URINGNET_DISABLE=1), it returns net.Listen's listener, and says so once.
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// Listen announces on the local address with lc's options; see the package function.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	if !ringset.IsStream(network) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if lc.Loops < 0 || lc.Loops > ringset.MaxLoops {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("%d loops: want 0 to %d", lc.Loops, ringset.MaxLoops)}
	}
	var std net.ListenConfig
	if lc.ReusePort {
		std.Control = fdbridge.ReusePort
	}
	ln, err := std.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if lc.Backlog > 0 {
		if err := setBacklog(ln, lc.Backlog); err != nil {
			ln.Close()
			return nil, &net.OpError{Op: "listen", Net: network, Addr: ln.Addr(), Err: err}
		}
	}
	if !available() {
		return ln, nil
	}
	l := &Listener{std: ln.(stdListener)}
	if tl, ok := ln.(*net.TCPListener); ok {
		if l.tcp, err = newTCPAcceptor(tl, network); err != nil {
			ln.Close()
			if oe, ok := err.(*net.OpError); ok {
				err = oe.Err // net's File names the operation "file"
			}
			return nil, &net.OpError{Op: "listen", Net: network, Addr: ln.Addr(), Err: err}
		}
	}
	if lc.Loops > 0 {
		l.eng, err = startEngine(lc.Loops, true)
	} else {
		l.eng, err = sharedEngine()
	}
	if err != nil {
		l.closeSockets()
		return nil, &net.OpError{Op: "listen", Net: network, Addr: ln.Addr(), Err: err}
	}
	return l, nil
}

// setBacklog listens again with another backlog, which Linux allows on a listening socket.
func setBacklog(ln net.Listener, backlog int) error {
	raw, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	return fdbridge.Control(raw, func(fd int) error { return fdbridge.Listen(fd, backlog) })
}

// stdListener is what *net.TCPListener and *net.UnixListener have in common here.
type stdListener interface {
	net.Listener
	syscall.Conn
	SetDeadline(t time.Time) error
	File() (*os.File, error)
}

// Listener accepts connections that the net package's poller and io_uring loops serve (see
// Conn). The listening socket is the standard library's: the kernel's accept queue, Close
// (which frees the address at once, while accepted connections live on), SetDeadline and the
// shape of Accept's errors (*net.OpError; EMFILE and ENFILE temporary) are net's. A TCP
// listener's connections are accepted on it as sockets of the listener's own (socket.go),
// which cost less memory than net's connections; a unix listener's are net's.
type Listener struct {
	std       stdListener
	tcp       *tcpAcceptor // nil for a unix listener: net's Accept
	eng       *engine
	closeOnce sync.Once
}

// Accept waits for the next connection, a *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	if l.tcp != nil {
		s, err := l.tcp.accept()
		if err != nil {
			return nil, err
		}
		return newConn(l.eng, s), nil
	}
	sc, err := l.std.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(l.eng, sc.(stdConn)), nil
}

// Close stops listening: Accept, blocked or later, fails with an error wrapping net.ErrClosed.
// Accepted connections are not affected.
func (l *Listener) Close() error {
	err := l.closeSockets()
	l.closeOnce.Do(func() {
		if l.eng.owned {
			l.eng.unref()
		}
	})
	return err
}

// closeSockets closes net's listening socket and the acceptor's duplicate: net's first, for an
// Accept that closing the duplicate wakes may end the program's serving, whose own Close
// (http.Serve's) must find the listener closed already. The address is free once both are.
func (l *Listener) closeSockets() error {
	err := l.std.Close()
	if l.tcp != nil {
		l.tcp.f.Close()
	}
	return err
}

// SyscallConn returns the listening socket's raw connection, as net's listener's: Control runs
// on the descriptor (a program's socket options), Read and Write fail with EINVAL.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.std.SyscallConn() }

// File returns a duplicate of the listening socket's descriptor, as net's listener's File does.
func (l *Listener) File() (*os.File, error) { return l.std.File() }

// Addr returns the listener's address, with the port the system chose for port 0.
func (l *Listener) Addr() net.Addr { return l.std.Addr() }

// SetDeadline sets the deadline of Accept calls, blocked and future; the zero time means none.
func (l *Listener) SetDeadline(t time.Time) error {
	if l.tcp != nil {
		// Accept waits on the acceptor's duplicate alone. As net's listener, the poller's
		// error bare.
		return netError("", l.tcp.f.SetDeadline(t))
	}
	return l.std.SetDeadline(t)
}
