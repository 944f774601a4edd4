package ringbuf

import "fmt"

// Ring is a bounded FIFO of at most Cap elements. Push on a full Ring
// overwrites the oldest element and returns it. The zero Ring is not
// usable; call New.
//
// A Ring is not safe for concurrent use.
type Ring[T any] struct {
	buf  []T // len(buf) == capacity; live elements are buf[head:head+n] mod len
	head int // index of the oldest element
	n    int // number of live elements
}

// New returns an empty Ring that holds at most capacity elements.
// It panics when capacity is less than 1: a capacity comes from validated
// configuration, so anything else is a programming error.
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 {
		panic(fmt.Sprintf("ringbuf: New: capacity %d is less than 1", capacity))
	}
	return &Ring[T]{buf: make([]T, capacity)}
}

// Push appends v as the newest element. When the Ring was full it drops the
// oldest element to make room and returns it with ok true; otherwise it
// returns the zero T and false.
func (r *Ring[T]) Push(v T) (dropped T, ok bool) {
	if r.n == len(r.buf) {
		dropped = r.buf[r.head]
		r.buf[r.head] = v
		r.head = r.wrap(r.head + 1)
		return dropped, true
	}
	r.buf[r.wrap(r.head+r.n)] = v
	r.n++
	return dropped, false
}

// Pop removes and returns the oldest element, or the zero T and false when
// the Ring is empty. The vacated slot is zeroed so the Ring does not keep
// what it no longer holds reachable.
func (r *Ring[T]) Pop() (T, bool) {
	var zero T
	if r.n == 0 {
		return zero, false
	}
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = r.wrap(r.head + 1)
	r.n--
	return v, true
}

// Peek returns the oldest element without removing it, or the zero T and
// false when the Ring is empty.
func (r *Ring[T]) Peek() (T, bool) {
	if r.n == 0 {
		var zero T
		return zero, false
	}
	return r.buf[r.head], true
}

// Len returns the number of elements held.
func (r *Ring[T]) Len() int { return r.n }

// Cap returns the most elements the Ring holds.
func (r *Ring[T]) Cap() int { return len(r.buf) }

// Snapshot returns a copy of the elements, oldest first. It is never nil.
// The copy is shallow: elements that hold pointers share what they point to.
func (r *Ring[T]) Snapshot() []T {
	out := make([]T, r.n)
	// The live elements are at most two runs: head..end, then 0..rest.
	k := copy(out, r.buf[r.head:min(r.head+r.n, len(r.buf))])
	copy(out[k:], r.buf[:r.n-k])
	return out
}

// Clear removes every element and zeroes every slot.
func (r *Ring[T]) Clear() {
	clear(r.buf)
	r.head, r.n = 0, 0
}

// wrap maps i in [0, 2*len(buf)) to an index of buf.
func (r *Ring[T]) wrap(i int) int {
	if i >= len(r.buf) {
		return i - len(r.buf)
	}
	return i
}
