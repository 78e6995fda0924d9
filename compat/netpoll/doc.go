// Package netpoll is gnet v2's pkg/netpoll Poller on io_uring: the same types, functions,
// methods, constants and errors as github.com/panjf2000/gnet/v2/pkg/netpoll on Linux, so that
// a program built on gnet's poller (OpenPoller, Polling, AddRead, AddWrite, AddReadWrite,
// ModRead, ModReadWrite, Delete, Trigger, Close) moves by changing its import path and
// nothing else. The types are gnet's own (aliases), so attachments, events and callbacks pass
// between the two packages unchanged; the priorities of Trigger stay gnet's pkg/queue's.
//
// # On io_uring
//
// Each Poller has one ring, owned by the goroutine in Polling (locked to its OS thread for
// the call). Readiness comes from POLL_ADD on the registered descriptors:
//
//   - edge-triggered registrations (EPOLLET, as gnet asks with edgeTriggered true) are one
//     multishot poll each: the kernel reports a descriptor once per wake-up (new data, room
//     to write, a hang-up) and not again while it merely stays ready, which is epoll's
//     edge-triggered rule;
//   - level-triggered ones are a one-shot poll, armed again after each report: a descriptor
//     still ready then completes the new poll during the next submission, so it is reported
//     in the next iteration as epoll_wait would report it, and one whose readiness the
//     callback consumed waits for the next wake-up.
//
// Mod* changes an armed poll in place (POLL_UPDATE, which checks readiness again as epoll's
// EPOLL_CTL_MOD does) or, when it switches between the two modes, removes it and arms the
// other kind; Delete removes it (POLL_REMOVE). Every change and re-arm of one iteration goes
// to the kernel in that iteration's one io_uring_enter, with the wait; after an iteration that
// reported descriptors that call does not wait: as gnet's epoll loop, Polling looks again at
// once and, if nothing has come, lets other goroutines run, then waits (a second call, which
// submits nothing). Under a steady load the loop's thread then seldom sleeps. Events that arrive for a
// descriptor within one iteration are reported to its callback once, as epoll's ready list
// holds a descriptor once. Completions carry a generation, so a completion of a poll that was
// since changed or removed is recognised and dropped.
//
// Trigger queues the task on gnet's own lock-free queues, with gnet's priorities (high first;
// low-priority tasks are shunted to their own queue only once the urgent one holds
// MaxPollEventsCap tasks, and at most MaxAsyncTasksAtOneTime of them run per iteration) and
// wakes the polling ring with one MSG_RING per batch: the synchronous message where the kernel
// has it, else a small messenger ring (poller.Waker). There is no eventfd.
//
// # Where io_uring cannot serve
//
// On a kernel or in a sandbox without io_uring, or with URINGNET_DISABLE=1, OpenPoller
// returns gnet's own epoll Poller behind the same methods and says why once in gnet's log.
// Backend reports which serves.
//
// # Differences
//
// A poll in flight holds a reference to its descriptor's file: closing a registered
// descriptor without Delete (which gnet's own engine always calls first) leaves the socket
// open until the poll is removed or Polling returns, where epoll forgets the descriptor when
// its file closes. Polling on two goroutines at once is refused (epoll would let both wait),
// and a Polling that returned and is called again arms every registration afresh, so an
// edge-triggered descriptor that is ready is reported once more. Close also stops a Polling
// that is waiting, where gnet's waits on until an event arrives.
package netpoll
