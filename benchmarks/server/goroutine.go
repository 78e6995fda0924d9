package server

import "net"

// readSize is what a goroutine-per-connection server reads at a time.
const readSize = 4096

// Serve answers every connection ln accepts with h on a goroutine of its own, until ln closes.
func Serve(ln net.Listener, h Handler) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveConn(c, h)
	}
}

// serveConn is the goroutine-per-connection loop: read, answer what is complete, keep the rest.
func serveConn(c net.Conn, h Handler) {
	defer c.Close()
	buf := make([]byte, readSize)
	var scratch []byte
	have := 0
	for {
		n, err := c.Read(buf[have:])
		have += n
		if have > 0 {
			consumed, reply := h(buf[:have], scratch)
			if consumed < 0 {
				return
			}
			if len(reply) > 0 {
				if _, err := c.Write(reply); err != nil {
					return
				}
				if !sameStart(reply, buf) {
					scratch = reply[:0] // keep what append grew
				}
			}
			have = copy(buf, buf[consumed:have])
			if have == len(buf) { // a request larger than the buffer: make room for the rest
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		if err != nil {
			return
		}
	}
}
