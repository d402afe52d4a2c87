package core

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Where a command takes "HOST or PROFILE", these rules tell a mistyped
// profile name from a host: a profile name is a bare word, a host has a
// dot, a scheme or a port (localhost excepted).

// BareWord reports whether s can only mean a profile name where a host or
// a profile may go: no scheme, no dot, no port, no path, and not
// "localhost". https://s is no usable host: such a name needs a search
// domain to resolve, and a typo of a profile name is far likelier.
func BareWord(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && !strings.ContainsAny(s, ".:/\\[]") && !strings.EqualFold(s, "localhost")
}

// NotAHost reports whether s, given as a host without a scheme, cannot
// name one: a path ("../../etc", "/tmp", "./x"), dots alone, or a name
// that begins or ends with a dot.
func NotAHost(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, "://") {
		return false
	}
	host, _, _ := strings.Cut(s, "/")
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i] // a port
	}
	return host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Trim(host, ".") == ""
}

// NearestNames returns the names a mistyped name most likely meant, best
// first, at most three: those equal to it but for case, then those within
// a small edit distance (insertions, deletions, substitutions and swaps of
// two neighbours; case ignored): one edit for names of up to four
// characters, two for longer ones.
func NearestNames(name string, names []string) []string {
	type cand struct {
		name string
		dist int
	}
	low := strings.ToLower(name)
	limit := 1
	if utf8.RuneCountInString(name) > 4 {
		limit = 2
	}
	var cs []cand
	for _, n := range names {
		if n == name {
			continue
		}
		d := editDistance(low, strings.ToLower(n))
		if d <= limit {
			cs = append(cs, cand{n, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
	})
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
		if len(out) == 3 {
			break
		}
	}
	return out
}

// editDistance is the optimal string alignment distance of a and b, by
// runes: a swap of two neighbours ("wrok", "work") is one edit.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
