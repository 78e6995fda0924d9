// Package examples_test runs each example as its own process and talks to it with real
// clients (a TCP client, curl, wrk, redis-cli), on io_uring, with URINGNET_DISABLE=1, and under a seccomp
// filter that refuses io_uring_setup; the last two must serve through gnet's epoll engine and
// say so exactly once.
package examples_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/uringnet/uringnet/internal/importswap"
	"golang.org/x/sys/unix"
)

// seccompEnv, set, makes the test binary a launcher: it installs a filter that fails
// io_uring_setup with ENOSYS (as a container runtime's default profile does) and executes the
// command in its arguments under it.
const seccompEnv = "URINGNET_TEST_SECCOMP_EXEC"

func TestMain(m *testing.M) {
	if os.Getenv(seccompEnv) == "1" {
		execWithoutIOURing(os.Args[1:])
	}
	os.Exit(m.Run())
}

func execWithoutIOURing(argv []string) {
	runtime.LockOSThread()
	const auditArchX8664 = 0xc000003e
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 0, K: auditArchX8664},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}, // another arch: not ours to judge
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},        // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "no_new_privs:", err)
		os.Exit(3)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		fmt.Fprintln(os.Stderr, "seccomp:", errno)
		os.Exit(3)
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(3)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// exampleBinary builds the examples once and returns the path of one.
func exampleBinary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "uringnet-examples")
		if buildErr == nil {
			out, err := exec.Command("go", "build", "-o", binDir+"/", "./echo", "./http", "./framed", "./resp", "./netpoll").CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
				return
			}
			// examples/netpoll as the gnet program it was made from: its one changed import put back.
			buildErr = importswap.Build("netpoll", filepath.Join(binDir, "netpoll-gnet"), uringNetpoll, gnetNetpoll)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// mode is how an example is started.
type mode struct {
	name     string
	env      []string
	seccomp  bool
	fallback bool // gnet's epoll engine must serve, and the log must say so once
}

var modes = []mode{
	{name: "io_uring"},
	{name: "disabled", env: []string{"URINGNET_DISABLE=1"}, fallback: true},
	{name: "seccomp", seccomp: true, fallback: true},
}

// logBuffer collects a process's output safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs example name (with args) on a free port in mode m, waits until it accepts, and stops it when
// the test ends. It returns the address and the process's log.
func start(t *testing.T, name string, m mode, args ...string) (string, *logBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	argv := append([]string{exampleBinary(t, name), "-port", strconv.Itoa(port)}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if m.seccomp {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(self, argv...)
		cmd.Env = append(os.Environ(), seccompEnv+"=1")
	} else {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, m.env...)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened on %s: %v\n%s", name, addr, err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, logs
}

// dialExample connects to an example, with a deadline that ends a hung test; the connection is
// closed when the test ends.
func dialExample(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// frames builds n length-prefixed frames with the bodies body gives, and the framed example's
// answer to them (each body in upper case).
func frames(n int, body func(i int) string) (stream, want []byte) {
	for i := 0; i < n; i++ {
		b := []byte(body(i))
		stream = binary.BigEndian.AppendUint32(stream, uint32(len(b)))
		stream = append(stream, b...)
		want = binary.BigEndian.AppendUint32(want, uint32(len(b)))
		want = append(want, bytes.ToUpper(b)...)
	}
	return stream, want
}

// checkEngineLog asserts what the log says about the engine: the fallback line exactly once
// (with the reason) in a fallback mode, the io_uring line otherwise.
func checkEngineLog(t *testing.T, m mode, logs *logBuffer) {
	t.Helper()
	out := logs.String()
	fallbacks := strings.Count(out, "running gnet's epoll engine")
	switch {
	case m.fallback && fallbacks != 1:
		t.Fatalf("%s: the fallback was announced %d times, want once:\n%s", m.name, fallbacks, out)
	case !m.fallback && (fallbacks != 0 || !strings.Contains(out, "Launching uringnet (io_uring)")):
		t.Fatalf("%s: expected the io_uring engine:\n%s", m.name, out)
	}
	if m.seccomp && !strings.Contains(out, "function not implemented") {
		t.Fatalf("seccomp: the reason (ENOSYS from io_uring_setup) is not in the log:\n%s", out)
	}
}

func TestEchoExample(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, logs := start(t, "echo", m)
			for i := 0; i < 4; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				msg := bytes.Repeat([]byte{byte('a' + i)}, 100000)
				go c.Write(msg)
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("echo: %v", err)
				}
				c.Close()
			}
			checkEngineLog(t, m, logs)
		})
	}
}

func TestHTTPExample(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, logs := start(t, "http", m)
			out, err := exec.Command("curl", "-sS", "-i", "http://"+addr+"/").CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 200 OK")) || !bytes.HasSuffix(out, []byte("Hello, World!")) {
				t.Fatalf("curl got:\n%s", out)
			}
			// 16 pipelined requests in one write: 16 responses, in order.
			c := dialExample(t, addr)
			c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 16))
			r := bufio.NewReader(c)
			for i := 0; i < 16; i++ {
				line, err := r.ReadString('\n')
				if err != nil || line != "HTTP/1.1 200 OK\r\n" {
					t.Fatalf("pipelined response %d: %q, %v", i, line, err)
				}
				for {
					h, err := r.ReadString('\n')
					if err != nil {
						t.Fatal(err)
					}
					if h == "\r\n" {
						break
					}
				}
				b := make([]byte, len("Hello, World!"))
				if _, err := io.ReadFull(r, b); err != nil || string(b) != "Hello, World!" {
					t.Fatalf("pipelined body %d: %q, %v", i, b, err)
				}
			}
			// wrk, with the pipelining script the benchmark uses: every response a 200.
			out, err = exec.Command("wrk", "-t1", "-c16", "-d1s", "-s", "../benchmarks/wrk/pipeline.lua", "http://"+addr+"/", "--", "4").CombinedOutput()
			if err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) || !bytes.Contains(out, []byte("Requests/sec")) {
				t.Fatalf("wrk saw errors:\n%s", out)
			}
			checkEngineLog(t, m, logs)
		})
	}
}

func TestFramedExample(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, logs := start(t, "framed", m)
			c := dialExample(t, addr)
			stream, want := frames(300, func(i int) string { return strings.Repeat(fmt.Sprintf("frame %d ", i), i%17) })
			go func() {
				for rest := stream; len(rest) > 0; { // split across frame boundaries
					k := min(len(rest), 333)
					c.Write(rest[:k])
					rest = rest[k:]
				}
			}()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("frames: %v, equal %v", err, bytes.Equal(got, want))
			}
			checkEngineLog(t, m, logs)
		})
	}
}

// Many frames in one write fill the worker's queue: OnTraffic stops with frames buffered and
// the worker wakes the connection to resume, until every frame is answered in order.
func TestFramedExampleBurst(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, logs := start(t, "framed", m)
			c := dialExample(t, addr)
			stream, want := frames(5000, func(i int) string { return fmt.Sprintf("f%d", i) })
			go c.Write(stream)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("frames: %v, equal %v", err, bytes.Equal(got, want))
			}
			checkEngineLog(t, m, logs)
		})
	}
}

func TestRESPExample(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, logs := start(t, "resp", m)
			c := dialExample(t, addr)
			// Pipelined commands, split mid-command across writes, one of them inline.
			stream := "*1\r\n$4\r\nPING\r\n" +
				"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n" +
				"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n" +
				"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n" +
				"PING hello\r\n" +
				"*1\r\n$7\r\nFLUSHED\r\n"
			for i := 0; i < len(stream); i += 7 {
				if _, err := c.Write([]byte(stream[i:min(i+7, len(stream))])); err != nil {
					t.Fatal(err)
				}
			}
			want := "+PONG\r\n+OK\r\n$5\r\nvalue\r\n$-1\r\n$5\r\nhello\r\n-ERR unknown command 'FLUSHED'\r\n"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
				t.Fatalf("replies %q, %v; want %q", got, err, want)
			}
			if _, err := exec.LookPath("redis-cli"); err == nil {
				host, port, _ := net.SplitHostPort(addr)
				cli := func(args ...string) string {
					out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
					if err != nil {
						t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
					}
					return strings.TrimSpace(string(out))
				}
				if got := cli("ping"); got != "PONG" {
					t.Fatalf("redis-cli ping: %q", got)
				}
				if got := cli("set", "greeting", "hello world"); got != "OK" {
					t.Fatalf("redis-cli set: %q", got)
				}
				if got := cli("get", "greeting"); got != "hello world" {
					t.Fatalf("redis-cli get: %q", got)
				}
			} else {
				t.Log("redis-cli is not installed: checked with the test's own client only (make bench-deps installs it)")
			}
			checkEngineLog(t, m, logs)
		})
	}
}

// The import examples/netpoll changes, and the one it had as a gnet program.
const (
	uringNetpoll = "github.com/uringnet/uringnet/compat/netpoll"
	gnetNetpoll  = "github.com/panjf2000/gnet/v2/pkg/netpoll"
)

// examples/netpoll, a program written against gnet's netpoll with its import changed, echoes
// on io_uring and, falling back, on gnet's epoll Poller (saying so once); built with the
// import put back, the same source echoes on gnet's own.
func TestNetpollExample(t *testing.T) {
	for _, m := range append(modes, mode{name: "gnet-import"}) {
		t.Run(m.name, func(t *testing.T) {
			name := "netpoll"
			if m.name == "gnet-import" {
				name = "netpoll-gnet"
			}
			for _, loops := range []string{"1", "2"} {
				addr, logs := start(t, name, m, "-loops", loops, "-et="+strconv.FormatBool(loops == "2"))
				var wg sync.WaitGroup
				for i := 0; i < 8; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c := dialExample(t, addr)
						msg := bytes.Repeat([]byte{byte('a' + i)}, 300000)
						go c.Write(msg)
						got := make([]byte, len(msg))
						if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
							t.Errorf("echo: %v", err)
						}
					}()
				}
				wg.Wait()
				fallbacks := strings.Count(logs.String(), "using gnet's epoll poller")
				if want := map[bool]int{true: 1, false: 0}[m.fallback]; fallbacks != want {
					t.Fatalf("the fallback was announced %d times, want %d:\n%s", fallbacks, want, logs)
				}
				if m.seccomp && !strings.Contains(logs.String(), "function not implemented") {
					t.Fatalf("seccomp: the reason is not in the log:\n%s", logs)
				}
			}
		})
	}
}
