package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uringnet/uringnet/benchmarks/harness"
)

var engines = []string{"uringnet", "gnet"}

// sample is one measured run of one engine at one point.
type sample struct {
	Client     string  `json:"client"`
	Engine     string  `json:"engine"`
	Conns      int     `json:"conns"`
	Round      int     `json:"round"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	CPUPerMsg  float64 `json:"server_cpu_ns_per_msg"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	connsFlag := fs.String("conns", "100,1000", "connection counts, comma-separated")
	clientsFlag := fs.String("clients", "net,uring", "load generators: net (the standard library, a goroutine per connection) and/or uring (one io_uring)")
	size := fs.Int("size", 64, "message size in bytes")
	rounds := fs.Int("rounds", 5, "alternations per point (the median is reported)")
	duration := fs.Duration("duration", 5*time.Second, "measured time per run")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before each run")
	loops := fs.Int("loops", 1, "event loops per server")
	out := fs.String("json", "", "write every sample to this JSON file")
	profileDir := fs.String("profile", "", "write each server's CPU profile into this directory")
	serverFlags := fs.String("server-flags", "", "extra flags for the uringnet server (e.g. \"-readbuffers 4096\")")
	fs.Parse(args)

	var points []int
	for _, f := range strings.Split(*connsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad -conns entry %q", f)
		}
		points = append(points, n)
	}
	clients := strings.Split(*clientsFlag, ",")
	for _, c := range clients {
		if c != "net" && c != "uring" {
			return fmt.Errorf("unknown client %q: want net or uring", c)
		}
	}
	fmt.Printf("echo %d B, %d loop(s), %d rounds of %v (+%v warm-up), engines alternating; %s, %d CPUs, %s\n",
		*size, *loops, *rounds, *duration, *warmup, harness.KernelRelease(), runtime.NumCPU(), runtime.Version())
	var all []sample
	for _, client := range clients {
		for _, conns := range points {
			for round := 0; round < *rounds; round++ {
				order := engines
				if round%2 == 1 {
					order = []string{engines[1], engines[0]}
				}
				for _, engine := range order {
					var profile string
					if *profileDir != "" {
						profile = fmt.Sprintf("%s/%s-%d-%d.pprof", *profileDir, engine, conns, round+1)
					}
					var extra []string
					if engine == "uringnet" {
						extra = strings.Fields(*serverFlags)
					}
					s, err := measure(client, engine, conns, *size, *loops, *warmup, *duration, profile, extra)
					if err != nil {
						return fmt.Errorf("%s at %d connections, %s client, round %d: %w", engine, conns, client, round+1, err)
					}
					s.Round = round + 1
					all = append(all, s)
					fmt.Fprintf(os.Stderr, "  %-5s client  %-8s conns=%-5d round %d: %10.0f msg/s  %7.0f ns CPU/msg\n", client, engine, conns, round+1, s.MsgsPerSec, s.CPUPerMsg)
				}
			}
		}
	}
	printTable(all, clients, points)
	if *out != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// measure starts a server, drives it, and stops it.
// counter is a running load generator.
type counter interface {
	completed() int64 // verified round trips so far
	finish() error    // stop, and report the first error
}

func (l *load) completed() int64      { return l.count.Load() }
func (l *uringLoad) completed() int64 { return l.count.Load() }

func startLoad(client, addr string, conns, size int) (counter, error) {
	if client == "uring" {
		return startUringLoad(addr, conns, size)
	}
	l, err := dialLoad(addr, conns, size)
	if err != nil {
		return nil, err
	}
	l.start()
	return l, nil
}

func measure(client, engine string, conns, size, loops int, warmup, duration time.Duration, profile string, extra []string) (sample, error) {
	self, err := os.Executable()
	if err != nil {
		return sample{}, err
	}
	args := append([]string{"serve", "-engine", engine, "-loops", strconv.Itoa(loops), "-cpuprofile", profile}, extra...)
	cmd := exec.Command(self, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	// The server's own log lines (gnet prints a banner) may come first.
	var addr string
	for sc := bufio.NewScanner(stdout); addr == "" && sc.Scan(); {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = strings.TrimSpace(a)
		}
	}
	if addr == "" {
		return sample{}, fmt.Errorf("server exited without reporting its address")
	}
	go io.Copy(io.Discard, stdout)

	l, err := startLoad(client, addr, conns, size)
	if err != nil {
		return sample{}, err
	}
	time.Sleep(warmup)
	c0, t0, cpu0 := l.completed(), time.Now(), harness.ProcessCPU(cmd.Process.Pid)
	time.Sleep(duration)
	c1, t1, cpu1 := l.completed(), time.Now(), harness.ProcessCPU(cmd.Process.Pid)
	if err := l.finish(); err != nil {
		return sample{}, err
	}
	msgs := float64(c1 - c0)
	if msgs == 0 {
		return sample{}, fmt.Errorf("no message completed in %v", duration)
	}
	return sample{Client: client, Engine: engine, Conns: conns, MsgsPerSec: msgs / t1.Sub(t0).Seconds(),
		CPUPerMsg: float64(cpu1-cpu0) / msgs}, nil
}

// stats is one engine's result at one point.
type stats struct {
	rate, rateMin, rateMax, cpu float64
	n                           int
}

func summarize(all []sample, client, engine string, conns int) stats {
	var rate, cpu []float64
	for _, s := range all {
		if s.Client == client && s.Engine == engine && s.Conns == conns {
			rate, cpu = append(rate, s.MsgsPerSec), append(cpu, s.CPUPerMsg)
		}
	}
	sort.Float64s(rate)
	sort.Float64s(cpu)
	return stats{rate: harness.Median(rate), rateMin: rate[0], rateMax: rate[len(rate)-1], cpu: harness.Median(cpu), n: len(rate)}
}

// printTable prints, per point, each engine's median and range and uringnet's ratio to gnet.
func printTable(all []sample, clients []string, points []int) {
	fmt.Printf("\n| client | conns | engine | runs | msg/s median (min–max) | server CPU ns/msg (median) | msg/s vs gnet | CPU/msg vs gnet |\n")
	fmt.Printf("|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, client := range clients {
		for _, conns := range points {
			g := summarize(all, client, "gnet", conns)
			for _, engine := range engines {
				s := summarize(all, client, engine, conns)
				fmt.Printf("| %s | %d | %s | %d | %.0f (%.0f–%.0f) | %.0f | %.2f× | %.2f× |\n",
					client, conns, engine, s.n, s.rate, s.rateMin, s.rateMax, s.cpu, s.rate/g.rate, s.cpu/g.cpu)
			}
		}
	}
}
