// Command httpbench compares the HTTP plaintext example (examples/http) on uringnet.Run against
// the same program on gnet.Run (built with -tags gnetengine), under wrk with pipelining, servers
// in their own processes, engines alternating in one run (A B, then B A, so that neither always
// goes first). Before each measurement it checks that the server answers 16 pipelined requests
// correctly, and a round in which wrk reports any non-2xx response or socket error fails the
// run: a fast wrong server is not fast. It prints medians (with min–max) and the ratio, and
// writes the samples as JSON.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
)

type engine struct {
	Name string
	tags string
	bin  string
}

type result struct {
	Machine  map[string]string
	Command  string
	Conns    int
	Depth    int
	Duration string
	Loops    int
	Samples  map[string][]float64 // requests/s per round, by engine
}

func main() {
	conns := flag.Int("c", 256, "wrk connections")
	depth := flag.Int("depth", 16, "requests pipelined per write")
	rounds := flag.Int("rounds", 5, "rounds per engine (engines alternate)")
	dur := flag.Duration("d", 5*time.Second, "wrk duration per round")
	threads := flag.Int("t", 2, "wrk threads")
	loops := flag.Int("loops", runtime.NumCPU(), "event loops per server")
	out := flag.String("json", "", "write the samples here")
	flag.Parse()

	dir, err := os.MkdirTemp("", "httpbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	engines := []*engine{{Name: "uringnet"}, {Name: "gnet", tags: "gnetengine"}}
	for _, e := range engines {
		e.bin = filepath.Join(dir, e.Name)
		args := []string{"build", "-o", e.bin}
		if e.tags != "" {
			args = append(args, "-tags", e.tags)
		}
		if out, err := exec.Command("go", append(args, "./examples/http")...).CombinedOutput(); err != nil {
			log.Fatalf("build %s: %v\n%s", e.Name, err, out)
		}
	}
	script, err := filepath.Abs("benchmarks/wrk/pipeline.lua")
	if err != nil {
		log.Fatal(err)
	}
	res := result{Machine: machine(), Command: strings.Join(os.Args, " "), Conns: *conns, Depth: *depth,
		Duration: dur.String(), Loops: *loops, Samples: map[string][]float64{}}
	for r := 0; r < *rounds; r++ {
		order := engines
		if r%2 == 1 {
			order = []*engine{engines[1], engines[0]} // A B, B A, …: neither always goes first
		}
		for _, e := range order {
			rps, err := measure(e, *loops, *threads, *conns, *depth, *dur, script)
			if err != nil {
				log.Fatalf("round %d, %s: %v", r+1, e.Name, err)
			}
			res.Samples[e.Name] = append(res.Samples[e.Name], rps)
			fmt.Fprintf(os.Stderr, "round %d %-8s %12.0f req/s\n", r+1, e.Name, rps)
		}
	}
	fmt.Printf("HTTP plaintext, wrk -t%d -c%d, pipelining %d, %v per round, %d rounds alternating, %d loops per server\n",
		*threads, *conns, *depth, *dur, *rounds, *loops)
	fmt.Printf("%-10s %14s %24s\n", "engine", "median req/s", "min – max")
	for _, e := range engines {
		s := res.Samples[e.Name]
		fmt.Printf("%-10s %14.0f %11.0f – %-11.0f\n", e.Name, harness.Median(slices.Clone(s)), slices.Min(s), slices.Max(s))
	}
	fmt.Printf("ratio uringnet/gnet (medians): %.2f×\n", harness.Median(slices.Clone(res.Samples["uringnet"]))/harness.Median(slices.Clone(res.Samples["gnet"])))
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// measure starts e's server, checks its answers, runs wrk against it and stops it.
func measure(e *engine, loops, threads, conns, depth int, dur time.Duration, script string) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command(e.bin, "-port", strconv.Itoa(port), "-loops", strconv.Itoa(loops))
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := checkPipelined(addr, 16); err != nil {
		return 0, fmt.Errorf("server check: %w\n%s", err, logs.String())
	}
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+dur.String(),
		"-s", script, "http://"+addr+"/", "--", strconv.Itoa(depth)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		return 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// checkPipelined waits for the server, sends n pipelined requests in one write and checks n
// correct responses come back in order.
func checkPipelined(addr string, n int) error {
	var c net.Conn
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err = net.Dial("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n"), n)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	for i := 0; i < n; i++ {
		status, err := r.ReadString('\n')
		if err != nil || status != "HTTP/1.1 200 OK\r\n" {
			return fmt.Errorf("response %d: status %q, %v", i, status, err)
		}
		length := -1
		for {
			h, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if h == "\r\n" {
				break
			}
			if v, ok := strings.CutPrefix(h, "Content-Length: "); ok {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, max(length, 0))
		if _, err := io.ReadFull(r, body); err != nil || string(body) != "Hello, World!" {
			return fmt.Errorf("response %d: body %q, %v", i, body, err)
		}
	}
	return nil
}

// machine records what the figures were measured on.
func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "cpus": strconv.Itoa(runtime.NumCPU()), "date": time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`model name\s*:\s*(.*)`).FindSubmatch(b); mm != nil {
			m["cpu"] = string(mm[1])
		}
	}
	if out, err := exec.Command("wrk", "-v").CombinedOutput(); err == nil || len(out) > 0 {
		m["wrk"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return m
}
