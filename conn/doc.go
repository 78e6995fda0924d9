// Package conn owns one connection's state on its event loop: its direct-descriptor slot and
// generation, the inbound bytes the handler has not consumed, the outbound bytes not yet sent
// and the one send in flight, and the user's context.
//
// A Conn is touched only by its loop's goroutine, except through the loop's task queue. Its
// inbound side is zero-copy in the common case: while a handler runs, the bytes of the
// completion being handled are read straight from the provided buffer the kernel filled; only
// what the handler leaves unconsumed is copied into the connection's own buffer. Its outbound
// side is double-buffered: Write appends to the pending buffer while the kernel reads the
// in-flight one, so memory the kernel holds is never written or moved.
package conn
