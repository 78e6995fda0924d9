// Package listener is the goroutine-per-connection face of uringnet: a net.Listener whose
// connections, and a Dial whose connections, are net.Conns served by io_uring event loops.
// Programs written against net (net/http, crypto/tls, gRPC) switch net.Listen to
// listener.Listen and run unchanged; the standard library's behaviour is the contract.
//
// Where io_uring cannot serve (an old kernel, a sandbox, or URINGNET_DISABLE=1), Listen and
// Dial return the standard library's own types and log that once.
//
// A goroutine blocked in Read or Write parks on its direction's one-token channel, after
// announcing itself with an atomic flag so that the loop sends a token only to a goroutine that
// waits; the deadline's timer, Close and the loop's close put a token there too, so nothing else
// is waited on. Measured per hand-off each way: the channel 234–258 ns, a condition variable
// 238–272 ns (no faster, and it cannot stand for the deadline and Close), a mutex hand-off
// 419–445 ns, and the 4-way select used before 471–506 ns.
//
// A Write whose connection has nothing queued or in flight, on a loop where at most its own
// goroutine is busy, is a nonblocking send(2) made by the writer on a duplicate of the accepted
// socket's descriptor (reference-counted so that Close never closes it under a send): one
// connection's 64-byte round trip fell from 68.5 µs to 21.8 µs when it came (net: 14.4 µs;
// docs/listener.md has the figures since). Under load the
// loop's batched sends cost less CPU per message (6.1–8.7 µs against 8.3–10.7 µs at 1,000 echo
// connections), so busy loops keep them.
//
// Listen and Dial serve on DefaultLoops rings, one per two processors, and the rings never poll
// for completions (ringset.Config.NeverPoll): the work is the goroutines', and a polling ring
// would keep the P they need. Each running ring adds one P to GOMAXPROCS (procs.go), so that
// the ring and the goroutines it wakes do not wait for each other's P. See docs/listener.md for
// all the figures.
package listener
