package main

import "testing"

// wrk 4.1's output with --latency, as the harness reads it.
const wrkOutput = `Running 1s test @ http://127.0.0.1:40151/
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    1.21ms  20.08ms   81.33%
    Req/Sec   750.12k    50.10k  820.00k    70.00%
  Latency Distribution
     50%    1.80ms
     75%    2.40ms
     90%    3.30ms
     99%  812.00us
  1492736 requests in 1.00s, 190.75MB read
Requests/sec: 1490122.33
Transfer/sec:    190.43MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.rate != 1490122.33 || r.requests != 1492736 || r.p50 != 1800 || r.p99 != 812 {
		t.Fatalf("%+v", r)
	}
	if _, err := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil {
		t.Fatal("wrk's failure was read as a result")
	}
}

func TestParseRedisCSV(t *testing.T) {
	out := "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n" +
		"\"GET\",\"909090.94\",\"0.503\",\"0.064\",\"0.423\",\"1.239\",\"1.887\",\"2.207\"\n"
	s, err := parseRedisCSV([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != 909090.94 || s.P50 != 423 || s.P99 != 1887 {
		t.Fatalf("%+v", s)
	}
	if _, err := parseRedisCSV([]byte("WARNING: something\n")); err == nil {
		t.Fatal("output without a result was accepted")
	}
}
