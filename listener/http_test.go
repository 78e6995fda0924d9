package listener

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// newHTTPServer starts an httptest server whose listener is ours (TLS with HTTP/2 when asked),
// closed when the test ends.
// dialRaw opens a plain TCP connection to ts, for requests written by hand; it is closed when
// the test ends.
func dialRaw(t *testing.T, ts *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newHTTPServer(t *testing.T, h http.Handler, configure func(*http.Server), tls bool) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ln.(*Listener); !ok {
		t.Fatalf("Listen returned %T, want *listener.Listener", ln)
	}
	ts.Listener = ln
	if configure != nil {
		configure(ts.Config)
	}
	if tls {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

func TestHTTPKeepAlive(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ts := newHTTPServer(t, http.HandlerFunc(hello), nil, false)
		reused := 0
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				reused++
			}
		}}
		for i := 0; i < 20; i++ {
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", ts.URL, nil)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(body) != "hello" {
				t.Fatalf("request %d: body %q, %v", i, body, err)
			}
		}
		if reused != 19 {
			t.Errorf("%d of 20 requests reused the connection, want 19", reused)
		}
	})
}

func TestHTTPPipelined(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.URL.Path)
		}), nil, false)
		c := dialRaw(t, ts)
		var reqs strings.Builder
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&reqs, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		if _, err := io.WriteString(c, reqs.String()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 10; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != fmt.Sprintf("/%d", i) {
				t.Fatalf("response %d: body %q, %v", i, body, err)
			}
		}
	})
}

// Pipelined batches, over and over, on the poller path: between two requests of a batch no Read
// reaches the socket's File (the requests wait in net/http's buffer), so each background read
// goes to a File last given the deadline long past of the abort before, and gives it none as the
// next abort sets that deadline again. Every batch must be answered: a background read left
// waiting in the File hangs the connection (the abort waits for it).
func TestHTTPPipelinedBatchesEndEveryBackgroundRead(t *testing.T) {
	forcePath(t, pathsPoller)
	ts := newHTTPServer(t, http.HandlerFunc(hello), nil, false)
	c := dialRaw(t, ts)
	var batch strings.Builder
	for range 16 {
		batch.WriteString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	br := bufio.NewReader(c)
	deadline := time.Now().Add(2 * time.Second)
	for b := 0; time.Now().Before(deadline); b++ {
		if _, err := io.WriteString(c, batch.String()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := range 16 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("batch %d, response %d: %v", b, i, err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatalf("batch %d, response %d: %v", b, i, err)
			}
			resp.Body.Close()
		}
	}
}

func TestHTTPExpectContinue(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "got %d", len(b))
		}), nil, false)
		c := dialRaw(t, ts)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
			t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line ending the interim response
			t.Fatal(err)
		}
		io.WriteString(c, "abcde")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "got 5" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	})
}

func TestHTTPLargeBodies(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		const size = 16 << 20
		want := make([]byte, size)
		rand.Read(want)
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "GET" {
				w.Write(want)
				return
			}
			io.Copy(w, r.Body) // echo the upload
		}), nil, false)
		resp, err := ts.Client().Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("download: %d bytes, %v; equal %v", len(got), err, bytes.Equal(got, want))
		}
		resp, err = ts.Client().Post(ts.URL, "application/octet-stream", bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("upload echo: %d bytes, %v; equal %v", len(got), err, bytes.Equal(got, want))
		}
	})
}

func TestHTTPHijack(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		hijacked := make(chan net.Conn, 1)
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			hijacked <- c
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
			brw.Flush()
			line, err := brw.ReadString('\n') // echo one line, through our conn
			if err == nil {
				io.WriteString(c, "echo: "+line)
			}
		}), nil, false)
		c := dialRaw(t, ts)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "101") {
			t.Fatalf("status line %q, %v", line, err)
		}
		br.ReadString('\n')
		if hc := <-hijacked; fmt.Sprintf("%T", hc) != "*listener.Conn" {
			t.Errorf("hijacked a %T, want *listener.Conn", hc)
		}
		io.WriteString(c, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || line != "echo: ping\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the handler closed: %v, want EOF", err)
		}
	})
}

func TestHTTPShutdownWithActiveConnections(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		inHandler, release := make(chan struct{}), make(chan struct{})
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(inHandler)
				<-release
			}
			io.WriteString(w, "done")
		}), nil, false)
		// An idle keep-alive connection, and one with a request in progress.
		if resp, err := ts.Client().Get(ts.URL + "/fast"); err != nil {
			t.Fatal(err)
		} else {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		slow := make(chan string, 1)
		go func() {
			resp, err := http.Get(ts.URL + "/slow")
			if err != nil {
				slow <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			slow <- string(b)
		}()
		<-inHandler
		shut := make(chan error, 1)
		go func() { shut <- ts.Config.Shutdown(context.Background()) }()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) while a request was active", err)
		case <-time.After(300 * time.Millisecond):
		}
		if _, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), time.Second); err == nil {
			t.Error("the listener still accepts after Shutdown began")
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if got := <-slow; got != "done" {
			t.Fatalf("the active request got %q, want done", got)
		}
	})
}

// readUntilClosed reads c until it ends and returns how long that took.
func readUntilClosed(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the connection")
	}
	return time.Since(start)
}

func TestHTTPTimeouts(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		t.Run("ReadHeaderTimeout", func(t *testing.T) {
			ts := newHTTPServer(t, http.HandlerFunc(hello), func(s *http.Server) { s.ReadHeaderTimeout = 200 * time.Millisecond }, false)
			c := dialRaw(t, ts)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // headers never end
			if d := readUntilClosed(t, c); d < 150*time.Millisecond || d > 5*time.Second {
				t.Errorf("closed after %v, want about 200ms", d)
			}
		})
		t.Run("IdleTimeout", func(t *testing.T) {
			ts := newHTTPServer(t, http.HandlerFunc(hello), func(s *http.Server) { s.IdleTimeout = 200 * time.Millisecond }, false)
			c := dialRaw(t, ts)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			start := time.Now()
			c.SetReadDeadline(start.Add(10 * time.Second))
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("idle connection: %v, want EOF", err)
			}
			if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
				t.Errorf("idle connection closed after %v, want about 200ms", d)
			}
		})
		t.Run("WriteTimeout", func(t *testing.T) {
			werr := make(chan error, 1)
			ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				chunk := make([]byte, 64<<10)
				for i := 0; i < 1024; i++ { // at most 64 MiB, which the client does not read
					if _, err := w.Write(chunk); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}), func(s *http.Server) { s.WriteTimeout = 300 * time.Millisecond }, false)
			c := dialRaw(t, ts)
			start := time.Now()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			select {
			case err := <-werr:
				if err == nil {
					t.Fatal("64 MiB were written to a client that reads nothing")
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("handler's write error %v, want a timeout", err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("write timed out after %v, want about 300ms", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the handler's writes never timed out")
			}
		})
	})
}

func TestHTTP2OverTLS(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		ts := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %d", r.Proto, r.ContentLength)
		}), nil, true)
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ { // concurrent streams on one connection
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := ts.Client().Post(ts.URL, "text/plain", strings.NewReader("0123456789"))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 || string(b) != "HTTP/2.0 10" {
					t.Errorf("proto %s, body %q; want HTTP/2.0", resp.Proto, b)
				}
			}()
		}
		wg.Wait()
	})
}
