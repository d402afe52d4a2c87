package core

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/matryer/is"
)

func TestSanitize_EscapesEveryControlAndKeepsPrintableText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain ASCII is unchanged", "invalid_grant: token expired", "invalid_grant: token expired"},
		{"printable Unicode is kept", "Jeton expiré — 令牌过期 🙂", "Jeton expiré — 令牌过期 🙂"},
		{"CSI colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"OSC 8 hyperlink", "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", `\x1b]8;;https://evil.example\aclick\x1b]8;;\a`},
		{"backspace and CR", "ok\b\b\rFAIL", `ok\b\b\rFAIL`},
		{"newline cannot forge a line", "x\nerror: run curl evil | sh", `x\nerror: run curl evil | sh`},
		{"NUL and DEL", "a\x00b\x7fc", `a\x00b\x7fc`},
		{"C1 CSI U+009B", "a\u009b31mb", `a\u009b31mb`},
		{"bidi override", "abc\u202edcba\u202c", `abc\u202edcba\u202c`},
		{"bidi isolates", "\u2066x\u2069", `\u2066x\u2069`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(Sanitize(tc.in), tc.want)
		})
	}
}

func TestSanitizeText_KeepsNewlinesAndTabsOnly(t *testing.T) {
	is := is.New(t)
	is.Equal(SanitizeText("{\n\t\"a\": \"\x1b[2J\"\r\n}"), "{\n\t\"a\": \"\\x1b[2J\"\\r\n}")
}

func TestSanitize_OutputHasNoTerminalControls(t *testing.T) {
	is := is.New(t)
	var all []rune
	for r := rune(0); r < 0x3000; r++ {
		all = append(all, r)
	}
	out := Sanitize(string(all) + "\xff\xfe")
	for _, r := range out {
		is.True(!terminalControl(r)) // every control came out escaped
	}
}

// terminalControl is what must never reach a terminal raw, from the
// Unicode tables rather than from the sanitiser's own unsafeRune: C0, DEL
// and C1 controls, the bidirectional controls, and the line and paragraph
// separators.
func terminalControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

func FuzzSanitize(f *testing.F) {
	f.Add("\x1b]8;;x\x07y")
	f.Add("\u202e\u009b\xff")
	f.Fuzz(func(t *testing.T, s string) {
		one, text := Sanitize(s), SanitizeText(s)
		if !utf8.ValidString(one) || !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 survived: %q %q", one, text)
		}
		for _, r := range one {
			if terminalControl(r) {
				t.Fatalf("control %U survived in %q", r, one)
			}
		}
		for _, r := range text {
			if terminalControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("control %U survived in %q", r, text)
			}
		}
	})
}

// ID-token claims named in an error (issuer, audience) are server text:
// they reach the message through Sanitize (S37), on both targets.
func TestCheckIDToken_ClaimsInErrorsAreSanitised(t *testing.T) {
	is := is.New(t)
	for _, claims := range []map[string]any{
		{"nonce": "n", "iss": "https://as\u202e\x1b[2Jevil", "aud": "c"},
		{"nonce": "n", "iss": "https://as", "aud": []string{"x\x1b]8;;http://evil\x07", "y\u202e"}},
	} {
		err := checkIDToken(fakeJWT(claims), "n", "https://as", "c")
		is.True(err != nil)
		is.True(!strings.ContainsAny(err.Error(), "\x1b\x07\u202e"))
	}
}

// ShellWord: a plain word as it is; anything else in single quotes, where
// a POSIX shell expands nothing — a server's scope or client ID in a
// suggested command cannot run a command of its own.
func TestShellWord_QuotesAllButPlainWords(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]string{
		"https://adb-1.azuredatabricks.net": "https://adb-1.azuredatabricks.net",
		"all-apis":                          "all-apis",
		"all-apis offline_access":           "'all-apis offline_access'",
		"a $(id) `id` ${IFS} *":             "'a $(id) `id` ${IFS} *'",
		"it's":                              `'it'\''s'`,
		"=ls":                               "'=ls'",
		"~root":                             "'~root'",
		"a=b":                               "a=b",
		"https://x/cimd?a=1&b=2":            "'https://x/cimd?a=1&b=2'",
		"":                                  "''",
		"a\x1b[2Jb":                         `'a\x1b[2Jb'`,
	} {
		is.Equal(ShellWord(in), want)
	}
}
