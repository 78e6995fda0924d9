package compat

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/uringnet/uringnet/poller"
	"github.com/uringnet/uringnet/ringset"
)

// maxLockedLoops is gnet's bound on event loops under WithLockOSThread: the Go runtime's
// default limit of 10,000 OS threads.
const maxLockedLoops = 10000

// Run serves protoAddr with h on io_uring, exactly as gnet.Run would serve it on epoll; it
// returns when the engine stops. Where io_uring cannot serve, it says why once and runs
// gnet.Run.
func Run(h gnet.EventHandler, protoAddr string, opts ...gnet.Option) error {
	return Rotate(h, []string{protoAddr}, opts...)
}

// Rotate serves several addresses with one handler, as gnet.Rotate does.
func Rotate(h gnet.EventHandler, addrs []string, opts ...gnet.Option) error {
	var networks, hosts []string
	for _, a := range addrs {
		n, host, err := parseProtoAddr(a)
		if err != nil {
			return err
		}
		networks, hosts = append(networks, n), append(hosts, host)
	}
	opts, x := splitOptions(opts)
	o := loadOptions(networks, opts)
	if err := fallbackReason(o); err != nil {
		return runFallback(h, addrs, o, opts, err)
	}
	logger := useLogger(o)
	defer logging.Cleanup()
	if o.LockOSThread && o.NumEventLoop > maxLockedLoops {
		logger.Errorf("too many event-loops under LockOSThread mode, should be less than 10,000 "+
			"while you are trying to set up %d\n", o.NumEventLoop)
		return errorx.ErrTooManyEventLoopThreads
	}
	if slices.ContainsFunc(networks, func(n string) bool { return strings.HasPrefix(n, "tcp") }) {
		if err := keepAliveOption(o); err != nil {
			return err // gnet's Run fails on its TCP listener
		}
	}
	warnEngineFields(h, logger)
	e := newEngine(h, logger)
	for i := range addrs {
		if networks[i] == "unix" {
			// As gnet: whatever is at the path goes, such as the socket a crashed server left.
			os.RemoveAll(hosts[i])
		}
		b := &bridge{eng: e, first: i == 0, network: gnetNetwork(networks[i]), address: hosts[i]}
		s, err := ringset.Prepare(config(networks[i], hosts[i], o, x), b)
		if err != nil {
			for _, b := range e.bridges {
				b.set.Abandon()
			}
			if i == 0 && errors.Is(err, poller.ErrUnavailable) {
				// The probe passed but a ring could not be set up (memory lock limit, say).
				return runFallback(h, addrs, o, opts, err)
			}
			return err
		}
		b.attach(s)
		e.bridges = append(e.bridges, b)
	}
	register(h, addrs, e)
	defer unregister(h, addrs, e)
	logger.Infof("Launching uringnet (io_uring) with %d event-loops, listening on: %s", numLoops(o), strings.Join(addrs, " | "))
	if err := e.serve(); err != nil {
		if errors.Is(err, ringset.ErrBootShutdown) {
			return nil // OnBoot asked to shut down: gnet returns at once, without an error
		}
		return err
	}
	if o.Ticker {
		go e.tick()
	}
	return e.wait()
}

// gnetNetwork is the network name gnet gives a listener ("tcp", "udp" or "unix"), which
// DupListener is asked with.
func gnetNetwork(network string) string {
	switch {
	case strings.HasPrefix(network, "tcp"):
		return "tcp"
	case strings.HasPrefix(network, "udp"):
		return "udp"
	}
	return network
}

// useLogger sets up gnet's logging as gnet.Run does (WithLogger, else a file at WithLogPath,
// else gnet's default logger) and returns the logger the engine uses.
func useLogger(o *gnet.Options) logging.Logger {
	logger, flusher := logging.GetDefaultLogger(), logging.GetDefaultFlusher()
	if o.Logger == nil {
		if o.LogPath != "" {
			logger, flusher, _ = logging.CreateLoggerAsLocalFile(o.LogPath, o.LogLevel)
		}
		o.Logger = logger
	} else {
		logger, flusher = o.Logger, nil
	}
	logging.SetDefaultLoggerAndFlusher(logger, flusher)
	return logger
}

// fallbackReason says why gnet's own engine must serve (nil when io_uring can).
func fallbackReason(o *gnet.Options) error {
	if err := ringset.Available(nil); err != nil {
		return err
	}
	return unsupported(o)
}

// runFallback serves with gnet's epoll engine, saying why once.
func runFallback(h gnet.EventHandler, addrs []string, o *gnet.Options, opts []gnet.Option, why error) error {
	noteFallback(o, why)
	for _, a := range addrs {
		engines.Store(a, fallbackEngine{})
	}
	defer func() {
		for _, a := range addrs {
			engines.CompareAndDelete(a, fallbackEngine{})
		}
	}()
	return gnet.Rotate(h, addrs, opts...)
}

var fallback ringset.Fallback

// noteFallback logs, once per process, that gnet's epoll engine serves instead and why:
// through the application's logger when it set one, else gnet's default logger.
func noteFallback(o *gnet.Options, why error) {
	logger := o.Logger
	if logger == nil {
		logger = logging.GetDefaultLogger()
	}
	fallback.Note(logger.Warnf, "gnet", "running gnet's epoll engine", why)
}

// Backend names the engine Run would use in this process: "io_uring", or "epoll" with the
// reason io_uring cannot serve.
func Backend() (string, error) {
	if err := ringset.Available(nil); err != nil {
		return "epoll", err
	}
	return "io_uring", nil
}
