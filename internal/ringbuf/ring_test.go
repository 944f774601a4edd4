package ringbuf

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// pop is the script value that means Pop in the table tests; every other
// value is pushed.
const pop = -1

// model is the obvious bounded FIFO the Ring must behave like.
type model struct {
	cap   int
	items []int
}

func (m *model) push(v int) (int, bool) {
	m.items = append(m.items, v)
	if len(m.items) > m.cap {
		d := m.items[0]
		m.items = m.items[1:]
		return d, true
	}
	return 0, false
}

func (m *model) pop() (int, bool) {
	if len(m.items) == 0 {
		return 0, false
	}
	v := m.items[0]
	m.items = m.items[1:]
	return v, true
}

func TestNewPanics(t *testing.T) {
	for _, capacity := range []int{0, -1, -1 << 62} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				want := fmt.Sprintf("capacity %d is less than 1", capacity)
				if !strings.Contains(msg, want) || !strings.HasPrefix(msg, "ringbuf: ") {
					t.Errorf("New(%d) panicked with %v, want a message containing %q", capacity, r, want)
				}
			}()
			New[int](capacity)
			t.Errorf("New(%d) did not panic", capacity)
		})
	}
}

func TestRing(t *testing.T) {
	tests := []struct {
		name        string
		capacity    int
		script      []int
		wantDropped []int // every value Push reported dropping, in order
		wantPopped  []int // every value Pop returned, in order (pop on empty adds nothing)
		wantSnap    []int
	}{
		{name: "empty", capacity: 3, wantSnap: []int{}},
		{name: "pop on empty", capacity: 3, script: []int{pop, pop}, wantSnap: []int{}},
		{name: "under capacity", capacity: 3, script: []int{1, 2}, wantSnap: []int{1, 2}},
		{name: "exactly full", capacity: 3, script: []int{1, 2, 3}, wantSnap: []int{1, 2, 3}},
		{name: "overwrite oldest", capacity: 3, script: []int{1, 2, 3, 4, 5}, wantDropped: []int{1, 2}, wantSnap: []int{3, 4, 5}},
		{name: "capacity one", capacity: 1, script: []int{1, 2, 3}, wantDropped: []int{1, 2}, wantSnap: []int{3}},
		{name: "capacity one pop", capacity: 1, script: []int{1, pop, pop, 2}, wantPopped: []int{1}, wantSnap: []int{2}},
		{name: "fifo order", capacity: 4, script: []int{1, 2, 3, pop, pop, 4}, wantPopped: []int{1, 2}, wantSnap: []int{3, 4}},
		{name: "wrapped snapshot", capacity: 4, script: []int{1, 2, 3, pop, pop, 4, 5, 6}, wantPopped: []int{1, 2}, wantSnap: []int{3, 4, 5, 6}},
		{name: "drain after wrap", capacity: 3, script: []int{1, 2, 3, 4, pop, pop, pop, pop}, wantDropped: []int{1}, wantPopped: []int{2, 3, 4}, wantSnap: []int{}},
		{name: "zero value is a value", capacity: 2, script: []int{0, 0, 7}, wantDropped: []int{0}, wantSnap: []int{0, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New[int](tt.capacity)
			var dropped, popped []int
			for _, v := range tt.script {
				if v == pop {
					if got, ok := r.Pop(); ok {
						popped = append(popped, got)
					} else if got != 0 {
						t.Errorf("Pop() on empty = %d, false, want 0, false", got)
					}
					continue
				}
				if d, ok := r.Push(v); ok {
					dropped = append(dropped, d)
				} else if d != 0 {
					t.Errorf("Push(%d) = %d, false, want 0, false", v, d)
				}
			}
			if !slices.Equal(dropped, tt.wantDropped) {
				t.Errorf("dropped = %v, want %v", dropped, tt.wantDropped)
			}
			if !slices.Equal(popped, tt.wantPopped) {
				t.Errorf("popped = %v, want %v", popped, tt.wantPopped)
			}
			snap := r.Snapshot()
			if snap == nil || !slices.Equal(snap, tt.wantSnap) {
				t.Errorf("Snapshot() = %#v, want %#v", snap, tt.wantSnap)
			}
			if r.Len() != len(tt.wantSnap) {
				t.Errorf("Len() = %d, want %d", r.Len(), len(tt.wantSnap))
			}
			if r.Cap() != tt.capacity {
				t.Errorf("Cap() = %d, want %d", r.Cap(), tt.capacity)
			}
			got, ok := r.Peek()
			if wantOK := len(tt.wantSnap) > 0; ok != wantOK || (ok && got != tt.wantSnap[0]) {
				t.Errorf("Peek() = %d, %v, want the oldest of %v", got, ok, tt.wantSnap)
			}
		})
	}
}

// TestWrapAroundAgainstModel drives the head around the buffer many times
// with a fixed mix of pushes and pops and checks every result against model.
func TestWrapAroundAgainstModel(t *testing.T) {
	for _, capacity := range []int{1, 2, 3, 7, 64} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			r := New[int](capacity)
			m := &model{cap: capacity}
			for i := range 200 * capacity {
				// Two pushes for every pop, with a drain every so often:
				// the ring is full, partly full and empty many times.
				switch {
				case i%97 == 96:
					for r.Len() > 0 {
						got, _ := r.Pop()
						want, _ := m.pop()
						if got != want {
							t.Fatalf("step %d: drain Pop() = %d, want %d", i, got, want)
						}
					}
				case i%3 == 2:
					got, gotOK := r.Pop()
					want, wantOK := m.pop()
					if got != want || gotOK != wantOK {
						t.Fatalf("step %d: Pop() = %d, %v, want %d, %v", i, got, gotOK, want, wantOK)
					}
				default:
					got, gotOK := r.Push(i)
					want, wantOK := m.push(i)
					if got != want || gotOK != wantOK {
						t.Fatalf("step %d: Push(%d) = %d, %v, want %d, %v", i, i, got, gotOK, want, wantOK)
					}
				}
				if snap := r.Snapshot(); !slices.Equal(snap, m.items) {
					t.Fatalf("step %d: Snapshot() = %v, want %v", i, snap, m.items)
				}
				if r.Len() != len(m.items) {
					t.Fatalf("step %d: Len() = %d, want %d", i, r.Len(), len(m.items))
				}
			}
		})
	}
}

func TestPeekDoesNotRemove(t *testing.T) {
	r := New[string](2)
	r.Push("a")
	for range 3 {
		if got, ok := r.Peek(); got != "a" || !ok {
			t.Fatalf("Peek() = %q, %v, want %q, true", got, ok, "a")
		}
	}
	if r.Len() != 1 {
		t.Errorf("Len() after Peek = %d, want 1", r.Len())
	}
	if got, ok := New[string](1).Peek(); got != "" || ok {
		t.Errorf("Peek() on empty = %q, %v, want \"\", false", got, ok)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	r := New[int](3)
	r.Push(1)
	r.Push(2)
	snap := r.Snapshot()
	snap[0] = 99
	if got := r.Snapshot(); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Snapshot() after changing an earlier copy = %v, want [1 2]", got)
	}
}

// TestReleasesMemory checks that Pop and Clear zero the slots they vacate,
// so a Ring of pointers does not keep popped values reachable.
func TestReleasesMemory(t *testing.T) {
	live := func(r *Ring[*int]) int {
		n := 0
		for _, p := range r.buf {
			if p != nil {
				n++
			}
		}
		return n
	}
	r := New[*int](3)
	for i := range 5 {
		r.Push(&i)
	}
	r.Pop()
	if got := live(r); got != 2 {
		t.Errorf("non-nil slots after Pop = %d, want 2", got)
	}
	r.Clear()
	if got := live(r); got != 0 {
		t.Errorf("non-nil slots after Clear = %d, want 0", got)
	}
	if r.Len() != 0 || r.Cap() != 3 {
		t.Errorf("after Clear Len(), Cap() = %d, %d, want 0, 3", r.Len(), r.Cap())
	}
	// Still usable after Clear.
	v := 7
	r.Push(&v)
	if got, ok := r.Pop(); !ok || got != &v {
		t.Errorf("Pop() after Clear and Push = %v, %v, want %v, true", got, ok, &v)
	}
}

func BenchmarkPush(b *testing.B) {
	for _, capacity := range []int{16, 1024} {
		b.Run(fmt.Sprint(capacity), func(b *testing.B) {
			r := New[int](capacity)
			i := 0
			for b.Loop() {
				r.Push(i)
				i++
			}
		})
	}
}
