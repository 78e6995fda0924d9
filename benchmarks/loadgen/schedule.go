package loadgen

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// schedule is a connection's clock at a fixed offered load: a timer descriptor that Go's
// netpoller waits on. A fixed load falls due every few tens of microseconds on one connection,
// and Go's own timers wake up to a millisecond late while the program has nothing else to run
// (the runtime then waits for them in whole milliseconds, and a wait under one becomes one):
// batches would go out a millisecond at a time in bursts, and the latency charged from when
// each was due would measure the load generator's clock, not the server. The kernel fires the
// descriptor's timer to the microsecond and wakes the netpoller's wait at once; the goroutine
// waiting holds no processor, so many connections' waits do not delay one another, as a
// sleeping system call's would.
type schedule struct {
	fd int
	f  *os.File // the descriptor, registered with the netpoller
}

func newSchedule() (*schedule, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: timerfd_create: %w", err)
	}
	return &schedule{fd: fd, f: os.NewFile(uintptr(fd), "schedule")}, nil
}

// waitUntil returns at due, or at once if due has passed.
func (s *schedule) waitUntil(due time.Time) error {
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	when := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(wait))}
	if err := unix.TimerfdSettime(s.fd, 0, &when, nil); err != nil {
		return fmt.Errorf("loadgen: timerfd_settime: %w", err)
	}
	var expirations [8]byte
	if _, err := s.f.Read(expirations[:]); err != nil {
		return fmt.Errorf("loadgen: waiting for the schedule: %w", err)
	}
	return nil
}

func (s *schedule) close() { s.f.Close() }
