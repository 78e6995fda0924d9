package loadgen

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uringnet/uringnet/benchmarks/server"
)

// respServer serves a tiny RESP store (PING, SET, GET over one key space), goroutine per
// connection, on loopback; alter, if not nil, rewrites every reply before it is sent.
func respServer(t *testing.T, alter func(reply []byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	store := map[string]string{}
	go server.Serve(ln, func(in, scratch []byte) (int, []byte) {
		out, used := scratch[:0], 0
		for {
			args, n := parseRESPCommand(in[used:])
			if n == 0 {
				return used, out
			}
			used += n
			var reply []byte
			mu.Lock()
			switch {
			case len(args) == 1 && args[0] == "PING":
				reply = []byte("+PONG\r\n")
			case len(args) == 3 && args[0] == "SET":
				store[args[1]] = args[2]
				reply = []byte("+OK\r\n")
			case len(args) == 2 && args[0] == "GET":
				if v, ok := store[args[1]]; ok {
					reply = appendBulk(nil, v)
				} else {
					reply = []byte("$-1\r\n")
				}
			default:
				reply = []byte("-ERR unknown command\r\n")
			}
			mu.Unlock()
			if alter != nil {
				reply = alter(reply)
			}
			out = append(out, reply...)
		}
	})
	return ln.Addr().String()
}

// parseRESPCommand reads one command, an array of bulk strings, from the front of in; n is 0
// while it is incomplete.
func parseRESPCommand(in []byte) (args []string, n int) {
	line := func(at int) (string, int) {
		end := bytes.Index(in[at:], []byte("\r\n"))
		if end < 0 {
			return "", 0
		}
		return string(in[at : at+end]), at + end + 2
	}
	head, pos := line(0)
	if pos == 0 || head[0] != '*' {
		return nil, 0
	}
	count, _ := strconv.Atoi(head[1:])
	for range count {
		var size string
		if size, pos = line(pos); pos == 0 {
			return nil, 0
		}
		length, _ := strconv.Atoi(size[1:])
		if pos+length+2 > len(in) {
			return nil, 0
		}
		args = append(args, string(in[pos:pos+length]))
		pos += length + 2
	}
	return args, pos
}

var respProtocols = []string{RESPPing, RESPSet, RESPGet}

// Each RESP command is measured by either client, one message per reply, unpipelined and 16
// deep; GET finds the value Run stored (the server answers a missing key with a nil reply,
// which the client would refuse).
func TestRESPIsMeasured(t *testing.T) {
	for _, client := range clients {
		for _, protocol := range respProtocols {
			for _, depth := range []int{1, 16} {
				t.Run(fmt.Sprintf("%s/%s/depth=%d", client, protocol, depth), func(t *testing.T) {
					r, err := Run(Config{Client: client, Protocol: protocol, Addr: respServer(t, nil), Conns: 8, Size: 3, Depth: depth},
						20*time.Millisecond, 150*time.Millisecond, nil)
					if err != nil {
						t.Fatal(err)
					}
					if r.Messages < int64(depth) || r.Messages%int64(depth) != 0 && client == "net" || r.Latency.P50 <= 0 {
						t.Fatalf("%d messages, latency %+v", r.Messages, r.Latency)
					}
				})
			}
		}
	}
}

// The bytes sent are the commands redis-benchmark sends, and the replies those a Redis server
// gives.
func TestRESPCommands(t *testing.T) {
	for _, c := range []struct{ protocol, command, reply string }{
		{RESPPing, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
		{RESPSet, "*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$3\r\nxxx\r\n", "+OK\r\n"},
		{RESPGet, "*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n", "$3\r\nxxx\r\n"},
	} {
		command, reply := respCommand(c.protocol, 3)
		if string(command) != c.command || string(reply) != c.reply {
			t.Errorf("%s: %q answered %q", c.protocol, command, reply)
		}
	}
}

// A server that answers wrongly fails the run, whichever client drives it: a changed byte, an
// error in place of the reply, a value one byte short (which puts every later reply out of
// step) or one byte long.
func TestWrongRESPRepliesFail(t *testing.T) {
	for _, c := range []struct {
		name, protocol string
		alter          func([]byte) []byte
	}{
		{"PANG", RESPPing, func(b []byte) []byte { return bytes.Replace(b, []byte("PONG"), []byte("PANG"), 1) }},
		{"error", RESPSet, func([]byte) []byte { return []byte("-ERR out of memory\r\n") }},
		{"short value", RESPGet, func(b []byte) []byte { return bytes.Replace(b, []byte("xxx"), []byte("xx"), 1) }},
		{"long value", RESPGet, func(b []byte) []byte { return bytes.Replace(b, []byte("xxx"), []byte("xxxx"), 1) }},
	} {
		for _, client := range clients {
			t.Run(client+"/"+c.name, func(t *testing.T) {
				alter := c.alter
				if c.protocol == RESPGet { // leave Run's SET, which stores the key, alone
					alter = func(b []byte) []byte {
						if string(b) == "+OK\r\n" {
							return b
						}
						return c.alter(b)
					}
				}
				_, err := Run(Config{Client: client, Protocol: c.protocol, Addr: respServer(t, alter), Conns: 4, Size: 3, Depth: 16},
					10*time.Millisecond, 100*time.Millisecond, nil)
				if err == nil || !strings.Contains(err.Error(), "differs from what was expected") {
					t.Fatalf("%s: %v", c.name, err)
				}
			})
		}
	}
}

// A reply cut short with nothing after it leaves the connection waiting: the uring client
// reports it rather than count only the connections that were answered.
func TestShortRESPReplyFailsTheUringClient(t *testing.T) {
	addr := respServer(t, func(b []byte) []byte { return b[:len(b)-1] })
	_, err := Run(Config{Client: "uring", Protocol: RESPPing, Addr: addr, Conns: 4, Size: 3, Depth: 1},
		10*time.Millisecond, 100*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "came back in the whole measured window") {
		t.Fatalf("a reply one byte short: %v", err)
	}
}

// GET needs its key: a server that refuses the SET that stores it fails the run before any
// GET is sent.
func TestRESPGetStoresItsKey(t *testing.T) {
	addr := respServer(t, func(b []byte) []byte {
		if string(b) == "+OK\r\n" {
			return []byte("-ERR read only\r\n")
		}
		return b
	})
	_, err := Run(Config{Client: "uring", Protocol: RESPGet, Addr: addr, Conns: 1, Size: 3, Depth: 1},
		10*time.Millisecond, 50*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "store the key GET reads") {
		t.Fatalf("a refused SET: %v", err)
	}
}
