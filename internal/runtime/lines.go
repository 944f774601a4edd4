package runtime

import (
	"bytes"
	"errors"
)

// ErrNoOutput is returned by the runtimes' Logs when a workload has no
// output to show: it was never started, or it was removed.
var ErrNoOutput = errors.New("runtime: no output yet")

// LastLines returns the last n lines of b (n <= 0: none), and of those at
// most maxBytes, from a line start when one fits. b is the end of an
// output; whole reports whether it is all of it (else its first line may
// be a partial one and is dropped when more than a line is kept). A
// trailing line without its newline counts as a line. truncated reports
// whether lines were dropped to fit maxBytes, or b was not whole and did
// not hold n complete lines.
func LastLines(b []byte, n, maxBytes int, whole bool) (out []byte, truncated bool) {
	if n <= 0 || len(b) == 0 {
		return nil, false
	}
	// Walk back over n line ends; the last byte's newline ends the last line.
	end := len(b)
	if b[end-1] == '\n' {
		end--
	}
	start, found := 0, 0
	for i := end; found < n; {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			start = 0
			break
		}
		found++
		start, i = j+1, j
	}
	out = b[start:]
	if start == 0 && !whole {
		// The first line may have begun before b: drop it when a
		// complete one follows.
		truncated = true
		if i := bytes.IndexByte(out, '\n'); i >= 0 && i+1 < len(out) {
			out = out[i+1:]
		}
	}
	if len(out) > maxBytes {
		truncated = true
		cut := out[len(out)-maxBytes:]
		if out[len(out)-maxBytes-1] != '\n' {
			if i := bytes.IndexByte(cut, '\n'); i >= 0 && i+1 < len(cut) {
				cut = cut[i+1:]
			}
		}
		out = cut
	}
	return out, truncated
}
