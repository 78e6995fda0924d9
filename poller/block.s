// Present so that the compiler accepts block.go's functions without bodies: the linker takes
// them from the runtime (go:linkname).
