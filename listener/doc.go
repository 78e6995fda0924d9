// Package listener is the goroutine-per-connection face of uringnet: a net.Listener whose
// connections, and a Dial whose connections, are net.Conns served by io_uring event loops.
// Programs written against net (net/http, crypto/tls, gRPC) switch net.Listen to
// listener.Listen and run unchanged; the standard library's behaviour is the contract.
//
// Where io_uring cannot serve (an old kernel, a sandbox, or URINGNET_DISABLE=1), Listen and
// Dial return the standard library's own types and log that once.
//
// A goroutine blocked in Read or Write parks on a one-token channel, after announcing itself
// with an atomic flag so that the loop sends a token only to a goroutine that waits. Measured
// against a condition variable (no faster: 238–272 ns against 234–255 ns per hand-off, and it
// cannot wait on a deadline or Close at once) and a mutex hand-off (423–445 ns), the channel
// won. A send made directly by the caller where the kernel would not block halves a single
// connection's round trip (36–43 µs against 78–87 µs) but is not used yet; see
// docs/listener.md for how it is built and all the figures.
package listener
