// Package compat runs gnet v2 applications on uringnet's io_uring loops. It owns everything
// gnet-shaped: turning []gnet.Option into a ringset.Config with gnet's defaults and rules, the
// connection type that satisfies gnet.Conn and the loop type that satisfies gnet.EventLoop,
// calling a gnet.EventHandler with gnet's threading and buffer semantics, errors from
// gnet/v2/pkg/errors, the client, and the fallback to gnet.Run (epoll) when io_uring cannot
// serve.
//
// # The one difference
//
// gnet.Engine cannot be constructed outside gnet, so OnBoot and OnShutdown receive
// gnet.Engine{}, whose methods report gnet's ErrEmptyEngine. The engine is reached instead as
// an Engine from EngineOf(handler) (or EngineFor(protoAddr)), which answers as gnet's would at
// every stage of its life, and Stop(ctx, protoAddr) stops it as gnet.Stop does.
//
// # Threading
//
// As in gnet: every listener is bound, then OnBoot runs, before anything is served; OnOpen,
// OnTraffic and OnClose run on the connection's loop (OnClose as the close begins); OnTick on a
// goroutine of its own; OnShutdown once, before any connection closes. Conn.Close, AsyncWrite,
// Wake and CloseWithCallback queue their work for the loop (so Close in a callback takes effect
// after it returns, as in gnet); Write from another goroutine is queued too; the gnet.Socket
// methods may be called from any goroutine, and run on the connection's loop.
package compat
