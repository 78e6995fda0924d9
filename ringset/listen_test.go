package ringset

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/poller"
)

// TCP listeners are born as direct descriptors where the kernel allows; without the socket
// commands (forced here) they are regular sockets. Both serve, in both accept modes.
func TestListenerKinds(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	requireCap(t, f, poller.CapSockCmd)
	regular := f.Without(poller.CapSockCmd)
	for _, tc := range []struct {
		features  *poller.Features
		network   string
		reusePort bool
		want      string
	}{
		{&f, "tcp", false, "direct"}, {&f, "tcp", true, "direct"},
		{&regular, "tcp", false, "regular"}, {&regular, "tcp", true, "regular"},
		{&f, "unix", false, "regular"},
	} {
		t.Run(fmt.Sprintf("%s-reuseport-%v-%s", tc.network, tc.reusePort, tc.want), func(t *testing.T) {
			addr := "127.0.0.1:0"
			if tc.network == "unix" {
				addr = t.TempDir() + "/s"
			}
			s := startSet(t, Config{Network: tc.network, Address: addr, Loops: 2, ReusePort: tc.reusePort, Features: tc.features}, &echo{})
			if s.ListenerKind() != tc.want {
				t.Fatalf("listener kind %q, want %q", s.ListenerKind(), tc.want)
			}
			for i := 0; i < 4; i++ {
				if err := echoRoundTrip(dial(t, s), 8<<10, uint64(i)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A port in use fails Start with net.Listen's kind of error, on both listener paths.
func TestListenAddressInUse(t *testing.T) {
	f, err := poller.Probe()
	if err != nil {
		t.Fatal(err)
	}
	regular := f.Without(poller.CapSockCmd)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, features := range []*poller.Features{&f, &regular} {
		s, err := Start(Config{Network: "tcp", Address: busy.Addr().String(), Features: features}, &echo{})
		if err == nil {
			s.Stop()
			s.Wait()
			t.Fatal("Start on a port in use succeeded")
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "listen" || !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("Start on a port in use: %v; want a listen *net.OpError with EADDRINUSE", err)
		}
	}
}

// "tcp" with no host listens dual-stack, as net.Listen does: IPv4 and IPv6 clients both reach it.
func TestDualStackListener(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	s := startSet(t, Config{Network: "tcp", Address: ":0"}, &echo{})
	port := s.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if err != nil {
			t.Fatalf("dial %s: %v", host, err)
		}
		err = echoRoundTrip(c, 4096, 1)
		c.Close()
		if err != nil {
			t.Fatalf("over %s: %v", host, err)
		}
	}
}

// OnBoot runs with the listener's real address known and before any connection is served, even
// one that arrives while it runs.
func TestOnBootBeforeServing(t *testing.T) {
	var booted atomic.Bool
	openedEarly := make(chan bool, 1)
	h := &bootProbe{booted: &booted, openedEarly: openedEarly}
	startSet(t, Config{}, h)
	if h.addr == nil || h.addr.(*net.TCPAddr).Port == 0 {
		t.Fatalf("OnBoot saw address %v, want the real port", h.addr)
	}
	if early := <-openedEarly; early {
		t.Fatal("a connection was opened before OnBoot returned")
	}
}

type bootProbe struct {
	echo
	booted      *atomic.Bool
	openedEarly chan bool
	addr        net.Addr
}

func (h *bootProbe) OnBoot(s *Set) Action {
	h.addr = s.Addr()
	go net.Dial("tcp", s.Addr().String()) // arrives while OnBoot still runs
	time.Sleep(50 * time.Millisecond)
	h.booted.Store(true)
	return None
}

func (h *bootProbe) OnOpen(*conn.Conn) ([]byte, Action) {
	h.openedEarly <- !h.booted.Load()
	return nil, None
}
