package compat_test

// The suite's echo: every network, loop count, balancer and write mode, and Rotate.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// writeMode is how the echo server answers.
type writeMode int

const (
	syncWrite writeMode = iota
	asyncWrite
	syncWritev
	asyncWritev
)

func (m writeMode) String() string {
	return [...]string{"write", "async-write", "writev", "async-writev"}[m]
}

// echoServer echoes with the chosen write mode and counts its callbacks.
type echoServer struct {
	gnet.BuiltinEventEngine
	booted         chan struct{}
	mode           writeMode
	opened, closed atomic.Int64
	udp            bool
}

func (s *echoServer) OnBoot(gnet.Engine) gnet.Action { close(s.booted); return gnet.None }

func (s *echoServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s.opened.Add(1)
	return nil, gnet.None
}

func (s *echoServer) OnClose(gnet.Conn, error) gnet.Action { s.closed.Add(1); return gnet.None }

func (s *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	if s.udp {
		b, _ := c.Next(-1)
		c.Write(b)
		return gnet.None
	}
	b, _ := c.Next(-1)
	switch s.mode {
	case syncWrite:
		c.Write(b)
	case syncWritev:
		half := len(b) / 2
		c.Writev([][]byte{b[:half], b[half:]})
	case asyncWrite: // queued from the loop, in order; the copy outlives the callback
		c.AsyncWrite(bytes.Clone(b), nil)
	case asyncWritev:
		cp := bytes.Clone(b)
		half := len(cp) / 2
		c.AsyncWritev([][]byte{cp[:half], cp[half:]}, nil)
	}
	return gnet.None
}

// echoClients dials n clients to protoAddr and checks each gets its bytes back.
func echoClients(t *testing.T, protoAddr string, n int) {
	t.Helper()
	network, addr := dialAddr(protoAddr)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- echoOnce(network, addr, uint64(i))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func echoOnce(network, addr string, seed uint64) error {
	c, err := net.Dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rnd := rand.New(rand.NewPCG(seed, 1))
	if network[:3] == "udp" {
		for i := 0; i < 20; i++ {
			msg := make([]byte, 1+rnd.IntN(1000))
			for j := range msg {
				msg[j] = byte(rnd.Uint32())
			}
			if _, err := c.Write(msg); err != nil {
				return err
			}
			got := make([]byte, 2048)
			n, err := c.Read(got)
			if err != nil {
				return err
			}
			if !bytes.Equal(got[:n], msg) {
				return fmt.Errorf("udp echo: %d bytes back for %d sent", n, len(msg))
			}
		}
		return nil
	}
	want := make([]byte, 64<<10+rnd.IntN(64<<10))
	for j := range want {
		want[j] = byte(rnd.Uint32())
	}
	go func() {
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+rnd.IntN(4096))
			if _, err := c.Write(rest[:k]); err != nil {
				return
			}
			rest = rest[k:]
		}
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("echo read: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("echoed bytes differ")
	}
	return nil
}

// Echo over tcp, udp and unix × 1 or 4 loops × each balancer × each write mode.
func TestEcho(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		for _, network := range []string{"tcp", "udp", "unix"} {
			for _, loops := range []int{1, 4} {
				for _, lb := range []gnet.LoadBalancing{gnet.RoundRobin, gnet.LeastConnections, gnet.SourceAddrHash} {
					if loops == 1 && lb != gnet.RoundRobin {
						continue
					}
					modes := []writeMode{syncWrite, asyncWrite, syncWritev, asyncWritev}
					if network == "udp" {
						modes = modes[:1] // gnet: datagrams answer with Write; Writev is unsupported
					}
					for _, mode := range modes {
						name := fmt.Sprintf("%s/loops=%d/lb=%d/%v", network, loops, lb, mode)
						t.Run(name, func(t *testing.T) {
							h := &echoServer{booted: make(chan struct{}), mode: mode, udp: network == "udp"}
							addr := freeAddr(t, network)
							serve(t, e, h, h.booted, []string{addr}, gnet.WithNumEventLoop(loops), gnet.WithLoadBalancing(lb))
							echoClients(t, addr, 8)
						})
					}
				}
			}
		}
	})
}

// Several addresses through Rotate, one handler.
func TestRotate(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engineUnderTest) {
		h := &echoServer{booted: make(chan struct{})}
		addrs := []string{freeAddr(t, "tcp"), freeAddr(t, "tcp"), freeAddr(t, "unix")}
		serve(t, e, h, h.booted, addrs, gnet.WithMulticore(true))
		for _, a := range addrs {
			echoClients(t, a, 4)
		}
	})
}
