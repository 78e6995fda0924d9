package server

import (
	"bufio"
	"bytes"
	"fmt"
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

// Request is the request the benchmark's HTTP clients send: one GET, pipelined depth deep.
const Request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

// ReadResponses reads n responses from r and checks each is a 200 with the plaintext body. It
// allocates nothing, so that a load generator checking every response spends little on it.
func ReadResponses(r *bufio.Reader, n int) error {
	for i := 0; i < n; i++ {
		if err := readResponse(r); err != nil {
			return fmt.Errorf("server: response %d: %w", i, err)
		}
	}
	return nil
}

func readResponse(r *bufio.Reader) error {
	status, err := r.ReadSlice('\n')
	if err != nil || string(status) != "HTTP/1.1 200 OK\r\n" {
		return fmt.Errorf("status %q, %v", status, err)
	}
	length := -1
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if string(h) == "\r\n" {
			break
		}
		if v, ok := bytes.CutPrefix(h, contentLength); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length != len(responseBody) {
		return fmt.Errorf("Content-Length %d, want %d", length, len(responseBody))
	}
	body, err := r.Peek(length)
	if err != nil || string(body) != responseBody {
		return fmt.Errorf("body %q, %v", body, err)
	}
	_, err = r.Discard(length)
	return err
}

var contentLength = []byte("Content-Length: ")
