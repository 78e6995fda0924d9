package conn

import (
	"io"
	"math"
)

// inbound holds received bytes the handler has not consumed: a borrowed view of the completion
// being handled, or, once something was left over, an owned buffer. Never both: new bytes
// arriving while leftovers wait are appended to the owned buffer, so a read never spans two.
type inbound struct {
	view []byte // borrowed from the loop's provided buffer; valid until the callback returns
	buf  []byte // owned leftovers, unread from head on
	// head and wanted are 32 bits wide, which keeps a connection in its size class: leftovers
	// are bounded by the inbound limit, and wanted saturates (see Peek).
	head int32
	// wanted is the most a Peek or Next asked for and did not get: a framed protocol waiting for
	// a whole message. The loop lets the connection buffer at least that much.
	wanted int32
}

// Buffered is how many unconsumed bytes there are.
func (in *inbound) Buffered() int {
	if in.view != nil {
		return len(in.view)
	}
	return len(in.buf) - int(in.head)
}

func (in *inbound) bytes() []byte {
	if in.view != nil {
		return in.view
	}
	return in.buf[in.head:]
}

// Peek returns the next n bytes without consuming them (all of them when n <= 0), or nil and
// io.ErrShortBuffer when fewer than n are buffered, as gnet does. The slice is valid until the
// handler returns.
func (in *inbound) Peek(n int) ([]byte, error) {
	b := in.bytes()
	if n <= 0 {
		return b, nil
	}
	if n > len(b) {
		in.wanted = max(in.wanted, int32(min(n, math.MaxInt32)))
		return nil, io.ErrShortBuffer
	}
	return b[:n], nil
}

// Next is Peek that consumes what it returns.
func (in *inbound) Next(n int) ([]byte, error) {
	b, err := in.Peek(n)
	if err != nil {
		return nil, err
	}
	in.Discard(len(b))
	return b, nil
}

// Discard drops the next n bytes (all of them when n <= 0 or n exceeds what is buffered) and
// returns how many it dropped.
func (in *inbound) Discard(n int) int {
	have := in.Buffered()
	if n <= 0 || n > have {
		n = have
	}
	if n > 0 {
		in.wanted = 0
	}
	if in.view != nil {
		in.view = in.view[n:]
		return n
	}
	in.head += int32(n)
	if int(in.head) == len(in.buf) {
		in.buf, in.head = in.buf[:0], 0
	}
	return n
}

// Read copies into p and consumes what it copied; io.EOF never: an empty buffer reads 0.
func (in *inbound) Read(p []byte) int {
	n := copy(p, in.bytes())
	in.Discard(n)
	return n
}

// receive makes data (a completion's bytes, borrowed) readable: as a view when nothing is left
// over, else appended to the owned leftovers.
func (in *inbound) receive(data []byte) {
	if int(in.head) == len(in.buf) {
		in.buf, in.head = in.buf[:0], 0
		in.view = data
		return
	}
	in.compact()
	in.buf = append(in.buf, data...)
}

// keepUnread ends a callback: what is left of the borrowed view is copied into owned memory,
// because the loop recycles the provided buffer next.
func (in *inbound) keepUnread() {
	if in.view == nil {
		return
	}
	if len(in.view) > 0 {
		in.buf = append(in.buf[:0], in.view...)
		in.head = 0
	}
	in.view = nil
}

// compact moves the unread bytes to the front once the consumed prefix is the larger part.
func (in *inbound) compact() {
	if head := int(in.head); head > 0 && head >= len(in.buf)-head {
		n := copy(in.buf, in.buf[in.head:])
		in.buf, in.head = in.buf[:n], 0
	}
}

// release drops every byte and the owned buffer.
func (in *inbound) release() { *in = inbound{} }
