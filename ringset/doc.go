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
// # Follow one byte
//
// A byte arrives in a provided buffer of the loop's buffer ring, filled by the connection's
// multishot receive (armRecv, loop_conn.go). Its completion is reaped by iterate (loop.go),
// routed by its user data (dispatch, loop.go; userdata.go says the tag) to onRecv
// (loop_conn.go), which hands the buffer's bytes to deliver: conn.Conn.Receive (conn/inbound.go)
// lends them to the connection, and the handler's OnTraffic reads them with Next or Peek;
// what it leaves unread is copied out by conn.Conn.KeepUnread before the buffer is recycled.
// The handler's reply, conn.Conn.Write (conn/conn.go), is appended to the outbound buffer
// (conn/outbound.go) and the connection put on the loop's send list (ScheduleSend). At the end
// of the batch and before the next wait, flushSends prepares one send per connection with the
// whole of what is pending (prepSend, with conn.Conn.NextSend), and the iteration's one
// io_uring_enter (enter, faults.go) submits it; its completion (onSend) releases what was sent
// and schedules the rest, if any.
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
