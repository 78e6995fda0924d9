package server

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxRequest is the most a connection may hold without a complete request: past it, the input
// is not HTTP this server answers.
const maxRequest = 64 << 10

var (
	headerEnd    = []byte("\r\n\r\n")
	responseBody = "Hello, World!"
	date         atomic.Pointer[[]byte]
	dateOnce     sync.Once
)

// HTTP is the TechEmpower plaintext shape: every complete request, pipelined ones included,
// is answered "Hello, World!" with a Date header refreshed once a second; a partial request
// waits for the rest of it.
func HTTP() Handler {
	dateOnce.Do(func() {
		refreshDate()
		go func() {
			for range time.Tick(time.Second) {
				refreshDate()
			}
		}()
	})
	return answerHTTP
}

func refreshDate() {
	d := []byte(time.Now().UTC().Format(time.RFC1123))
	date.Store(&d)
}

func answerHTTP(in, scratch []byte) (int, []byte) {
	consumed := 0
	reply := scratch[:0]
	d := *date.Load()
	for {
		end := bytes.Index(in[consumed:], headerEnd)
		if end < 0 {
			break
		}
		consumed += end + len(headerEnd)
		reply = append(reply, "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: "...)
		reply = strconv.AppendInt(reply, int64(len(responseBody)), 10)
		reply = append(reply, "\r\nDate: "...)
		reply = append(reply, d...)
		reply = append(reply, "\r\n\r\n"...)
		reply = append(reply, responseBody...)
	}
	if len(in)-consumed > maxRequest {
		return -1, nil
	}
	return consumed, reply
}
