package ringset

import (
	"net"
	"os"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentBuffers counts l's read buffers of which the kernel has made any page resident
// (mincore), that is, written into at least once.
func residentBuffers(t *testing.T, l *loop) int {
	size, page := int(l.bufs.BufferSize()), os.Getpagesize()
	if size%page != 0 {
		t.Fatalf("read buffers of %d bytes are not page-aligned", size)
	}
	vec := make([]byte, size/page)
	n := 0
	for bid := range l.bufs.Entries() {
		b := l.bufs.Buffer(uint16(bid), size)
		if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
			t.Fatalf("mincore of buffer %d: %v", bid, errno)
		}
		for _, v := range vec {
			if v&1 != 0 {
				n++
				break
			}
		}
	}
	return n
}

// A server whose connections each make one small round trip, one connection at a time, then
// sit idle, has handed the kernel only its first read buffers, and only those were ever
// written: the rest of each loop's ring costs no resident memory.
func TestIdleServerKeepsFewReadBuffers(t *testing.T) {
	const conns = 1000
	s := startSet(t, Config{Loops: 2}, &echo{})
	var mu sync.Mutex
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	failed, first := eachClient(s, conns, 1, func(i int, c net.Conn) error {
		mu.Lock()
		clients = append(clients, c)
		mu.Unlock()
		return echoRoundTrip(c, 1, uint64(i))
	})
	if failed > 0 {
		t.Fatalf("%d of %d round trips failed; first: %v", failed, conns, first)
	}
	for i := range s.loops {
		onLoop(t, s, i, func(l *loop) {
			provided, resident := l.bufs.Provided(), residentBuffers(t, l)
			t.Logf("loop %d: %d of %d read buffers provided, %d resident", i, provided, l.bufs.Entries(), resident)
			if provided != initialReadBuffers || resident > initialReadBuffers {
				t.Errorf("loop %d: %d read buffers provided and %d resident, want %d and at most that", i, provided, resident, initialReadBuffers)
			}
			if l.noBuffers != 0 {
				t.Errorf("loop %d: %d receives found no buffer", i, l.noBuffers)
			}
		})
	}
}

// Many idle connections that all start sending at once need far more read buffers in one batch
// than a loop provides at start: receives that find the ring empty end with -ENOBUFS, are
// re-armed, and the ring grows, and every byte is echoed back, in order.
func TestReadBufferRingGrowsUnderBurst(t *testing.T) {
	const conns, size = 400, 32 << 10
	s := startSet(t, Config{Loops: 1, ReadBufferSize: 4 << 10, ReadBuffers: 256, Backlog: 1024}, &echo{})
	start := make(chan struct{})
	var ready sync.WaitGroup
	ready.Add(conns)
	go func() { ready.Wait(); close(start) }()
	failed, first := eachClient(s, conns, conns, func(i int, c net.Conn) error {
		defer c.Close()
		ready.Done()
		<-start
		return echoRoundTrip(c, size, uint64(i))
	})
	if failed > 0 {
		t.Fatalf("%d of %d connections failed; first: %v", failed, conns, first)
	}
	onLoop(t, s, 0, func(l *loop) {
		t.Logf("%d read buffers provided of %d (from %d); %d receives found the ring empty and were re-armed",
			l.bufs.Provided(), l.bufs.Entries(), initialReadBuffers, l.noBuffers)
		if l.bufs.Provided() <= initialReadBuffers {
			t.Errorf("the burst left the ring at %d buffers: it never grew", l.bufs.Provided())
		}
		if l.noBuffers == 0 {
			t.Error("no receive found the ring empty: the burst did not exercise -ENOBUFS")
		}
	})
}
