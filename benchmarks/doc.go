// Package benchmarks holds uringnet's side-by-side measurements against gnet's epoll engine
// and the standard library, under one harness:
//
//   - bench: the command (make bench, make bench-full, make bench-readme) that starts the
//     servers and the load generators in processes of their own, alternates the engines,
//     repeats every point and writes results/;
//   - server: the handlers every engine runs (echo, HTTP plaintext) and the four engines;
//   - loadgen: the closed-loop, byte-verifying load generator with its latency histograms;
//   - report: results files, the markdown table, the charts and the README's section;
//   - harness: child processes, /proc measurements, the machine's description, medians.
//
// It is a module of its own (go.mod here, the library through a replace directive of ../), so
// that its plotting and histogram dependencies stay out of the library's go.mod and out of every
// program that imports uringnet; make test and make vet test and vet it as well.
//
// The mechanisms' Go benchmarks (wake-up, accept hand-off) live beside the code they measure
// (poller, ringset) and run with make bench-mech.
package benchmarks
