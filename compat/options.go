package compat

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"runtime"
	"strings"

	"github.com/panjf2000/gnet/v2"
	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/uringnet/uringnet/ringset"
	"golang.org/x/sys/unix"
)

// gnet's buffer defaults (gnet.MaxStreamBufferCap, and its ring buffer's smallest size).
const (
	defaultBufferCap = 64 << 10
	minBufferCap     = 1 << 10
	// readBufferMemory bounds a loop's provided buffers: the count is chosen so that count
	// times ReadBufferCap stays near this.
	readBufferMemory = 8 << 20
)

// loadOptions applies opts (gnet's, without uringnet's: see splitOptions) to gnet's Options and normalises them as gnet.Run does: buffer caps
// rounded up to powers of two with gnet's floor and default, ReusePort off for unix sockets
// and forced for UDP, EdgeTriggeredIO off for UDP.
func loadOptions(networks []string, opts []gnet.Option) *gnet.Options {
	o := new(gnet.Options)
	for _, opt := range opts {
		opt(o)
	}
	o.ReadBufferCap = bufferCap(o.ReadBufferCap)
	o.WriteBufferCap = bufferCap(o.WriteBufferCap)
	hasUDP := false
	for _, n := range networks {
		if n == "unix" {
			o.ReusePort = false
		}
		hasUDP = hasUDP || strings.HasPrefix(n, "udp")
	}
	if hasUDP { // whatever else is listed, as gnet decides
		o.ReusePort, o.EdgeTriggeredIO = true, false
	}
	return o
}

func bufferCap(c int) int {
	switch {
	case c <= 0:
		return defaultBufferCap
	case c <= minBufferCap:
		return minBufferCap
	}
	p := 1
	for p < c {
		p <<= 1
	}
	return p
}

// numLoops is gnet's event-loop count: one, or the CPU count with Multicore, or NumEventLoop
// when set; at most ringset.MaxLoops (gnet's own cap, 256).
func numLoops(o *gnet.Options) int {
	n := 1
	if o.Multicore {
		n = runtime.NumCPU()
	}
	if o.NumEventLoop > 0 {
		n = o.NumEventLoop
	}
	return min(n, ringset.MaxLoops)
}

// unsupported says which options only gnet's own engine serves (nil when none): Run falls back
// to it for them rather than ignore them.
func unsupported(o *gnet.Options) error {
	switch {
	case o.BindToDevice != "":
		return errors.New("option BindToDevice")
	case o.MulticastInterfaceIndex != 0:
		return errors.New("option MulticastInterfaceIndex")
	}
	return nil
}

// config is the ringset configuration for one address under o.
func config(network, address string, o *gnet.Options, x extensions) ringset.Config {
	rb := uint32(o.ReadBufferCap)
	return ringset.Config{
		Movable:          true, // gnet.Conn is reached only through itself; Move and the rebalancer may move it
		ReportCloseFirst: true, // gnet's OnClose may still write
		Rebalance:        x.rebalance,
		NeverPoll:        x.neverPoll,
		Network:          network,
		Address:          address,
		Loops:            numLoops(o),
		Balancer:         balancer(o.LB),
		ReusePort:        o.ReusePort && network != "unix", // as gnet: no SO_REUSEPORT on a unix socket
		ReadBufferSize:   rb,
		ReadBuffers:      uint32(max(64, min(512, readBufferMemory/int(rb)))),
		TCPDelay:         o.TCPNoDelay == gnet.TCPDelay,
		SocketOptions:    socketOptions(o),
	}
}

func balancer(lb gnet.LoadBalancing) ringset.Balancer {
	switch lb {
	case gnet.LeastConnections:
		return ringset.LeastConnections
	case gnet.SourceAddrHash:
		return ringset.SourceAddrHash
	}
	return ringset.RoundRobin
}

// socketOptions are gnet's per-connection socket options, set once on the listener (Linux
// copies them to every accepted socket) and on every dialed socket. Keep-alive timings follow
// gnet's rule (keepAlive); invalid ones are left out here and reported by keepAliveOption.
func socketOptions(o *gnet.Options) []ringset.SocketOption {
	var opts []ringset.SocketOption
	add := func(level, name, v int) {
		opts = append(opts, ringset.SocketOption{Level: level, Name: name, Value: int32(v)})
	}
	if o.TCPKeepAlive > 0 {
		add(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		if idle, intvl, cnt, err := keepAlive(o.TCPKeepAlive, o.TCPKeepInterval, o.TCPKeepCount); err == nil {
			add(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, idle)
			add(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, intvl)
			add(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, cnt)
		}
	}
	if o.SocketRecvBuffer > 0 {
		add(unix.SOL_SOCKET, unix.SO_RCVBUF, o.SocketRecvBuffer)
	}
	if o.SocketSendBuffer > 0 {
		add(unix.SOL_SOCKET, unix.SO_SNDBUF, o.SocketSendBuffer)
	}
	return opts
}

// parseProtoAddr splits "tcp://host:port" or "unix:///path" as gnet does, with gnet's errors.
func parseProtoAddr(protoAddr string) (network, address string, err error) {
	u, err := url.Parse(strings.ReplaceAll(protoAddr, "%", "%25"))
	if err != nil {
		return "", "", fmt.Errorf("uringnet: address %q: %w", protoAddr, err)
	}
	switch {
	case u.Scheme == "":
		return "", "", errorx.ErrInvalidNetworkAddress
	case ringset.IsTCP(u.Scheme) || ringset.IsUDP(u.Scheme):
		if u.Host == "" || u.Path != "" {
			return "", "", errorx.ErrInvalidNetworkAddress
		}
		return u.Scheme, u.Host, nil
	case u.Scheme == "unix":
		p := path.Join(u.Host, u.Path)
		if p == "" {
			return "", "", errorx.ErrInvalidNetworkAddress
		}
		return u.Scheme, p, nil
	}
	return "", "", errorx.ErrUnsupportedProtocol
}
