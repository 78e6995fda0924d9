# uringnet's everyday commands. `make test` is what CI runs.
GO ?= go

.PHONY: test vet fmt-check run bench-poller bench-echo bench-http

# Vet, then every test under the race detector, never from the test cache; then, without it,
# the load tests it slows too much to run at full size and the allocation counts it distorts.
test: vet
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'ThousandConnections|AllocatesNothing' ./...

vet:
	$(GO) vet ./...

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

# 64-byte echo on the engine against gnet v2.10.0's epoll engine, servers in their own processes,
# engines alternating, five rounds per point; the table is printed and the samples kept.
bench-echo:
	mkdir -p bin benchmarks/results
	$(GO) build -o bin/echobench ./benchmarks/echobench
	bin/echobench run -conns 100,1000 -size 64 -rounds 5 -duration 5s -json benchmarks/results/echo-64B.json

# The HTTP example on uringnet.Run against the same program on gnet.Run, wrk -c 256 with 16
# requests pipelined per write, engines alternating, five rounds each.
bench-http:
	mkdir -p benchmarks/results
	$(GO) run ./benchmarks/httpbench -c 256 -depth 16 -rounds 5 -d 5s -json benchmarks/results/http-plaintext.json | tee benchmarks/results/http-plaintext.txt

.PHONY: test-nettest bench-net

# The listener's net.Conn against golang.org/x/net/nettest (ours accepted vs net dialed, ours
# dialed vs a net listener, ours vs ours over TCP and unix), twenty times under the race detector.
test-nettest:
	$(GO) test -race -count=20 -run Nettest ./listener

# listener against net on the same programs, servers in child processes, alternating, five
# rounds: goroutine-per-connection echo (64 B, 1,000 connections), net/http hello-world under
# wrk -c 256, and memory per idle connection at 10,000; the table is printed and samples kept.
bench-net:
	mkdir -p bin benchmarks/results
	$(GO) build -o bin/netbench ./benchmarks/netbench
	bin/netbench run -rounds 5 -duration 5s -json benchmarks/results/net.json > benchmarks/results/net.txt
	cat benchmarks/results/net.txt
