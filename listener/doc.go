// Package listener is the goroutine-per-connection face of uringnet: a net.Listener whose
// connections, and a Dial whose connections, are net.Conns served by io_uring event loops.
// Programs written against net (net/http, crypto/tls, gRPC) switch net.Listen to
// listener.Listen and run unchanged; the standard library's behaviour is the contract.
//
// Where io_uring cannot serve (an old kernel, a sandbox, or URINGNET_DISABLE=1), Listen and
// Dial return the standard library's own types and log that once.
//
// See docs/listener.md for how it is built and what was measured.
package listener
