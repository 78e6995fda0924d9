//go:build amd64 || arm64

package goroutine

// ID identifies the calling goroutine among those running: the address of the runtime's record
// of it, read from where the runtime keeps it (a register, or thread-local storage). Two
// goroutines alive at once never share it; a record is reused only after its goroutine ends.
func ID() uintptr
