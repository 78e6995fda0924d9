package compat

import (
	"context"
	"net"
	"strings"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/uringnet/uringnet/ringset"
)

// Client is gnet's Client on uringnet's loops: connections it dials or enrolls are served by
// its handler on its own io_uring loops. Where io_uring cannot serve, it is gnet's client.
type Client struct {
	handler  gnet.EventHandler
	opts     *gnet.Options
	ext      extensions
	logger   logging.Logger
	eng      *engine
	b        *bridge
	fallback *gnet.Client
}

// NewClient creates a client for h with gnet's options (the server-only ones are ignored, as
// gnet ignores them), setting up gnet's logging as gnet.NewClient does.
func NewClient(h gnet.EventHandler, opts ...gnet.Option) (*Client, error) {
	opts, x := splitOptions(opts)
	cli := &Client{handler: h, opts: loadOptions(nil, opts), ext: x}
	if why := fallbackReason(cli.opts); why != nil {
		noteFallback(cli.opts, why)
		var err error
		cli.fallback, err = gnet.NewClient(h, opts...)
		return cli, err
	}
	cli.logger = useLogger(cli.opts)
	return cli, nil
}

// Start starts the client's loops (OnBoot first, then the ticker if asked for).
func (cli *Client) Start() error {
	if cli.fallback != nil {
		return cli.fallback.Start()
	}
	cli.logger.Infof("Starting uringnet (io_uring) client with %d event loops", numLoops(cli.opts))
	e := newEngine(cli.handler, cli.logger)
	cfg := config("", "", cli.opts, cli.ext)
	cfg.Balancer = ringset.LeastConnections // as gnet's client balances
	cfg.ReusePort = false
	e.client = true
	b := &bridge{eng: e, first: true}
	s, err := ringset.Prepare(cfg, b)
	if err != nil {
		return err
	}
	b.attach(s)
	e.bridges = []*bridge{b}
	if err := s.Serve(); err != nil {
		return err
	}
	e.serving.Store(true)
	cli.eng, cli.b = e, b
	if cli.opts.Ticker {
		go e.tick()
	}
	return nil
}

// Stop stops the client: OnShutdown, then every connection closes and the loops exit.
func (cli *Client) Stop() error {
	if cli.fallback != nil {
		return cli.fallback.Stop()
	}
	if cli.eng == nil {
		return errorx.ErrEmptyEngine
	}
	defer logging.Cleanup()
	cli.eng.stop()
	return cli.eng.wait()
}

// Dial connects to address and returns the connection once its OnOpen has run.
func (cli *Client) Dial(network, address string) (gnet.Conn, error) {
	return cli.DialContext(network, address, nil)
}

// DialContext is Dial with a value the connection's Context (and SafeContext) starts with.
// TCP and unix connections are dialed from the loop's ring (SOCKET and CONNECT); a UDP socket is
// connected by the standard library and enrolled, each datagram one OnTraffic, as in gnet.
func (cli *Client) DialContext(network, address string, ctx any) (gnet.Conn, error) {
	if cli.fallback != nil {
		return cli.fallback.DialContext(network, address, ctx)
	}
	if err := cli.ready(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(network, "tcp") {
		if err := keepAliveOption(cli.opts); err != nil {
			return nil, err // as gnet's client fails setting it
		}
	}
	r := <-cli.loop().dial(context.Background(), network, address, ctx)
	return r.Conn, r.Err
}

// Enroll serves an existing connection (a duplicate of its descriptor; c itself is closed).
func (cli *Client) Enroll(c net.Conn) (gnet.Conn, error) { return cli.EnrollContext(c, nil) }

// EnrollContext is Enroll with a starting context value.
func (cli *Client) EnrollContext(c net.Conn, ctx any) (gnet.Conn, error) {
	if cli.fallback != nil {
		return cli.fallback.EnrollContext(c, ctx)
	}
	defer c.Close()
	if err := cli.ready(); err != nil {
		return nil, err
	}
	if _, tcp := c.(*net.TCPConn); tcp {
		if err := keepAliveOption(cli.opts); err != nil {
			return nil, err // as gnet's client fails setting it
		}
	}
	res, err := cli.loop().enroll(c, ctx)
	if err != nil {
		return nil, err
	}
	r := <-res
	return r.Conn, r.Err
}

// ready is nil while the client takes new connections: gnet's ErrEmptyEngine before Start,
// ErrEngineInShutdown once Stop has begun.
func (cli *Client) ready() error {
	if cli.eng == nil {
		return errorx.ErrEmptyEngine
	}
	if cli.eng.stopping.Load() {
		return errorx.ErrEngineInShutdown
	}
	return nil
}

// loop is the loop the next connection is served on (least connections, as gnet's client).
func (cli *Client) loop() *eventLoop { return cli.eng.loopFor(nil) }
