package listener

import "sync"

// chunk is a run of bytes passed between a caller's goroutine and the loop: received bytes the
// loop hands to a reader, or written bytes a writer hands to the loop. Chunks come from two
// pools by size, so a steady stream of messages allocates nothing.
type chunk struct {
	b   []byte
	off int // how far a reader has read
}

const (
	smallChunk = 4 << 10
	largeChunk = 64 << 10
)

var (
	smallChunks = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, smallChunk)} }}
	largeChunks = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, largeChunk)} }}
)

// getChunk returns an empty chunk for about n bytes.
func getChunk(n int) *chunk {
	if n <= smallChunk {
		return smallChunks.Get().(*chunk)
	}
	return largeChunks.Get().(*chunk)
}

// putChunk returns ch to its pool; one that grew past its class is left to the collector.
func putChunk(ch *chunk) {
	ch.b, ch.off = ch.b[:0], 0
	switch cap(ch.b) {
	case smallChunk:
		smallChunks.Put(ch)
	case largeChunk:
		largeChunks.Put(ch)
	}
}

// copyBufs are the buffers ReadFrom and WriteTo copy through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
