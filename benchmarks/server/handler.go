// Package server holds the benchmark's servers: one handler per program (echo, HTTP
// plaintext), written once as a function over bytes, and the engines that run it — uringnet.Run
// and gnet.Run through the same gnet.EventHandler, and the same goroutine-per-connection loop
// on net.Listen and listener.Listen. Every engine runs the same handler code, so differences
// between rows are the engines'.
package server

import "fmt"

// Handler answers what a connection has received so far: it returns how many bytes of in it
// consumed and the reply to send, which may alias in or be appended to scratch (whose
// contents it may overwrite). A negative consumed closes the connection. The reply is sent
// before the consumed bytes are released.
type Handler func(in, scratch []byte) (consumed int, reply []byte)

// Programs are the handlers by name.
var Programs = map[string]func() Handler{
	"echo": func() Handler { return Echo },
	"http": HTTP,
}

// ProgramNamed returns the named handler.
func ProgramNamed(name string) (Handler, error) {
	p, ok := Programs[name]
	if !ok {
		return nil, fmt.Errorf("server: unknown program %q", name)
	}
	return p(), nil
}

// Echo answers every byte with itself.
func Echo(in, _ []byte) (int, []byte) { return len(in), in }

// sameStart reports whether reply is a slice of in (an echo), rather than of the scratch.
func sameStart(reply, in []byte) bool {
	return len(reply) > 0 && len(in) > 0 && &reply[0] == &in[0]
}
