//go:build !gnetengine

package main

import "github.com/uringnet/uringnet"

// run is the one line that differs from the gnet version of this program.
var run = uringnet.Run
