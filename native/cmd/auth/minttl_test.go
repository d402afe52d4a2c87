package main

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// minTTLCase runs one command that hands out a token, with --min-ttl, and
// returns the token it handed out.
type minTTLCase struct {
	name string
	run  func(e *env, minTTL string) (token string, r result)
}

var minTTLCases = []minTTLCase{
	{"token", func(e *env, m string) (string, result) {
		r := e.auth(nil, "token", e.srv.Issuer, "-o", "text", "--min-ttl", m)
		return trimNL(r.stdout), r
	}},
	{"token -o exec-credential", func(e *env, m string) (string, result) {
		r := e.auth(nil, "token", e.srv.Issuer, "-o", "exec-credential", "--min-ttl", m)
		return execCredentialToken(e.t, r.stdout), r
	}},
	{"git-credential get", func(e *env, m string) (string, result) {
		r := e.authIn("protocol=https\nhost=git.example.com\n\n", nil, "git-credential", e.srv.Issuer, "--min-ttl", m, "get")
		for _, l := range strings.Split(r.stdout, "\n") {
			if p, ok := strings.CutPrefix(l, "password="); ok {
				return p, r
			}
		}
		return "", r
	}},
	{"exec", func(e *env, m string) (string, result) {
		r := e.auth(nil, "exec", e.srv.Issuer, "--min-ttl", m, "--", "sh", "-c", `printf %s "$DUALAUTH_TOKEN"`)
		return r.stdout, r
	}},
	{"api", func(e *env, m string) (string, result) {
		api := e.startAPI()
		r := e.auth(nil, "api", e.srv.Issuer, "--min-ttl", m, "/api/echo")
		seen := api.seen()
		if r.code != 0 || len(seen) != 1 {
			e.t.Fatalf("auth api: %d, %d requests: %s", r.code, len(seen), r.stderr)
		}
		return seen[0], r
	}},
}

func trimNL(s string) string {
	if len(s) > 0 && s[len(s)-1] == '\n' {
		return s[:len(s)-1]
	}
	return s
}

// TestMinTTL_TenMinutesLeftIsKeptForOneMinuteAndRefreshedOnceForTwenty: a
// token with 10 minutes left is handed out as it is for --min-ttl 1m, and
// refreshed once for --min-ttl 20m, by every command that takes the flag.
func TestMinTTL_TenMinutesLeftIsKeptForOneMinuteAndRefreshedOnceForTwenty(t *testing.T) {
	for _, c := range minTTLCases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			first := e.login()
			e.setExpiry(10*time.Minute, time.Hour)

			tok, r := c.run(e, "1m")
			is.Equal(r.code, 0)
			is.Equal(tok, first.AccessToken) // kept
			is.Equal(e.srv.Requests("refresh_token"), 0)

			tok, r = c.run(e, "20m")
			is.Equal(r.code, 0)
			is.Equal(e.srv.Requests("refresh_token"), 1) // refreshed once
			now := e.entry()
			is.True(now.AccessToken != first.AccessToken)
			is.Equal(tok, now.AccessToken) // and the new token handed out
			checkNoRefreshToken(t, now, r)
		})
	}
}
