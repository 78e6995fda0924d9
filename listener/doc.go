// Package listener is the goroutine-per-connection face of uringnet: a net.Listener, and a
// Dial, whose connections are net.Conns served by Go's netpoller or by io_uring event loops,
// whichever serves them better at the moment. Programs written against net (net/http,
// crypto/tls, gRPC) switch net.Listen to listener.Listen and run unchanged; the standard
// library's behaviour is the contract.
//
// Where io_uring cannot serve (an old kernel, a sandbox, or URINGNET_DISABLE=1), Listen and
// Dial return the standard library's own types and log that once.
//
// A connection's socket is served as net serves its own (an accepted TCP connection is the
// listener's socket, its descriptor held by an os.File, whose reads and writes are net's own
// poll code; a dialed one is net's connection) while the program's goroutines run as soon as
// they are woken: then nothing is faster for a request, the thread that learns a socket is
// ready running the goroutine that waits for it. Once goroutines queue for processors, the
// processors are saturated, or connections write several times for each read (pipelined
// requests), the ring is tried, and connections move onto it where it serves better (path.go,
// trial.go): a multishot receive hands each connection's bytes to its readers and its writes
// go out in the loop's batch, many connections' in one io_uring_enter and a connection's many
// writes in one send, which costs less CPU per message than a system call each. Connections
// move back when the load is gone. Their reads and writes move at a call's start, and only
// once the other path holds nothing of theirs, so nothing is reordered or lost; every path and
// every switch is tested.
//
// On the ring, a goroutine blocked in Read or Write parks on its direction's one-token
// channel, after announcing itself with an atomic flag so that the loop sends a token only to
// a goroutine that waits; the deadline's timer, Close and the loop's close put a token there
// too, so nothing else is waited on.
//
// Listen and Dial use DefaultLoops rings, one per two processors, and the rings never poll
// for completions (ringset.Config.NeverPoll): the work is the goroutines', and a ring's loop
// gives its processor to the goroutines it woke as it waits (on Go 1.26 and later, whose
// runtime counts them), parked until they have run or the writer of a batch's 128th
// connection nudges it. GOMAXPROCS stays as the program set it. See docs/listener.md for the
// figures.
package listener
