// Package harness is what the side-by-side benchmarks share: programs in child processes (the
// benchmark's own binary re-executed, or another program), the lines they report, the process
// measurements taken from /proc, the machine's description and the statistics of repeats.
package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Child is a program running in a child process. A child started by Start reads nothing from
// its standard input and ends when it closes; it talks to the parent in lines on its standard
// output, which Expect reads.
type Child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr tail
	name   string
}

// Start re-executes the running binary with args.
func Start(args ...string) (*Child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("harness: start %v: %w", args, err)
	}
	return StartProgram(self, args...)
}

// StartProgram runs path with args as a child.
func StartProgram(path string, args ...string) (*Child, error) {
	cmd := exec.Command(path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", path, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", path, err)
	}
	c := &Child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout), name: fmt.Sprint(append([]string{path}, args...))}
	c.out.Buffer(make([]byte, 64<<10), 1<<20)
	cmd.Stderr = &c.stderr // kept, and shown when the child fails
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", path, err)
	}
	return c, nil
}

// Expect reads the child's output up to the first line that starts with prefix and returns the
// rest of that line; lines before it (a library's banner, say) are skipped.
func (c *Child) Expect(prefix string) (string, error) {
	for c.out.Scan() {
		if rest, ok := strings.CutPrefix(c.out.Text(), prefix); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	if err := c.out.Err(); err != nil {
		return "", fmt.Errorf("harness: %s: read output: %w", c.name, err)
	}
	c.cmd.Wait()
	return "", fmt.Errorf("harness: %s: exited before reporting %q; its errors:\n%s", c.name, prefix, c.stderr.String())
}

// Errors is what the child has written to its standard error (the last 16 KiB of it): a
// server's log, for when the load against it fails.
func (c *Child) Errors() string { return c.stderr.String() }

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Stop closes the child's standard input, which ends it, and waits for it; a child still there
// after ten seconds is killed.
func (c *Child) Stop() error {
	c.stdin.Close()
	go c.drain()
	t := time.AfterFunc(10*time.Second, func() { c.cmd.Process.Kill() })
	defer t.Stop()
	return c.cmd.Wait()
}

// Kill ends the child at once (for programs that do not watch their standard input).
func (c *Child) Kill() {
	c.cmd.Process.Kill()
	go c.drain()
	c.cmd.Wait()
}

// drain reads what remains of the child's output, so that it never blocks on a full pipe.
func (c *Child) drain() {
	for c.out.Scan() {
	}
}

// StartServer starts the running binary with args as a server and waits for its
// "ADDR <address>" line.
func StartServer(args ...string) (*Child, string, error) {
	c, err := Start(args...)
	if err != nil {
		return nil, "", err
	}
	addr, err := c.Expect("ADDR ")
	if err != nil {
		c.Stop()
		return nil, "", err
	}
	return c, addr, nil
}

// ServeUntilParentGoes is the child's side: it reports addr to the parent, then blocks until
// the parent closes the child's standard input (or exits).
func ServeUntilParentGoes(addr string) {
	fmt.Printf("ADDR %s\n", addr)
	io.Copy(io.Discard, os.Stdin)
}

// tail keeps the last 16 KiB written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 16<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
