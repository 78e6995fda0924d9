package listener

import "sync"

// chunk is a run of bytes passed between a caller's goroutine and the loop: received bytes the
// loop hands to a reader, or written bytes a writer hands to the loop. Chunks come from two
// pools by size, so a steady stream of messages allocates nothing; for that a chunk is never
// grown past its class's capacity (an append beyond it would allocate, and the grown chunk
// could not go back to a pool): more bytes than one holds go in further chunks linked behind it.
type chunk struct {
	b    []byte
	off  int    // how far a reader has read
	next *chunk // the writers' chunk that follows this one
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

// putChunk returns ch to its pool. Chunks keep their class's capacity; one that did not would
// be left to the collector.
func putChunk(ch *chunk) {
	ch.b, ch.off, ch.next = ch.b[:0], 0, nil
	switch cap(ch.b) {
	case smallChunk:
		smallChunks.Put(ch)
	case largeChunk:
		largeChunks.Put(ch)
	}
}

// copyBufs are the buffers ReadFrom and WriteTo copy through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
