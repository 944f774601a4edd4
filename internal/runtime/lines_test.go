package runtime

import "testing"

func TestLastLines(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		n, max    int
		whole     bool
		want      string
		truncated bool
	}{
		{"all of a short output", "a\nb\n", 10, 100, true, "a\nb\n", false},
		{"last two", "a\nb\nc\n", 2, 100, true, "b\nc\n", false},
		{"no trailing newline", "a\nb\nc", 2, 100, true, "b\nc", false},
		{"zero lines", "a\n", 0, 100, true, "", false},
		{"empty", "", 5, 100, true, "", false},
		{"bytes cut at a line", "aaaa\nbb\ncc\n", 3, 7, true, "bb\ncc\n", true},
		{"bytes cut inside the only line", "abcdefgh\n", 1, 4, true, "fgh\n", true},
		{"partial first line dropped", "xx\nb\nc\n", 5, 100, false, "b\nc\n", true},
		{"enough lines in a partial read", "xx\nb\nc\n", 2, 100, false, "b\nc\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tr := LastLines([]byte(tt.in), tt.n, tt.max, tt.whole)
			if string(got) != tt.want || tr != tt.truncated {
				t.Errorf("LastLines(%q, %d, %d, %v) = %q, %v, want %q, %v", tt.in, tt.n, tt.max, tt.whole, got, tr, tt.want, tt.truncated)
			}
		})
	}
}
