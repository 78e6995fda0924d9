package main

import (
	"testing"
	"time"

	"github.com/uringnet/uringnet/benchmarks/loadgen"
)

// The RESP rows' server, examples/resp built for either engine, answers our client's commands
// as the client expects them answered: PING, SET, and GET of the value stored, 16 deep.
func TestExampleRESPAnswersTheClient(t *testing.T) {
	t.Chdir("../..") // exampleBinary builds ./examples/… from the repository's root
	t.Cleanup(removeExampleBinaries)
	o := &options{loops: 2}
	for _, engine := range []string{"uringnet", "gnet"} {
		for _, protocol := range []string{loadgen.RESPPing, loadgen.RESPSet, loadgen.RESPGet} {
			t.Run(engine+"/"+protocol, func(t *testing.T) {
				srv, addr, _, err := startExample(o, "resp", engine, false)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Kill()
				r, err := loadgen.Run(loadgen.Config{Client: "uring", Protocol: protocol, Addr: addr, Conns: 4, Size: 3, Depth: 16},
					20*time.Millisecond, 100*time.Millisecond, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.Messages == 0 {
					t.Fatal("no reply")
				}
			})
		}
	}
}
