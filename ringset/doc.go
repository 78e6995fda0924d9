// Package ringset owns uringnet's event loops: creating N rings, each on its own goroutine
// locked to its OS thread; the accept path that hands each connection to the loop a balancer
// picks by passing its direct descriptor with MSG_RING; the dispatch of completions to
// connections; the close protocol; the task queue other goroutines feed, with one wake-up per
// batch; the tick; and shutdown.
//
// # One iteration
//
// A loop runs the tasks other goroutines queued, sends for every connection that has pending
// bytes and no send in flight, then enters the kernel once: submitting everything prepared and
// waiting for the next completions, with a timeout set to the next tick (and never more than
// a second, so that a lost wake-up could only delay, never hang, a loop). It then dispatches
// the completions and hands the provided buffers it recycled back to the kernel in one store.
//
// # Wake-ups
//
// A goroutine that queues a task wakes the loop only if no wake-up is pending for the current
// batch. Another loop does it with a MSG_RING queued on its own ring (submitted with its next
// io_uring_enter); any other goroutine with the ring-less synchronous MSG_RING (Linux 6.13), or,
// where the kernel lacks that, through a small messenger ring shared under a mutex that sends
// an ordinary MSG_RING on its behalf. A loop posting to itself needs no wake. No eventfd.
//
// # Handler errors
//
// A handler that panics closes the connection it was called for (reporting the panic as the
// close error) and the loop goes on; a panic outside a connection's callbacks stops the set and
// is returned by Wait.
package ringset
