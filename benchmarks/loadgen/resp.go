package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// The RESP protocols: each message is one Redis command, sent as a RESP array, whose reply
// must be the one a Redis server gives, byte for byte.
const (
	RESPPing = "resp-ping" // PING, answered +PONG
	RESPSet  = "resp-set"  // SET of one key to a value of Size bytes, answered +OK
	RESPGet  = "resp-get"  // GET of that key, answered with the value (Run stores it first)
)

// respKey is the key SET stores and GET reads, and a value is Size bytes of 'x': what
// redis-benchmark sends without -r (its key placeholder as it is) and with -d Size, so that
// either load generator gives the server the same work.
const respKey = "key:__rand_int__"

func isRESP(protocol string) bool {
	return protocol == RESPPing || protocol == RESPSet || protocol == RESPGet
}

// respCommand returns the command of a RESP protocol and the reply it must draw.
func respCommand(protocol string, size int) (command, reply []byte) {
	value := strings.Repeat("x", size)
	switch protocol {
	case RESPPing:
		return respArray("PING"), []byte("+PONG\r\n")
	case RESPSet:
		return respArray("SET", respKey, value), []byte("+OK\r\n")
	case RESPGet:
		return respArray("GET", respKey), appendBulk(nil, value)
	}
	panic("loadgen: not a RESP protocol: " + protocol)
}

// respArray encodes a command as clients send one: an array of bulk strings.
func respArray(args ...string) []byte {
	b := strconv.AppendInt([]byte{'*'}, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = appendBulk(b, a)
	}
	return b
}

func appendBulk(b []byte, s string) []byte {
	b = strconv.AppendInt(append(b, '$'), int64(len(s)), 10)
	b = append(b, "\r\n"...)
	b = append(b, s...)
	return append(b, "\r\n"...)
}

// storeRESPKey gives a GET run its key: one SET of a value of size bytes, on a connection of
// its own, answered before any GET is sent.
func storeRESPKey(addr string, size int) error {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("loadgen: store the key GET reads: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	set, ok := respCommand(RESPSet, size)
	if _, err := nc.Write(set); err != nil {
		return fmt.Errorf("loadgen: store the key GET reads: write: %w", err)
	}
	got := make([]byte, len(ok))
	if _, err := io.ReadFull(nc, got); err != nil {
		return fmt.Errorf("loadgen: store the key GET reads: read: %w", err)
	}
	if !bytes.Equal(got, ok) {
		return fmt.Errorf("loadgen: store the key GET reads: the server answered SET with %q, want %q", got, ok)
	}
	return nil
}
