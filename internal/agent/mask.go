package agent

import (
	"cmp"
	"slices"
	"strings"
)

// maskMinLen is the shortest env value masked for its own sake: a value
// of one to three characters ("1", "on", "eu") would turn every such
// substring of the text into "***" and hide what the text says while
// protecting little. A value whose key looks secret is masked whatever
// its length (see secretKey).
const maskMinLen = 4

// secretWords mark an env key whose value is masked at any length.
var secretWords = []string{"PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL"}

// mask replaces, in text quoted from a workload (its output, its
// runtime's error), every value of the spec's env by "***" (ARCHITECTURE
// 8.5): values of maskMinLen bytes or more, and values of any length
// whose key looks secret. Longer values are replaced first, so a value
// containing another is masked whole.
func mask(text string, env map[string]string) string {
	if text == "" || len(env) == 0 {
		return text
	}
	var values []string
	for k, v := range env {
		if v != "" && (len(v) >= maskMinLen || secretKey(k)) {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return text
	}
	slices.SortFunc(values, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	pairs := make([]string, 0, 2*len(values))
	for _, v := range slices.Compact(values) {
		pairs = append(pairs, v, "***")
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// secretKey reports whether an env key names a secret: it contains
// PASSWORD, TOKEN, SECRET, KEY (and the like), in any case.
func secretKey(k string) bool {
	k = strings.ToUpper(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
