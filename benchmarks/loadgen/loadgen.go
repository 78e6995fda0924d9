// Package loadgen is the benchmark's own load generator: a closed loop over a number of
// connections, each sending a batch of messages (the pipelining depth), waiting for all of
// their echoes and sending the next, as fast as the server answers. Every echoed byte is
// checked against what was sent (each message carries its connection and sequence number, so
// bytes sent back on the wrong connection or out of order are caught), and the time from a
// batch's send to each of its messages' echo goes into a latency histogram.
//
// Two clients drive the same loop: "uring" (one io_uring on one thread drives every connection;
// a few microseconds of client CPU per message, so that on a small machine the server, not the
// client, runs out of CPU) and "net" (the standard library, a goroutine per connection).
//
// Both clients also speak RESP (each message one Redis command, PING, SET or GET, every reply
// checked byte for byte against the one Redis gives): a connection's batch is then depth
// pipelined commands and the replies that must come back for them, as an echo batch is its
// messages and their echo.
//
// The net client can also speak HTTP (each message a GET of the benchmark's hello world, every
// response checked) and hold a fixed offered load instead of a closed loop (Rate): each
// connection then sends its batches on a schedule, and a message's latency is counted from when
// its batch was due, not from when it could be sent, so that a server that falls behind is
// charged for the queue it makes (no coordinated omission). Each connection keeps its schedule
// with a timer descriptor of its own (schedule.go), to the microsecond: Go's own timers would
// send the batches a millisecond at a time, in bursts, and charge their lateness to the server.
// Latency compared at one offered load is the fair comparison; at saturation a faster server
// queues more.
//
// Both clients also measure short-lived connections (Config.Connect): each of Conns clients
// connects, makes one checked round trip, closes, and connects again; the uring client runs
// each connection as one linked chain of ring operations.
package loadgen

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// Config says what load to generate.
type Config struct {
	Client   string // "uring" or "net"
	Protocol string // "echo" (the default), "http" or one of the RESP commands ("resp-ping", …)
	Addr     string // host:port of the server
	Conns    int    // connections
	Size     int    // bytes per echo message; of the value RESP's SET stores and GET reads
	Depth    int    // messages sent back to back before waiting for their answers
	// Rate is the offered load in messages per second over all connections; 0 is a closed
	// loop, each connection sending its next batch as soon as the last is answered.
	Rate float64
	// Connect measures short-lived connections instead (echo, depth 1): each
	// of Conns clients connects, makes one round trip of Size bytes, closes and starts over; a
	// message is then one connection.
	Connect bool
}

// Protocols.
const (
	Echo = "echo"
	HTTP = "http"
)

// Result is what a measured window produced.
type Result struct {
	Messages int64   `json:"messages"` // echoes completed and verified in the window
	Seconds  float64 `json:"seconds"`  // the window's length
	Latency  Summary `json:"latency"`
}

// Rate is messages per second.
func (r Result) Rate() float64 { return float64(r.Messages) / r.Seconds }

// The phases of a run: clients count and time only what completes while measuring.
const (
	warmingUp int32 = iota
	measuring
	stopping
)

// client is a running load: it stops and reports its first error on finish.
type client interface {
	finish() error
}

// shared is the state both clients publish to Run.
type shared struct {
	cfg      Config
	batches  batches // what a connection sends and must hear back, in echo and RESP
	phase    atomic.Int32
	messages atomic.Int64 // completed while measuring
	hist     *shardedHistogram
}

func (s *shared) measuring() bool { return s.phase.Load() == measuring }

// Run connects, drives the load for warmup unmeasured and then for duration measured, and
// stops. mark, if not nil, is called with "start" and "end" at the window's edges (where the
// caller reads the server's CPU time).
func Run(cfg Config, warmup, duration time.Duration, mark func(event string)) (Result, error) {
	if cfg.Protocol == "" {
		cfg.Protocol = Echo
	}
	if cfg.Conns <= 0 || cfg.Size <= 0 || cfg.Depth <= 0 || cfg.Rate < 0 {
		return Result{}, fmt.Errorf("loadgen: %d connections of %d-byte messages %d deep at %v/s: all must be positive (the rate may be 0)",
			cfg.Conns, cfg.Size, cfg.Depth, cfg.Rate)
	}
	if cfg.Protocol != Echo && cfg.Protocol != HTTP && !isRESP(cfg.Protocol) {
		return Result{}, fmt.Errorf("loadgen: unknown protocol %q (want echo, http, %s, %s or %s)", cfg.Protocol, RESPPing, RESPSet, RESPGet)
	}
	if cfg.Client == "uring" && (cfg.Protocol == HTTP || cfg.Rate > 0) {
		return Result{}, fmt.Errorf("loadgen: the uring client runs a closed echo or RESP loop; HTTP and a fixed rate need the net client")
	}
	if cfg.Connect && (cfg.Protocol != Echo || cfg.Rate > 0 || cfg.Depth != 1) {
		return Result{}, fmt.Errorf("loadgen: short-lived connections make one echo round trip each, as fast as answered")
	}
	// The net client's goroutines record into shards; the uring client's one thread needs one.
	shards := 1
	if cfg.Client == "net" {
		shards = min(cfg.Conns, 64)
	}
	if cfg.Protocol == RESPGet {
		if err := storeRESPKey(cfg.Addr, cfg.Size); err != nil {
			return Result{}, err
		}
	}
	s := &shared{cfg: cfg, hist: newShardedHistogram(shards)}
	if cfg.Protocol != HTTP {
		s.batches = batchesFor(cfg)
	}
	var c client
	var err error
	switch cfg.Client {
	case "uring":
		if cfg.Connect {
			c, err = startUringConnect(s)
		} else {
			c, err = startUring(s)
		}
	case "net":
		if cfg.Connect {
			c, err = startConnect(s, warmup+duration)
		} else {
			c, err = startNet(s, warmup+duration)
		}
	default:
		err = fmt.Errorf("loadgen: unknown client %q (want uring or net)", cfg.Client)
	}
	if err != nil {
		return Result{}, err
	}
	if mark == nil {
		mark = func(string) {}
	}
	time.Sleep(warmup)
	s.phase.Store(measuring)
	t0 := time.Now()
	mark("start")
	time.Sleep(duration)
	s.phase.Store(stopping)
	t1 := time.Now()
	mark("end")
	if err := c.finish(); err != nil {
		return Result{}, err
	}
	r := Result{Messages: s.messages.Load(), Seconds: t1.Sub(t0).Seconds(), Latency: s.hist.summary()}
	if r.Messages == 0 {
		return r, fmt.Errorf("loadgen: no message completed in %v", duration)
	}
	return r, nil
}

// fill writes the batch seq of connection id: each message names its connection, its batch and
// its place in the batch, and the rest of its bytes follow from those.
func fill(batch []byte, size, id int, seq uint64) {
	for k := 0; k*size < len(batch); k++ {
		msg := batch[k*size : (k+1)*size]
		for i := range msg {
			msg[i] = byte(id + k + i)
		}
		if len(msg) >= 16 {
			binary.LittleEndian.PutUint32(msg, uint32(id))
			binary.LittleEndian.PutUint64(msg[4:], seq)
			binary.LittleEndian.PutUint32(msg[12:], uint32(k))
		}
	}
}

// mismatch describes a reply that differs from what was expected: got arrived at byte at of
// the reply to batch seq, whose every expected byte is want.
func mismatch(seq uint64, at int, got, want []byte) error {
	want = want[min(at, len(want)):]
	i := firstDifference(got, want)
	wanted := "the end of the reply"
	if i < len(want) {
		wanted = fmt.Sprintf("%q", excerpt(want[i:]))
	}
	return fmt.Errorf("the reply to batch %d differs from what was expected at byte %d: %q, want %s", seq, at+i, excerpt(got[i:]), wanted)
}

// firstDifference is the first index where a and b differ, or the shorter one's length.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// excerpt is the start of b, enough to show in an error.
func excerpt(b []byte) []byte { return b[:min(len(b), 16)] }
