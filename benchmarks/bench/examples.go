package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/benchmarks/server"
	"github.com/uringnet/uringnet/internal/importswap"
)

// Some rows run an example program itself, built for each of the two engines: as it is, on
// uringnet, and as the gnet program it was made from.
var gnetBuilds = map[string]func(out string) error{
	// examples/resp picks its engine by build tag.
	"resp": func(out string) error { return goBuild(out, "./examples/resp", "-tags", "gnetengine") },
	// examples/netpoll imports compat/netpoll in place of gnet's pkg/netpoll: put it back.
	"netpoll": func(out string) error {
		return importswap.Build("examples/netpoll", out, "github.com/uringnet/uringnet/compat/netpoll", "github.com/panjf2000/gnet/v2/pkg/netpoll")
	},
}

var examples struct {
	mu    sync.Mutex
	dir   string
	built map[string]error
}

// exampleBinary builds examples/name for engine (uringnet or gnet), once per run.
func exampleBinary(name, engine string) (string, error) {
	examples.mu.Lock()
	defer examples.mu.Unlock()
	if examples.dir == "" {
		dir, err := os.MkdirTemp("", "bench-examples")
		if err != nil {
			return "", err
		}
		examples.dir, examples.built = dir, map[string]error{}
	}
	bin := filepath.Join(examples.dir, name+"-"+engine)
	err, done := examples.built[bin]
	if !done {
		if engine == "gnet" {
			err = gnetBuilds[name](bin)
		} else {
			err = goBuild(bin, "./examples/"+name)
		}
		if err != nil {
			err = fmt.Errorf("build examples/%s for %s: %w", name, engine, err)
		}
		examples.built[bin] = err
	}
	return bin, err
}

// startExample runs examples/name built for engine with the run's loops on a free loopback
// port (on the server's CPUs when pinned) and returns once it accepts. The example does not
// watch its standard input: end it with Kill.
func startExample(o *options, name, engine string, pinned bool) (srv *harness.Child, addr, port string, err error) {
	bin, err := exampleBinary(name, server.Base(engine))
	if err != nil {
		return nil, "", "", err
	}
	if addr, err = server.FreeAddr(); err != nil {
		return nil, "", "", err
	}
	_, port, _ = net.SplitHostPort(addr)
	err = harness.OnCPUs(o.cpus(pinned, true), func() error {
		srv, err = harness.StartProgram(bin, "-port", port, "-loops", strconv.Itoa(o.loops))
		return err
	})
	if err != nil {
		return nil, "", "", err
	}
	if err := server.WaitAccepting(addr); err != nil {
		srv.Kill()
		return nil, "", "", err
	}
	return srv, addr, port, nil
}

func goBuild(out, pkg string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %v\n%s", args, err, b)
	}
	return nil
}

// removeExampleBinaries deletes what exampleBinary built.
func removeExampleBinaries() {
	if examples.dir != "" {
		os.RemoveAll(examples.dir)
	}
}
