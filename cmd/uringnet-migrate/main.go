// Command uringnet-migrate rewrites a gnet v2 program to run on uringnet with the same
// behaviour: what the one-line change (gnet.Run to uringnet.Run) cannot carry, because gnet's
// types cannot be made outside gnet.
//
//	go run github.com/uringnet/uringnet/cmd/uringnet-migrate@latest ./...       # what it would change
//	go run github.com/uringnet/uringnet/cmd/uringnet-migrate@latest -fix ./...  # change it
//	go vet -vettool=$(which uringnet-migrate) ./...
//
// See the migrate package for what it rewrites and what it leaves to a person.
package main

import (
	"github.com/uringnet/uringnet/cmd/uringnet-migrate/migrate"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(migrate.Analyzer) }
