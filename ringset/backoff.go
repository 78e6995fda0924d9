package ringset

import (
	"fmt"
	"log"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// acceptBackoff holds accepts back after one failed for want of a slot, a descriptor or memory:
// armed again at once, it would fail again, as fast as the ring turns, until something frees.
type acceptBackoff struct {
	at time.Time // when held accepts may be armed again; zero when none is held
}

// acceptRetryDelay is how long a failed accept is held back.
const acceptRetryDelay = 10 * time.Millisecond

// hold reports whether an accept that failed with errno is held back (and records when it may
// be armed again); other failures are armed again at once.
func (b *acceptBackoff) hold(errno unix.Errno) bool {
	switch errno {
	case unix.ENFILE, unix.EMFILE, unix.ENOBUFS, unix.ENOMEM:
		b.at = time.Now().Add(acceptRetryDelay)
		return true
	}
	return false
}

// due reports whether held accepts may be armed again now, and forgets them if so.
func (b *acceptBackoff) due() bool {
	if b.at.IsZero() || time.Now().Before(b.at) {
		return false
	}
	b.at = time.Time{}
	return true
}

// bound shortens wait so that it ends when held accepts are due.
func (b *acceptBackoff) bound(wait time.Duration) time.Duration {
	if b.at.IsZero() {
		return wait
	}
	return min(wait, max(time.Until(b.at), 0))
}

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
