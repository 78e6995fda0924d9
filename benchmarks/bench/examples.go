package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

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
