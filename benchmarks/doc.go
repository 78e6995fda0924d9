// Package benchmarks holds uringnet's side-by-side measurements against gnet's epoll engine
// and the standard library. Each tool lives in its own command below this folder; see the
// README's performance section for how to run them.
package benchmarks
