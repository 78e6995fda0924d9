# uringnet's everyday commands. `make test` is what CI runs.
GO ?= go

.PHONY: test vet fmt-check run bench-poller

# Vet, then every test under the race detector, never from the test cache (compat/netpoll also
# built with gnet's poll_opt tag, whose Polling takes no callback); then, without it,
# the load tests it slows too much to run at full size and the allocation counts it distorts.
# The migration command (cmd/uringnet-migrate) is its own module, so that golang.org/x/tools
# stays out of the library's go.mod, and so is the benchmark harness (benchmarks), so that
# gonum/plot and hdrhistogram do: each is vetted and tested on its own (the harness under the
# race detector, as it was inside the library's module; it uses the library through a replace
# directive, so it always builds against this tree).
test: vet
	$(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 -tags poll_opt ./compat/netpoll
	$(GO) test -count=1 -run 'ThousandConnections|AllocatesNothing' ./...
	cd cmd/uringnet-migrate && $(GO) test -count=1 ./...
	cd benchmarks && $(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	cd cmd/uringnet-migrate && $(GO) vet ./...
	cd benchmarks && $(GO) vet ./...

# Starts the HTTP example (examples/http) on io_uring on port 8080; stop it with Ctrl-C.
run:
	@echo "uringnet HTTP example on http://127.0.0.1:8080/ — try: curl http://127.0.0.1:8080/"
	$(GO) run ./examples/http -port 8080

# Fails when a file is not gofmt-formatted.
fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The poller's Go benchmarks: NOP submit-and-reap and the loop-to-loop wake-up, five runs each.
bench-poller:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./poller

.PHONY: soak

# The soak (soak_test.go, not part of make test): uringnet.Run with four loops and the
# rebalancer under a minute of churn, resets mid-write, half-closes, slow and silent readers,
# live moves and AsyncWrite from other goroutines, every byte checked, then everything back
# where it started and the loops idle; then the engine's tests once more with the collector at
# GOGC=1, against the memory the kernel holds.
soak:
	$(GO) test -tags soak -run '^TestSoak$$' -count=1 -v -timeout 10m .
	GOGC=1 $(GO) test -count=1 -timeout 20m ./conn ./ringset ./compat ./listener

.PHONY: test-nettest

# The listener's net.Conn against golang.org/x/net/nettest (ours accepted vs net dialed, ours
# dialed vs a net listener, ours vs ours over TCP and unix), twenty times under the race detector.
test-nettest:
	$(GO) test -race -count=20 -run Nettest ./listener

# The side-by-side benchmark (benchmarks/bench): uringnet.Run, gnet.Run (epoll), listener.Listen
# and net.Listen on the same handler code with two event loops each, every server in its own
# process and the load generator in another, engines alternating, three repeats per point.
# Only one benchmark runs at a time on a machine (BENCH_LOCK); wrk and redis-benchmark rows run
# when those are installed (make bench-deps). Each prints the table and writes PREFIX.json (every
# sample, the machine, the command), PREFIX.md and PREFIX-{throughput,p99,cpu}.png.
.PHONY: bench-bin bench bench-full bench-sizes bench-accept bench-listener bench-listener-echo bench-listener-http bench-listener-windows bench-example-http bench-readme bench-deps bench-mech bench-resp bench-pinned
BENCH_LOCK ?= flock /tmp/uringnet-bench.lock
BENCH_FLAGS ?= # more flags for bench run, e.g. -repeats 5 -duration 5s (recorded with the results)
BENCHSTAT ?= $(or $(shell command -v benchstat),$(shell $(GO) env GOPATH)/bin/benchstat)

# The harness's binary, built afresh for every target that runs it, from the benchmarks module
# (which uses this tree's library through its replace directive).
bench-bin:
	cd benchmarks && $(GO) build -o ../bin/bench ./bench

# The everyday comparison, under five minutes: 64 B echo at 100 and 1,000 connections
# pipelined 1 and 16 deep, HTTP plaintext (wrk, 16 deep), RESP (redis-benchmark and the uring
# client, 16 deep),
# 64 B echo on examples/netpoll (gnet's pkg/netpoll API: compat/netpoll against gnet's epoll
# Poller) at 100 and 1,000 connections, and memory per idle connection at 10,000.
# One workload alone: make bench BENCH_FLAGS='-only netpoll'.
bench: bench-bin
	$(BENCH_LOCK) bin/bench run -plan quick -label "make bench" -out benchmarks/results/bench $(BENCH_FLAGS)

# Every point: echo 64 B, 512 B and 4 KiB at 1 to 10,000 connections, pipelined 1 and 16 deep,
# and 64 KiB at 100; short-lived connections from 100 clients (default acceptor and
# SO_REUSEPORT); HTTP and RESP unpipelined and 16 deep; idle memory (about 50 minutes on 2 cores).
bench-full: bench-bin
	$(BENCH_LOCK) bin/bench run -plan full -label "make bench-full" -out benchmarks/results/full $(BENCH_FLAGS)

# Large messages and short-lived connections, uringnet against gnet, seven repeats (about eight
# minutes): echo 64 B, 4 KiB and 64 KiB at 100 connections (compare server CPU per message:
# per byte at one size), and connect, one 64 B round trip, close, from 100 clients at a time
# (the uring client: each connection one linked chain of ring operations), with the default
# acceptor and with WithReusePort(true); unpinned, then pinned (server and load generator on
# CPUs of their own).
bench-sizes: bench-bin
	$(BENCH_LOCK) bin/bench run -plan sizes -engines uringnet,gnet -label "make bench-sizes" -out benchmarks/results/sizes $(BENCH_FLAGS)

# 64 B echo over one loop at 100 and 1,000 connections, uringnet.Run against gnet.Run, the server
# on one CPU and the load generator on the other, seven repeats (about two minutes).
bench-pinned: bench-bin
	$(BENCH_LOCK) bin/bench run -plan pinned -loops 1 -engines uringnet,gnet -only echo -label "make bench-pinned" -out benchmarks/results/pinned $(BENCH_FLAGS)

# RESP and HTTP against gnet, seven repeats (about ten minutes): PING, SET and GET at 50
# connections 16 deep, driven by redis-benchmark and by our uring client (redis-benchmark's one
# thread costs more CPU per request than either server and sets both servers' rate; the uring
# client costs less, so its rows are the servers'), and wrk HTTP plaintext 16 deep at 256
# connections, uringnet.Run against gnet.Run, each unpinned and pinned (server and load
# generator on CPUs of their own).
bench-resp: bench-bin
	$(BENCH_LOCK) bin/bench run -plan resp -engines uringnet,gnet -only http,redis,resp -label "make bench-resp" -out benchmarks/results/resp $(BENCH_FLAGS)

# The issues' speed targets, five repeats each (about 5 minutes): HTTP plaintext 16 deep at 256
# connections (uringnet over gnet), 64 B echo at 1,000 connections and net/http's hello world
# under wrk -c 256 (listener over net), and memory per idle connection at 10,000.
bench-accept: bench-bin
	$(BENCH_LOCK) bin/bench run -plan accept -label "make bench-accept" -out benchmarks/results/accept $(BENCH_FLAGS)

# The listener against net on what a net/http user feels (about 30 minutes): one connection's
# 64 B round trip; echo at 1,000 connections, 1 and 16 deep; net/http at 1, 64 and 256
# connections, unpipelined and 16 deep, as fast as answered and at half that (latency at equal
# offered load); every point unpinned and pinned (server and load generator on CPUs of their
# own); idle memory. Seven repeats. net runs twice (net.2): how far apart the measure puts two
# identical servers is the scale the listener's ratios are read on.
bench-listener: bench-bin
	$(BENCH_LOCK) bin/bench run -plan listener -engines listener,net,net.2 -only echo,nethttp,idle -label "make bench-listener" -out benchmarks/results/listener $(BENCH_FLAGS)

# The listener plan's echo points alone, fifteen repeats (about 15 minutes): pinned at 1,000
# connections 16 deep both servers' rates vary by a third from one process to the next, and
# seven repeats leave the median anywhere in that.
bench-listener-echo: bench-bin
	$(BENCH_LOCK) bin/bench run -plan listener -engines listener,net,net.2 -only echo -repeats 15 -label "make bench-listener-echo" -out benchmarks/results/listener-echo $(BENCH_FLAGS)

# The listener plan's net/http points alone, seven repeats (about 40 minutes): what a net/http
# user feels, without the echo points, after a change to the path every request takes.
bench-listener-http: bench-bin
	$(BENCH_LOCK) bin/bench run -plan listener -engines listener,net,net.2 -only nethttp -label "make bench-listener-http" -out benchmarks/results/listener-http $(BENCH_FLAGS)

# net/http at saturation where the poller serves (one and 64 connections, unpipelined,
# unpinned), window by window (about 25 minutes): 20 sets of servers, 15 windows of 0.5 s an
# engine on each, the engines taking turns; there the listener runs net's own poll code, and
# separate runs cannot tell it from net, a few hundred windows side by side can to about 1 %.
bench-listener-windows: bench-bin
	$(BENCH_LOCK) bin/bench run -plan listener -engines listener,net,net.2 -only nethttp -conns 1,64 -depths 1 -pinning unpinned -saturation-only -interleave 15 -repeats 20 -warmup 200ms -duration 500ms -label "make bench-listener-windows" -out benchmarks/results/listener-windows $(BENCH_FLAGS)

# The same HTTP target on examples/http itself: built on uringnet.Run and on gnet.Run
# (-tags gnetengine), alternating, five repeats of wrk -c256 16 deep, medians and their ratio.
bench-example-http:
	$(BENCH_LOCK) benchmarks/scripts/example-http.sh

# Rewrites the README's performance section (between its bench markers) from a committed
# results file: the full run's when there is one, else make bench's.
BENCH_RESULTS ?= $(firstword $(wildcard benchmarks/results/full.json) benchmarks/results/bench.json)
bench-readme: bench-bin
	bin/bench report -in $(BENCH_RESULTS) -readme README.md

# The external load generators from the distribution's packages (wrk, redis-benchmark), and
# benchstat for bench-mech; what is installed already is left alone.
bench-deps:
	@pkgs=""; command -v wrk >/dev/null || pkgs="$$pkgs wrk"; \
	command -v redis-benchmark >/dev/null || pkgs="$$pkgs redis-tools"; \
	if [ -n "$$pkgs" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$pkgs; fi
	test -x $(BENCHSTAT) || $(GO) install golang.org/x/perf/cmd/benchstat@v0.0.0-20250813145418-2f7363a06fe1

# The mechanisms' Go benchmarks, summarised by benchstat: the wake-up round trip between loop
# threads (MSG_RING, the synchronous MSG_RING, eventfd), accepting (MSG_RING descriptor hand-off
# against per-loop SO_REUSEPORT), and moving a live connection (BenchmarkMove: a round trip alone and after a move, and the
# time from Move to serving on the other loop). The test binaries are built once and
# run MECH_COUNT times in turn, so that the machine's drift falls on every variant alike.
MECH_COUNT ?= 10
bench-mech:
	mkdir -p bin benchmarks/results
	$(GO) test -c -o bin/poller.test ./poller
	$(GO) test -c -o bin/ringset.test ./ringset
	$(BENCH_LOCK) sh -c 'for i in $$(seq $(MECH_COUNT)); do \
		bin/poller.test -test.run "^$$" -test.bench WakePingPong -test.benchmem && \
		bin/ringset.test -test.run "^$$" -test.bench "Accept|Move" -test.benchtime 20000x || exit 1; \
	done' > benchmarks/results/mechanisms-raw.txt
	$(BENCHSTAT) benchmarks/results/mechanisms-raw.txt | tee benchmarks/results/mechanisms.txt
