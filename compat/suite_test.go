package compat_test

// The compatibility suite: every test runs once against gnet.Run (epoll) and once against
// uringnet (compat.Run), with the same handler and the same assertions, so the only differences
// between the two are the documented ones. This file is the harness; the tests are in
// suite_*_test.go, one file per concern.

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/uringnet/uringnet/compat"
)

// client is what gnet's *Client and ours have in common.
type client interface {
	Start() error
	Stop() error
	Dial(network, address string) (gnet.Conn, error)
	DialContext(network, address string, ctx any) (gnet.Conn, error)
	Enroll(c net.Conn) (gnet.Conn, error)
}

// engineUnderTest is one of the two engines the suite runs against.
type engineUnderTest struct {
	name      string
	run       func(h gnet.EventHandler, protoAddr string, opts ...gnet.Option) error
	rotate    func(h gnet.EventHandler, addrs []string, opts ...gnet.Option) error
	stop      func(ctx context.Context, protoAddr string) error
	newClient func(h gnet.EventHandler, opts ...gnet.Option) (client, error)
}

var engines = []engineUnderTest{
	{"gnet", gnet.Run, gnet.Rotate, gnet.Stop, func(h gnet.EventHandler, opts ...gnet.Option) (client, error) {
		return gnet.NewClient(h, opts...)
	}},
	{"uringnet", compat.Run, compat.Rotate, compat.Stop, func(h gnet.EventHandler, opts ...gnet.Option) (client, error) {
		return compat.NewClient(h, opts...)
	}},
}

// stopServing stops e's engine serving protoAddr, whose OnBoot has run and whose Run reports
// to done. gnet v2.10.0 registers its engine for Stop only after its loops have started, so a
// Stop right after OnBoot can find none ("already in shutdown"); uringnet registers before
// OnBoot. gnet is given that moment. gnet's Stop also says "already in shutdown" when the
// engine it shut down finished before Stop looked, and then forgets it: Run has returned, and
// its answer is put back into done for the caller.
func stopServing(ctx context.Context, e engineUnderTest, protoAddr string, done chan error) error {
	err := e.stop(ctx, protoAddr)
	for deadline := time.Now().Add(5 * time.Second); e.name == "gnet" && errors.Is(err, errorx.ErrEngineInShutdown) && time.Now().Before(deadline); {
		select {
		case runErr := <-done:
			done <- runErr
			return nil
		case <-time.After(time.Millisecond):
		}
		err = e.stop(ctx, protoAddr)
	}
	return err
}

// quiet keeps gnet's logger to errors in both engines.
var quiet = gnet.WithLogLevel(logging.ErrorLevel)

// eachEngine runs f as a subtest per engine.
func eachEngine(t *testing.T, f func(t *testing.T, e engineUnderTest)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// serve starts e on protoAddrs with h in the background and returns once OnBoot has run; the
// server is stopped (and Run's error checked) when the test ends. booted must be closed by the
// handler's OnBoot.
func serve(t *testing.T, e engineUnderTest, h gnet.EventHandler, booted chan struct{}, protoAddrs []string, opts ...gnet.Option) chan error {
	t.Helper()
	done := make(chan error, 1)
	opts = append([]gnet.Option{quiet}, opts...)
	go func() {
		if len(protoAddrs) == 1 {
			done <- e.run(h, protoAddrs[0], opts...)
		} else {
			done <- e.rotate(h, protoAddrs, opts...)
		}
	}()
	select {
	case <-booted:
	case err := <-done:
		t.Fatalf("%s: Run returned before OnBoot: %v", e.name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: OnBoot never ran", e.name)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopServing(ctx, e, protoAddrs[0], done)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run: %v", e.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Run did not return after Stop", e.name)
		}
	})
	return done
}

// freeAddr returns a protoAddr that nothing listens on.
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "unix" {
		return "unix://" + filepath.Join(t.TempDir(), "gnet.sock")
	}
	if network[:3] == "udp" {
		pc, err := net.ListenPacket(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return network + "://" + pc.LocalAddr().String()
	}
	ln, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return network + "://" + ln.Addr().String()
}

// dialAddr turns a protoAddr into net.Dial's arguments.
func dialAddr(protoAddr string) (string, string) {
	for i := 0; i+3 <= len(protoAddr); i++ {
		if protoAddr[i:i+3] == "://" {
			return protoAddr[:i], protoAddr[i+3:]
		}
	}
	return "", protoAddr
}

func dialT(t *testing.T, protoAddr string) net.Conn {
	t.Helper()
	network, addr := dialAddr(protoAddr)
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}
