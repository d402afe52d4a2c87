package core

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"
)

// The token endpoint (an error status, or 200 without a token) and client
// registration read an OAuth error body by one rule: a JSON object with a
// string error code; anything else is described, not quoted.
func TestOAuthErrorBody_OneRuleForTokenAndRegistrationAnswers(t *testing.T) {
	for _, tc := range []struct {
		body string
		code string // "" : not an OAuth error
	}{
		{`{"error":"invalid_client","error_description":"gone"}`, "invalid_client"},
		{`{"error":"invalid_grant"}`, "invalid_grant"},
		{`{"error":""}`, ""},
		{`{"error":"invalid_grant","error_description":5}`, ""},
		{`not json`, ""},
	} {
		t.Run(tc.body, func(t *testing.T) {
			is := is.New(t)
			code := func(err error) string {
				var oe *OAuthError
				if errors.As(err, &oe) {
					return oe.Code
				}
				return ""
			}
			bad := Response{Status: 400, ContentType: "application/json", Body: []byte(tc.body)}
			_, err := ParseTokenResponse(bad, time.Now())
			is.True(err != nil)
			is.Equal(code(err), tc.code) // token endpoint, error status
			_, err = ParseRegistration(bad)
			is.True(err != nil)
			is.Equal(code(err), tc.code) // registration endpoint
			if tc.body != "not json" {
				ok := Response{Status: 200, ContentType: "application/json", Body: []byte(tc.body)}
				_, err = ParseTokenResponse(ok, time.Now())
				is.True(err != nil)
				is.Equal(code(err), tc.code) // token endpoint, 200 without a token
			}
		})
	}
}

// S37: a server's error code is passed on as a code (a page's err.code)
// only in RFC 6749's error charset; anything else becomes server_error.
func TestOAuthError_SafeCodeKeepsOnlyTheErrorCharset(t *testing.T) {
	for code, want := range map[string]string{
		"invalid_grant":         "invalid_grant",
		"custom-code_1.x !#[]~": "custom-code_1.x !#[]~",
		"":                      UnsafeErrorCode,
		"a\x1b[31mb":            UnsafeErrorCode,
		"a\u202eb":              UnsafeErrorCode,
		"a\u2028b":              UnsafeErrorCode,
		`quote"d`:               UnsafeErrorCode,
		`back\slash`:            UnsafeErrorCode,
		"tab\there":             UnsafeErrorCode,
		"caf\xc3\xa9":           UnsafeErrorCode,
	} {
		is := is.New(t)
		is.Equal((&OAuthError{Code: code}).SafeCode(), want) // code
	}
}
