package ringset

// The networks and addresses a set listens on: bad ones refused, unix sockets, IPv6.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadAddresses(t *testing.T) {
	for _, cfg := range []Config{
		{Network: "tcp", Address: "not an address"},
		{Network: "tcp", Address: "127.0.0.1:99999"},
		{Network: "bogus", Address: ":0"},
		{Network: "unix", Address: strings.Repeat("x", 200)},
		{Network: "tcp", Address: ":0", Loops: MaxLoops + 1},
		{Network: "unix", Address: "/tmp/x.sock", ReusePort: true, Loops: 2},
	} {
		if s, err := Start(cfg, &echo{}); err == nil {
			s.Stop()
			s.Wait()
			t.Errorf("Start(%q, %q, %d loops) succeeded", cfg.Network, cfg.Address, cfg.Loops)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.sock")
	s, err := Start(Config{Network: "unix", Address: path, Loops: 2}, &echo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := echoRoundTrip(dial(t, s), 256<<10, 3); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left behind: %v", err)
	}
}

func TestTCP6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
	s := startSet(t, Config{Network: "tcp6", Address: "[::1]:0"}, &echo{})
	if err := echoRoundTrip(dial(t, s), 64<<10, 4); err != nil {
		t.Fatal(err)
	}
}
