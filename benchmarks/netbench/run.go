package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
)

// sample is one measured run of one engine in one experiment.
type sample struct {
	Experiment string  `json:"experiment"`
	Engine     string  `json:"engine"`
	Round      int     `json:"round"`
	Value      float64 `json:"value"` // messages/s, requests/s, or bytes per idle connection
	CPUPerOp   float64 `json:"server_cpu_ns_per_op,omitempty"`
	// ClientCPUPerOp is the load generator's own CPU per operation (echo only): on a machine
	// whose CPUs the client and server share, a server that makes the client work harder
	// costs throughput too.
	ClientCPUPerOp float64 `json:"client_cpu_ns_per_op,omitempty"`
	// Idle is the fraction of the machine's CPU time left idle during the measurement (echo
	// only): above a few percent, the run was bound by latency, not by CPU.
	Idle float64 `json:"machine_idle,omitempty"`
}

type experiment struct {
	name, unit string
	higher     bool // whether more is better
	measure    func(engine string) (measurement, error)
}

// measurement is what one run of one engine yields.
type measurement struct {
	value, cpuPerOp, clientCPUPerOp, idle float64
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	rounds := fs.Int("rounds", 5, "alternations per experiment (the median is reported)")
	duration := fs.Duration("duration", 5*time.Second, "measured time of each echo and http run")
	echoConns := fs.Int("echo-conns", 1000, "echo connections")
	httpConns := fs.Int("http-conns", 256, "wrk connections")
	idleConns := fs.Int("idle-conns", 10000, "idle connections")
	only := fs.String("only", "echo,http,idle", "experiments to run")
	engineList := fs.String("engines", "listener,net", "engines to alternate (one alone is for comparing builds)")
	out := fs.String("json", "", "write every sample to this JSON file")
	fs.Parse(args)

	all := []experiment{
		{"echo", "msg/s", true, func(e string) (measurement, error) { return measureEcho(e, *echoConns, 64, *duration) }},
		{"http", "req/s", true, func(e string) (measurement, error) {
			v, cpu, err := measureHTTP(e, *httpConns, *duration)
			return measurement{value: v, cpuPerOp: cpu}, err
		}},
		{"idle", "B/conn", false, func(e string) (measurement, error) {
			v, err := measureIdle(e, *idleConns)
			return measurement{value: v}, err
		}},
	}
	fmt.Printf("netbench: listener vs net, %d rounds, engines alternating; %s, %d CPUs, %s\n",
		*rounds, harness.KernelRelease(), runtime.NumCPU(), runtime.Version())
	var samples []sample
	for _, x := range all {
		if !bytes.Contains([]byte(","+*only+","), []byte(","+x.name+",")) {
			continue
		}
		for round := 0; round < *rounds; round++ {
			order := strings.Split(*engineList, ",")
			if round%2 == 1 {
				slices.Reverse(order)
			}
			for _, e := range order {
				m, err := x.measure(e)
				if err != nil {
					return fmt.Errorf("%s, %s, round %d: %w", x.name, e, round+1, err)
				}
				samples = append(samples, sample{x.name, e, round + 1, m.value, m.cpuPerOp, m.clientCPUPerOp, m.idle})
				fmt.Fprintf(os.Stderr, "  %-5s %-8s round %d: %12.0f %s  %8.0f ns server CPU/op", x.name, e, round+1, m.value, x.unit, m.cpuPerOp)
				if x.name == "echo" {
					fmt.Fprintf(os.Stderr, "  %6.0f ns client CPU/op  %4.1f%% idle", m.clientCPUPerOp, 100*m.idle)
				}
				fmt.Fprintln(os.Stderr)
			}
		}
		var ours, std []float64
		for _, s := range samples {
			if s.Experiment == x.name {
				if s.Engine == "listener" {
					ours = append(ours, s.Value)
				} else {
					std = append(std, s.Value)
				}
			}
		}
		mo, ms := harness.Median(ours), harness.Median(std)
		fmt.Printf("%-5s listener %12.0f %s   net %12.0f %s   listener/net %.2fx (median of %d; samples listener %v, net %v)\n",
			x.name, mo, x.unit, ms, x.unit, mo/ms, len(ours), rounded(ours), rounded(std))
	}
	if *out != "" {
		b, _ := json.MarshalIndent(samples, "", "  ")
		return os.WriteFile(*out, b, 0o644)
	}
	return nil
}

func rounded(xs []float64) []int64 {
	r := make([]int64, len(xs))
	for i, x := range xs {
		r[i] = int64(x)
	}
	return r
}

// measureEcho drives an echo server with conns connections, a goroutine each, each sending a
// size-byte message and checking the echo before the next; it returns messages per second,
// the server's and the client's CPU per message, and the machine's idle fraction.
func measureEcho(engine string, conns, size int, duration time.Duration) (measurement, error) {
	srv, err := harness.Start("serve", "-engine", engine, "-program", "echo")
	if err != nil {
		return measurement{}, err
	}
	defer srv.Stop()
	var count atomic.Int64
	var stop atomic.Bool
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	cs := make([]net.Conn, conns)
	for i := range cs {
		if cs[i], err = net.Dial("tcp", srv.Addr); err != nil {
			for _, c := range cs[:i] {
				c.Close()
			}
			return measurement{}, err
		}
	}
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			msg, got := make([]byte, size), make([]byte, size)
			for j := range msg {
				msg[j] = byte(i + j)
			}
			for !stop.Load() {
				msg[0]++
				_, err := c.Write(msg)
				if err == nil {
					_, err = io.ReadFull(c, got)
				}
				if err == nil && !bytes.Equal(got, msg) {
					err = fmt.Errorf("connection %d: echoed bytes differ", i)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				count.Add(1)
			}
		}()
	}
	time.Sleep(time.Second) // warm-up
	self := os.Getpid()
	idle0, total0 := machineIdle()
	c0, t0, cpu0, own0 := count.Load(), time.Now(), harness.ProcessCPU(srv.Pid()), harness.ProcessCPU(self)
	time.Sleep(duration)
	c1, t1, cpu1, own1 := count.Load(), time.Now(), harness.ProcessCPU(srv.Pid()), harness.ProcessCPU(self)
	idle1, total1 := machineIdle()
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return measurement{}, firstErr
	}
	msgs := float64(c1 - c0)
	if msgs == 0 {
		return measurement{}, fmt.Errorf("no message completed")
	}
	m := measurement{
		value:          msgs / t1.Sub(t0).Seconds(),
		cpuPerOp:       float64(cpu1-cpu0) / msgs,
		clientCPUPerOp: float64(own1-own0) / msgs,
	}
	if total1 > total0 {
		m.idle = float64(idle1-idle0) / float64(total1-total0)
	}
	return m, nil
}

// machineIdle returns the machine's idle and total CPU time so far, in clock ticks, from the
// first line of /proc/stat (idle and iowait count as idle).
func machineIdle() (idle, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	for i, f := range bytes.Fields(line)[1:] {
		v, _ := strconv.ParseInt(string(f), 10, 64)
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// measureHTTP runs wrk against a hello-world net/http server and returns requests per second
// and the server's CPU per request.
func measureHTTP(engine string, conns int, duration time.Duration) (float64, float64, error) {
	srv, err := harness.Start("serve", "-engine", engine, "-program", "http")
	if err != nil {
		return 0, 0, err
	}
	defer srv.Stop()
	url := "http://" + srv.Addr + "/"
	// A short unmeasured run first, as the echo has its warm-up.
	if out, err := exec.Command("wrk", "-t", "2", "-c", strconv.Itoa(conns), "-d", "1s", url).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("wrk warm-up: %v\n%s", err, out)
	}
	cpu0 := harness.ProcessCPU(srv.Pid())
	out, err := exec.Command("wrk", "-t", "2", "-c", strconv.Itoa(conns), "-d", duration.String(), url).CombinedOutput()
	cpu1 := harness.ProcessCPU(srv.Pid())
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		return 0, 0, fmt.Errorf("wrk reported errors:\n%s", out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no rate in wrk's output:\n%s", out)
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	return rate, float64(cpu1-cpu0) / (rate * duration.Seconds()), nil
}

// measureIdle opens conns connections to an echo server, makes each one round trip (so that
// its server goroutine exists and is blocked in Read), and returns the growth of the server's
// resident memory per connection.
func measureIdle(engine string, conns int) (float64, error) {
	srv, err := harness.Start("serve", "-engine", engine, "-program", "echo")
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	time.Sleep(200 * time.Millisecond)
	before, err := harness.RSS(srv.Pid())
	if err != nil {
		return 0, err
	}
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	b := []byte{1}
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", i, err)
		}
		cs = append(cs, c)
		if _, err := c.Write(b); err == nil {
			_, err = io.ReadFull(c, b)
		}
		if err != nil {
			return 0, fmt.Errorf("connection %d: %w", i, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	after, err := harness.RSS(srv.Pid())
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(conns), nil
}
