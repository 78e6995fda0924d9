package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/uringnet/uringnet/conn"
	"github.com/uringnet/uringnet/ringset"
)

// serve runs one echo server until its standard input closes (the parent's end), printing its
// address first.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	engine := fs.String("engine", "uringnet", "uringnet or gnet")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	loops := fs.Int("loops", 1, "event loops")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server here")
	readBuffers := fs.Uint("readbuffers", 0, "uringnet: provided buffers per loop (0: the default)")
	readBufSize := fs.Uint("readbufsize", 0, "uringnet: bytes per provided buffer (0: the default)")
	fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	parentGone := make(chan struct{})
	go func() { io.Copy(io.Discard, bufio.NewReader(os.Stdin)); close(parentGone) }()

	switch *engine {
	case "uringnet":
		s, err := ringset.Start(ringset.Config{Network: "tcp", Address: *addr, Loops: *loops,
			ReadBuffers: uint32(*readBuffers), ReadBufferSize: uint32(*readBufSize)}, ringEcho{})
		if err != nil {
			return err
		}
		fmt.Printf("ADDR %s\n", s.Addr())
		<-parentGone
		s.Stop()
		return s.Wait()
	case "gnet":
		// gnet cannot listen on port 0 and report the port: pick a free one first.
		ln, err := freePort(*addr)
		if err != nil {
			return err
		}
		h := &gnetEcho{ready: make(chan struct{})}
		errc := make(chan error, 1)
		go func() {
			errc <- gnet.Run(h, "tcp://"+ln, gnet.WithMulticore(*loops > 1), gnet.WithNumEventLoop(*loops))
		}()
		select {
		case <-h.ready:
		case err := <-errc:
			return err
		}
		fmt.Printf("ADDR %s\n", ln)
		<-parentGone
		return h.eng.Stop(contextWithTimeout(5 * time.Second))
	}
	return fmt.Errorf("unknown engine %q", *engine)
}

// ringEcho is the echo handler on uringnet's engine.
type ringEcho struct{}

func (ringEcho) OnBoot(*ringset.Set) ringset.Action         { return ringset.None }
func (ringEcho) OnShutdown(*ringset.Set)                    {}
func (ringEcho) OnOpen(*conn.Conn) ([]byte, ringset.Action) { return nil, ringset.None }
func (ringEcho) OnClose(*conn.Conn, error) ringset.Action   { return ringset.None }
func (ringEcho) OnTick() (time.Duration, ringset.Action)    { return 0, ringset.None }
func (ringEcho) OnTraffic(c *conn.Conn) ringset.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return ringset.None
}

// gnetEcho is the same echo handler on gnet.
type gnetEcho struct {
	gnet.BuiltinEventEngine
	eng   gnet.Engine
	ready chan struct{}
}

func (h *gnetEcho) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = e
	close(h.ready)
	return gnet.None
}

func (h *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	b, _ := c.Next(-1)
	c.Write(b)
	return gnet.None
}
