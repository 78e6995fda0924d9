package ringset

import (
	"errors"
	"os"
	"sync"

	"github.com/uringnet/uringnet/poller"
)

// DisableEnv names the environment variable that, set to "1", makes both entry points (the gnet
// face and the listener) fall back as if io_uring were missing: gnet's epoll engine and the
// standard net package.
const DisableEnv = "URINGNET_DISABLE"

// ErrDisabled is why a set does not run when DisableEnv is set; it matches
// poller.ErrUnavailable.
var ErrDisabled = &poller.UnavailableError{Op: "start", Err: errors.New(DisableEnv + "=1 is set")}

// Fallback says, once per process, that io_uring cannot serve one of uringnet's faces and
// what serves instead: the visible half of falling back (the other is a function reporting
// it, such as Backend). Each face has one.
type Fallback struct{ once sync.Once }

// Note logs through logf, the first time only, "uringnet: face: io_uring cannot serve (why);
// instead".
func (f *Fallback) Note(logf func(format string, args ...any), face, instead string, why error) {
	f.once.Do(func() { logf("uringnet: %s: io_uring cannot serve (%v); %s", face, why, instead) })
}

// Available reports whether a set can run on io_uring in this process: nil if so, else an
// error matching poller.ErrUnavailable that says why (DisableEnv, a kernel or sandbox that
// refuses io_uring, or a required feature missing). f is what the kernel may be assumed to have
// (nil: probe it).
func Available(f *poller.Features) error { return AvailableFor(f, Required...) }

// AvailableFor is Available for a user of rings that needs only the capabilities required
// (compat/netpoll's poller ring needs no buffer rings or descriptor passing): the same
// decision, DisableEnv included, against a shorter list.
func AvailableFor(f *poller.Features, required ...poller.Capability) error {
	if os.Getenv(DisableEnv) == "1" {
		return ErrDisabled
	}
	if f == nil {
		probed, err := poller.Probe()
		if err != nil {
			return err
		}
		f = &probed
	}
	return f.Require(required...)
}
