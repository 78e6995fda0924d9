package ringset

import (
	"net"
	"unsafe"

	"github.com/uringnet/uringnet/fdbridge"
	"golang.org/x/sys/unix"
)

// peerAddr is where the kernel writes a peer's address at an accept's completion.
type peerAddr struct {
	sa  unix.RawSockaddrAny
	len uint32
}

// tcpAddr is the address the kernel wrote at the accept's completion, nil if it is not an
// IPv4 or IPv6 one (a unix socket's peer).
func (p *peerAddr) tcpAddr() *net.TCPAddr {
	if p.len < uint32(unsafe.Sizeof(unix.RawSockaddrInet4{})) {
		return nil
	}
	return fdbridge.TCPAddrFromRaw(&p.sa)
}

// acceptAddrs is the address storage of the acceptor's accepts, or of a loop's own (ReusePort):
// each accept armed takes an entry, which the kernel may write until the accept's completion,
// and gives it back when that completion is dispatched. An entry is never shared: after
// dropped completions fresh accepts are armed while old ones' completions may still come (from
// the kernel's overflow list), and a fresh accept writing its peer where an old completion is
// yet to read its own would give that connection another's address. The entry of a completion
// that was lost is never given back; that costs an entry (under 200 bytes) per lost accept,
// and the kernel loses completions only when it has no memory left for them.
type acceptAddrs struct {
	entries []*peerAddr // each on the heap, where it stays for its owner's life
	free    []uint32
}

// take returns the index of an entry no accept in flight holds.
func (s *acceptAddrs) take() uint32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		return i
	}
	s.entries = append(s.entries, new(peerAddr))
	return uint32(len(s.entries) - 1)
}

// entry is entry i: for the kernel to write while its accept is in flight, then to read.
func (s *acceptAddrs) entry(i uint32) *peerAddr { return s.entries[i] }

// give frees entry i, whose accept has completed.
func (s *acceptAddrs) give(i uint32) { s.free = append(s.free, i) }
