package poolbench

import (
	"sync"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// Each benchmark has the hand-written pool's pattern as it is in the package that uses it
// (handPool) and the same use on a bytebufferpool.Pool of its own (bytebufferpool), run on one
// goroutine and on GOMAXPROCS at once.

// run runs op as a sequential and a parallel sub-benchmark.
func run(b *testing.B, name string, op func()) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			op()
		}
	})
	b.Run(name+"-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				op()
			}
		})
	})
}

// sink keeps the compiler from dropping the touches of a buffer.
var sink byte

// ReadFrom's copy buffer (compat/conn.go): 16 KiB taken for one call, read into, given back.
const copySize = 16 << 10

var (
	copyArrays = sync.Pool{New: func() any { return new([copySize]byte) }}
	copyBBP    bytebufferpool.Pool
)

func BenchmarkReadFromBuffer(b *testing.B) {
	run(b, "handPool", func() {
		buf := copyArrays.Get().(*[copySize]byte)
		buf[0]++
		sink += buf[copySize-1]
		copyArrays.Put(buf)
	})
	run(b, "bytebufferpool", func() {
		bb := copyBBP.Get()
		if cap(bb.B) < copySize {
			bb.B = make([]byte, copySize)
		}
		buf := bb.B[:copySize]
		buf[0]++
		sink += buf[copySize-1]
		bb.B = buf // Put calibrates on the length
		copyBBP.Put(bb)
	})
}

// The listener's chunks (listener/buffers.go): two size classes, 4 KiB and 64 KiB, each a
// sync.Pool of chunks that never grow past their class; a reader's or writer's n bytes go into
// one. The mix here is a stream of small messages with one large write in sixteen.
type chunk struct {
	b    []byte
	off  int
	next *chunk
}

const (
	smallChunk = 4 << 10
	largeChunk = 64 << 10
)

var (
	smallChunks = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, smallChunk)} }}
	largeChunks = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, largeChunk)} }}
	smallBBP    bytebufferpool.Pool
	largeBBP    bytebufferpool.Pool
	mixedBBP    bytebufferpool.Pool
)

var message, bulk = make([]byte, 64), make([]byte, 32<<10)

func BenchmarkListenerChunks(b *testing.B) {
	var mu sync.Mutex
	n := 0
	// payload returns the next write of the mix: a 32 KiB one in sixteen, else 64 bytes.
	payload := func() []byte {
		mu.Lock()
		n++
		big := n%16 == 0
		mu.Unlock()
		if big {
			return bulk
		}
		return message
	}
	run(b, "handPool", func() {
		p := payload()
		var ch *chunk
		if len(p) <= smallChunk {
			ch = smallChunks.Get().(*chunk)
		} else {
			ch = largeChunks.Get().(*chunk)
		}
		ch.b = append(ch.b, p...)
		sink += ch.b[len(ch.b)-1]
		ch.b, ch.off, ch.next = ch.b[:0], 0, nil
		switch cap(ch.b) {
		case smallChunk:
			smallChunks.Put(ch)
		case largeChunk:
			largeChunks.Put(ch)
		}
	})
	// The same two classes, each a bytebufferpool.Pool.
	run(b, "bytebufferpool-classes", func() {
		p := payload()
		pool := &smallBBP
		if len(p) > smallChunk {
			pool = &largeBBP
		}
		bb := pool.Get()
		bb.B = append(bb.B, p...)
		sink += bb.B[len(bb.B)-1]
		pool.Put(bb)
	})
	// One bytebufferpool.Pool for every size, as gnet uses it: it calibrates its default and
	// largest kept size to the mix.
	run(b, "bytebufferpool-one", func() {
		p := payload()
		bb := mixedBBP.Get()
		bb.B = append(bb.B, p...)
		sink += bb.B[len(bb.B)-1]
		mixedBBP.Put(bb)
	})
}

// A connection's outbound buffers (conn/outbound.go): the two buffers an echo's writes append
// to, kept for the connection's life and dropped at its close. Per op here: one connection
// opens, echoes sixteen 64-byte messages, and closes.
var outBBP bytebufferpool.Pool

func BenchmarkOutboundPerConnection(b *testing.B) {
	run(b, "append-and-drop", func() {
		var pending, flight []byte
		for i := 0; i < 16; i++ {
			pending = append(pending, message...)
			flight, pending = pending, flight[:0]
			sink += flight[len(flight)-1]
		}
	})
	run(b, "bytebufferpool", func() {
		pending, flight := outBBP.Get(), outBBP.Get()
		for i := 0; i < 16; i++ {
			pending.B = append(pending.B, message...)
			flight, pending = pending, flight
			pending.B = pending.B[:0]
			sink += flight.B[len(flight.B)-1]
		}
		outBBP.Put(pending)
		outBBP.Put(flight)
	})
}
