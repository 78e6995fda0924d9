package main

// The command against program fixtures (testdata/<case>): each is copied into a module of its
// own that requires gnet v2.10.0 and this checkout's uringnet, rewritten with -fix, compared with
// its golden files (<file>.golden), built, and run through the command again, which must then
// find nothing to change. Two servers are run after their rewrite: they count their connections
// and stop through the engine they kept on SIGTERM, on io_uring and under URINGNET_DISABLE=1.

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tool is the command, built once.
var tool string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "uringnet-migrate")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tool = filepath.Join(dir, "uringnet-migrate")
	if out, err := exec.Command("go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is this checkout's root, which holds the uringnet module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// fixtureModule copies testdata/name into a new module and returns its directory.
func fixtureModule(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".golden") {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf(`module fixture

go 1.24

require (
	github.com/panjf2000/gnet/v2 v2.10.0
	github.com/uringnet/uringnet v0.0.0
)

replace github.com/uringnet/uringnet => %s
`, repoRoot(t))
	if _, err := os.Stat(filepath.Join(src, "lib", "go.mod")); err == nil {
		// A module of its own beside the program, which the rewrite does not reach.
		gomod += "\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ./lib\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range []string{".", "lib"} {
		if _, err := os.Stat(filepath.Join(dir, mod, "go.mod")); err == nil || mod == "." {
			if err := os.WriteFile(filepath.Join(dir, mod, "go.sum"), sum, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// run runs name with args in dir and returns its combined output and exit code.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), code
}

// migrateFixture rewrites the fixture name with -fix, checks the result against its golden files and
// that it builds, and that a second run finds nothing to change; it returns the module's
// directory and what the first run (without -fix) reported.
func migrateFixture(t *testing.T, name string) (dir, report string) {
	t.Helper()
	dir = fixtureModule(t, name)
	report, _ = run(t, dir, nil, tool, "./...")
	if out, code := run(t, dir, nil, tool, "-fix", "./..."); code != 0 && code != 3 {
		t.Fatalf("-fix: exit %d\n%s", code, out)
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", name, "*.golden"))
	for _, golden := range goldens {
		want, _ := os.ReadFile(golden)
		got, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(golden), ".golden")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s after -fix:\n%s\nwant:\n%s", golden, got, want)
		}
	}
	if out, code := run(t, dir, nil, "go", "build", "./..."); code != 0 {
		t.Fatalf("the rewritten program does not build:\n%s", out)
	}
	if out, code := run(t, dir, nil, tool, "./..."); code != 0 && !strings.Contains(report, "wants a gnet.Engine") {
		t.Fatalf("a second run found more to change (exit %d):\n%s", code, out)
	}
	return dir, report
}

func TestRewrites(t *testing.T) {
	for _, name := range []string{"field", "local", "closure", "embedded", "client", "stop", "unnamed"} {
		t.Run(name, func(t *testing.T) {
			_, report := migrateFixture(t, name)
			if !strings.Contains(report, "uringnet-migrate:") {
				t.Fatalf("nothing reported before -fix:\n%s", report)
			}
		})
	}
}

// A program already on uringnet is left as it is.
func TestAlreadyMigrated(t *testing.T) {
	dir := fixtureModule(t, "already")
	if out, code := run(t, dir, nil, tool, "./..."); code != 0 || out != "" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// An engine handed to another package that wants a gnet.Engine is reported, with what to do,
// and that OnBoot is left as it is.
func TestReportsWhatItCannotRewrite(t *testing.T) {
	dir, report := migrateFixture(t, "foreign")
	if !strings.Contains(report, "main.go:15:") || !strings.Contains(report, "lib.Watch, which wants a gnet.Engine") {
		t.Fatalf("report:\n%s", report)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	if strings.Contains(string(b), "BootEngine") {
		t.Fatalf("an OnBoot it could not rewrite was rewritten:\n%s", b)
	}
}

// The command finds nothing to change in this repository's examples.
func TestExamplesUnchanged(t *testing.T) {
	out, code := run(t, repoRoot(t), nil, tool, "./examples/...")
	if code != 0 || out != "" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// The rewritten servers count their connections through the engine they kept, and stop through
// it on SIGTERM: on io_uring, and on gnet's own engine (URINGNET_DISABLE=1).
func TestRewrittenServersStopOnSIGTERM(t *testing.T) {
	for _, name := range []string{"field", "local"} {
		dir, _ := migrateFixture(t, name)
		bin := filepath.Join(dir, "server")
		if out, code := run(t, dir, nil, "go", "build", "-o", bin, "."); code != 0 {
			t.Fatalf("build: %s", out)
		}
		for _, env := range [][]string{nil, {"URINGNET_DISABLE=1"}} {
			t.Run(fmt.Sprintf("%s/%v", name, env), func(t *testing.T) { serveAndStop(t, bin, env) })
		}
	}
}

// serveAndStop runs the server bin, opens three connections, waits for it to count them, sends
// it SIGTERM and waits for it to stop.
func serveAndStop(t *testing.T, bin string, env []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-addr", "tcp://"+addr)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1024)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var conns []net.Conn
	for deadline := time.Now().Add(10 * time.Second); len(conns) < 3; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("the server does not listen: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		defer c.Close()
		conns = append(conns, c)
	}
	await := func(want string) {
		t.Helper()
		for timeout := time.After(10 * time.Second); ; {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("the server ended before saying %q", want)
				}
				if strings.HasPrefix(line, want) {
					return
				}
			case <-timeout:
				t.Fatalf("the server never said %q", want)
			}
		}
	}
	await("conns=3")
	cmd.Process.Signal(syscall.SIGTERM)
	await("stopped: <nil>") // Run returned
	await("stop: <nil>")    // and so did the engine's Stop
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the server: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}
