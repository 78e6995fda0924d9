package ringset

import (
	"fmt"
	"log"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// backoff holds accepts (the acceptor's, a loop's own) or a loop's datagram receive back after
// one failed in a way that would fail again at once (no slot, no descriptor, no memory, a socket
// gone): armed again at once, it would fail as fast as the ring turns, until something frees.
// The acceptor holds all its accepts then, not only the one that failed: what one ran out of,
// the others would.
type backoff struct {
	at time.Time // when the held operation may be armed again; zero when none is held
}

// retryDelay is how long a failed operation is held back.
const retryDelay = 10 * time.Millisecond

// hold reports whether an accept that failed with errno is held back (and records when it may
// be armed again); other failures are armed again at once.
func (b *backoff) hold(errno unix.Errno) bool {
	switch errno {
	case unix.ENFILE, unix.EMFILE, unix.ENOBUFS, unix.ENOMEM:
		b.holdNow()
		return true
	}
	return false
}

// holdNow holds the operation back, whatever its failure.
func (b *backoff) holdNow() { b.at = time.Now().Add(retryDelay) }

// holding reports whether an operation is still held back; a hold whose time has come is
// forgotten.
func (b *backoff) holding() bool { return !b.due() && !b.at.IsZero() }

// due reports whether the held operation may be armed again now, and forgets it if so.
func (b *backoff) due() bool {
	if b.at.IsZero() || time.Now().Before(b.at) {
		return false
	}
	b.at = time.Time{}
	return true
}

// bound shortens wait so that it ends when the held operation is due.
func (b *backoff) bound(wait time.Duration) time.Duration {
	if b.at.IsZero() {
		return wait
	}
	return min(wait, max(time.Until(b.at), 0))
}

// failureLog logs the failures that can repeat for every connection or datagram that arrives.
var failureLog rateLog

// rateLog logs a failure that can repeat for every connection that arrives (a full table, no
// memory) at most once a second, with how many it held back since.
type rateLog struct {
	mu   sync.Mutex
	last time.Time
	held int
}

func (r *rateLog) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.held++
		return
	}
	r.last = now
	if r.held > 0 {
		format += fmt.Sprintf(" (and %d more like it)", r.held)
		r.held = 0
	}
	log.Printf(format, args...)
}
