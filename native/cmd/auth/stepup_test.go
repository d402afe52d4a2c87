package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// TestCLI_API403InsufficientScopeSaysTheLoginWithTheUnionOfScopes: a 403
// with WWW-Authenticate: Bearer error="insufficient_scope", scope="…" is
// the API's answer, so auth api treats it as any other 4xx (exit 1, the
// status line and the body on stderr), plus one line naming the login
// command that asks for the login's scopes and the ones the server named
// together. Called with no terminal behind it, it opens no browser (the
// BROWSER command records any run), asks nothing, and changes nothing
// stored: no refresh, no new login.
func TestCLI_API403InsufficientScopeSaysTheLoginWithTheUnionOfScopes(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	api := e.startAPI()
	cacheFile := filepath.Join(e.cache, native.CacheFileName)
	before, err := os.ReadFile(cacheFile)
	is.NoErr(err)
	ran := filepath.Join(e.home, "browser-ran")
	browser := filepath.Join(e.home, "browser.sh")
	is.NoErr(os.WriteFile(browser, []byte("#!/bin/sh\necho \"$@\" >> '"+ran+"'\n"), 0o700))

	r := e.authIn("", []string{"BROWSER=" + browser}, "api", e.srv.Issuer+"/api/admin")
	is.Equal(r.code, 1) // a 4xx like any other: the API's answer, exit 1
	is.Equal(r.stdout, "")
	is.True(strings.Contains(r.stderr, "\nauth: GET "+e.srv.Issuer+"/api/admin: 403 Forbidden\n")) // after the step-up line
	is.True(strings.Contains(r.stderr, `"error": "insufficient_scope"`))                           // and the body
	var step []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "insufficient_scope") && !strings.Contains(l, `"error"`) {
			step = append(step, l)
		}
	}
	is.Equal(len(step), 1) // one line
	is.True(strings.HasPrefix(step[0], "auth: warning: GET "+e.srv.Issuer+"/api/admin: 403 insufficient_scope: log in again with the scopes it needs: "))
	union := strings.Join(append(append([]string(nil), en.Scopes...), "profile"), " ")
	is.True(!strings.Contains(strings.Join(en.Scopes, " "), "profile")) // the union is more than the login's
	is.True(strings.HasSuffix(step[0], "auth login "+e.srv.Issuer+" --client-id "+clientID+" --scopes '"+union+"'"))
	is.Equal(strings.Count(step[0], "openid"), 1) // a scope both name, once

	_, err = os.Stat(ran)
	is.True(os.IsNotExist(err)) // BROWSER never run
	is.True(!strings.Contains(r.stderr, "Opening a browser"))
	after, err := os.ReadFile(cacheFile)
	is.NoErr(err)
	is.Equal(string(after), string(before))        // nothing stored changed
	is.Equal(api.seen(), []string{en.AccessToken}) // one request, no retry
	is.Equal(e.srv.Requests("refresh_token"), 0)
	is.Equal(e.srv.Requests("authorization_code"), 1) // only the first login
	checkNoRefreshToken(t, en, r)

	// The line is a command that runs as it is (the client the user named
	// is named again; without it the login refused with exit 2): the login
	// it makes asks for the union.
	args := []string{"login", e.srv.Issuer, "--client-id", clientID, "--scopes", union}
	is.True(strings.HasSuffix(step[0], ": auth "+strings.Join(args[:4], " ")+" --scopes '"+union+"'"))
	r = e.auth(nil, args...)
	is.Equal(r.code, 0)
	is.Equal(e.entry().Scopes, strings.Fields(union))
}
