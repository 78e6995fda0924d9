#!/bin/sh
# The gnet drop-in's HTTP target, measured on the example itself: examples/http built on
# uringnet.Run and, with -tags gnetengine, on gnet.Run (the same handler), each with two event
# loops, answering wrk -t2 -c256 with 16 requests per write (benchmarks/wrk/pipeline.lua);
# the two alternate, the order swapping every repeat. Prints each run's requests/s, the
# medians and their ratio. A run with any non-2xx answer or socket error fails the script.
set -eu
repeats=${REPEATS:-11}
port=${PORT:-18080}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/uringnet" ./examples/http
go build -tags gnetengine -o "$bin/gnet" ./examples/http
for i in $(seq "$repeats"); do
	order="uringnet gnet"
	[ $((i % 2)) -eq 0 ] && order="gnet uringnet"
	for e in $order; do
		port=$((port + 1))
		"$bin/$e" -port $port -loops 2 >"$bin/$e.log" 2>&1 &
		pid=$!
		up=0
		for _ in $(seq 100); do
			if curl -s -o /dev/null "http://127.0.0.1:$port/"; then up=1; break; fi
			sleep 0.1
		done
		[ $up -eq 1 ] || { echo "$e never answered on port $port"; cat "$bin/$e.log"; kill $pid; exit 1; }
		wrk -t2 -c256 -d1s -s benchmarks/wrk/pipeline.lua "http://127.0.0.1:$port/" -- 16 >/dev/null
		out=$(wrk -t2 -c256 -d3s -s benchmarks/wrk/pipeline.lua "http://127.0.0.1:$port/" -- 16)
		kill $pid
		wait $pid 2>/dev/null || true
		if echo "$out" | grep -q -E "Non-2xx|Socket errors"; then echo "$e: wrk saw errors:"; echo "$out"; exit 1; fi
		rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
		echo "repeat $i $e $rate req/s"
		echo "$rate" >>"$bin/$e.rates"
	done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
u=$(median "$bin/uringnet.rates")
g=$(median "$bin/gnet.rates")
echo "median uringnet $u req/s, gnet $g req/s, ratio $(awk -v u="$u" -v g="$g" 'BEGIN {printf "%.2f", u/g}')"
