// Package poller is uringnet's binding of the Linux io_uring interface, in pure Go over
// golang.org/x/sys/unix.
//
// It owns the kernel interface and nothing else: setting a ring up and tearing it down, the
// mmap'd submission and completion queues, one small function per operation that fills a
// submission queue entry (read them like liburing's io_uring_prep_* helpers), submitting and
// waiting, walking completions, provided-buffer rings, the fixed-file table, the ring-less
// synchronous message (and the Waker that stands in for it below Linux 6.13), and probing which features the running kernel has. It knows nothing of
// connections, loops or handlers.
//
// # Ownership
//
// A Ring has one owner: the goroutine that enables it, locked to its OS thread with
// runtime.LockOSThread. Only the owner gets SQEs, submits, reaps and registers resources. A
// ring set up with SetupSingleIssuer refuses submissions from any other thread (the kernel
// answers EEXIST, returned as an error); the others are not checked and must not be shared.
// The one thing any goroutine may do with a ring is post a completion to it with
// SendMsgRingSync, which goes through the kernel, not through the ring's memory.
//
// # Memory handed to the kernel
//
// The kernel holds the addresses that prep functions store in an SQE as integers, which the
// Go garbage collector cannot see. Prep functions force such memory onto the heap so that it
// never moves, but keeping it reachable is the caller's job: until the SQE is submitted for
// memory the kernel copies at submission (socket addresses, message headers, timespecs), and
// until the operation's last completion for memory the kernel reads or writes while it runs
// (send and receive buffers, iovecs).
package poller
