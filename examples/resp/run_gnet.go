//go:build gnetengine

package main

import "github.com/panjf2000/gnet/v2"

// run is gnet's own engine (epoll), for side-by-side benchmarks of the same handler.
var run = gnet.Run
