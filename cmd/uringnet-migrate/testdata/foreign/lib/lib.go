// Package lib is another package that wants a gnet.Engine.
package lib

import "github.com/panjf2000/gnet/v2"

// Watch keeps e.
func Watch(e gnet.Engine) {}
