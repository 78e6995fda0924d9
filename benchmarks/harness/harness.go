// Package harness is what the side-by-side benchmarks share: a server in a child process (the
// benchmark's own binary, re-executed), which reports its address and lives until its standard
// input closes, and the process measurements taken from /proc.
package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Server is a benchmark server running in a child process.
type Server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	Addr  string // what the child reported
}

// Start re-executes the running binary with args and waits for the child's "ADDR <address>"
// line (lines before it, such as a library's banner, are skipped).
func Start(args ...string) (*Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, stdin: stdin}
	for sc := bufio.NewScanner(stdout); s.Addr == "" && sc.Scan(); {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			s.Addr = strings.TrimSpace(a)
		}
	}
	if s.Addr == "" {
		s.Stop()
		return nil, fmt.Errorf("harness: %v: the server exited without reporting its address", args)
	}
	go io.Copy(io.Discard, stdout)
	return s, nil
}

// Pid is the child's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop closes the child's standard input, which ends it, and waits for it.
func (s *Server) Stop() error {
	s.stdin.Close()
	return s.cmd.Wait()
}

// Serve is the child's side: it reports addr to the parent and returns when the parent closes
// the child's standard input (or exits).
func Serve(addr string) {
	fmt.Printf("ADDR %s\n", addr)
	io.Copy(io.Discard, os.Stdin)
}

// ProcessCPU is the user+system CPU time process pid has used, in nanoseconds.
func ProcessCPU(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return (utime + stime) * int64(time.Second) / ticksPerSecond
}

// RSS is process pid's resident memory, in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("harness: no VmRSS for process %d", pid)
}

// KernelRelease names the running kernel.
func KernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

// Median of xs (which it sorts); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// Main is a benchmark command's entry point: "name run [flags]" measures (run), and
// "name serve [flags]" is the server a run starts in a child process (serve). It exits 2 on
// bad usage and 1 when the mode fails.
func Main(name string, run, serve func(args []string) error) {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s run|serve [flags]\n", name)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q: want run or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
