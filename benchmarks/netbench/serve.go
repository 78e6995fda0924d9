package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/uringnet/uringnet/benchmarks/harness"
	"github.com/uringnet/uringnet/listener"
)

// serve runs one server, on our listener or net's, until the parent lets go.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	engine := fs.String("engine", "listener", "listener or net")
	program := fs.String("program", "echo", "echo (a goroutine per connection) or http (hello-world)")
	fs.Parse(args)
	listen := net.Listen
	switch *engine {
	case "listener":
		listen = listener.Listen
	case "net":
	default:
		return fmt.Errorf("unknown engine %q", *engine)
	}
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, ours := ln.(*listener.Listener); ours != (*engine == "listener") {
		return fmt.Errorf("engine %s listens with a %T", *engine, ln)
	}
	switch *program {
	case "echo":
		go acceptEcho(ln)
	case "http":
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "Hello, World!")
		}))
	default:
		return fmt.Errorf("unknown program %q", *program)
	}
	harness.Serve(ln.Addr().String())
	return nil
}

func acceptEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
