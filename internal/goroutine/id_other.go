//go:build !amd64 && !arm64

package goroutine

import "golang.org/x/sys/unix"

// ID identifies the calling goroutine by its thread, where its record cannot be read: exact for
// a goroutine locked to its thread (as a loop's is), which is what callers compare it with.
func ID() uintptr { return uintptr(unix.Gettid()) }
