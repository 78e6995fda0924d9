// Package poolbench measures the byte-buffer pools written by hand in uringnet against
// github.com/valyala/bytebufferpool, the pool gnet takes its buffers from: ReadFrom's 16 KiB
// copy buffer (compat), the listener's size-classed chunks, and a connection's outbound
// buffers. It has no code of its own, only benchmarks (go test -bench . ./internal/poolbench);
// docs/engine.md records what they showed and which pool each use keeps.
package poolbench
