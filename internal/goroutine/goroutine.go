// Package goroutine tells the calling goroutine apart from others, cheaply enough for a hot
// path: a loop asks whether it is the one calling, where a gettid system call would cost more
// than the work it guards.
package goroutine
