package core

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sanitize makes text from a server or a file safe to print on a terminal,
// on one line (S37). Controls that a terminal would act on are shown
// escaped instead: C0 controls and DEL (ESC starts CSI and OSC sequences,
// OSC 8 hides a link behind other text, BEL, backspace and CR overwrite what
// was printed), C1 controls (U+0080–U+009F: U+009B is a one-character CSI),
// bidirectional overrides and isolates (which reorder the rest of the line),
// line and paragraph separators, and bytes that are not UTF-8. A newline is
// escaped too, so a server cannot forge a line of our own. Printable text,
// any script or emoji, is kept as it is.
func Sanitize(s string) string { return sanitize(s, false) }

// SanitizeText is [Sanitize] for text of several lines (a response body):
// newlines and tabs are kept, everything else is escaped the same way.
func SanitizeText(s string) string { return sanitize(s, true) }

// ShellWord is s as one word of a POSIX shell command that a message
// suggests, sanitised: as it is when every character is plain, else in
// single quotes, where the shell expands nothing ($(…), backticks, globs,
// and zsh's =cmd at the start of a word). Server text in a suggested
// command cannot run as a command of its own.
func ShellWord(s string) string {
	s = Sanitize(s)
	if s != "" && s[0] != '=' && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sanitize(s string, lines bool) string {
	if isClean(s, lines) {
		return s // the common case allocates nothing
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&0xf, 16))
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r) // 'x' with the rune escaped
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isClean(s string, lines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			// Decode the rest only when it is not plain ASCII.
			for _, r := range s[i:] {
				if r == utf8.RuneError || unsafeRune(r) && !(lines && (r == '\n' || r == '\t')) {
					return false
				}
			}
			return utf8.ValidString(s[i:])
		}
		if c < 0x20 || c == 0x7f {
			if lines && (c == '\n' || c == '\t') {
				continue
			}
			return false
		}
	}
	return true
}

func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // embeddings, overrides and isolates
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true // marks that flip the direction of what follows
	case r == 0x2028, r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}
