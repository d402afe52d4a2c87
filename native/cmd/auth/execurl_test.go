package main

import (
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// TestExec_AURLInsideAResourceLoginsResourceGetsThatLoginsToken: `auth
// exec URL` finds the login whose resource contains the URL (path-prefix
// match, the longest wins), and DUALAUTH_TOKEN in the command's
// environment is that login's token (and `auth token URL` prints it); a
// URL with a path outside every resource is a host with no login: nothing
// runs, and no token — a resource's or the host's own — is handed out.
func TestExec_AURLInsideAResourceLoginsResourceGetsThatLoginsToken(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	plain := e.login()
	apiA, apiAB := e.srv.Issuer+"/api/a", e.srv.Issuer+"/api/a/b"
	for _, res := range []string{apiA, apiAB} {
		r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--resource", res)
		if r.code != 0 {
			t.Fatalf("login of %s failed (%d):\n%s", res, r.code, r.stderr)
		}
	}
	f := e.file()
	a, ab := f.Tokens[core.Key(apiA, clientID)], f.Tokens[core.Key(apiAB, clientID)]
	e.secrets = append(e.secrets, a.AccessToken, a.RefreshToken, ab.AccessToken, ab.RefreshToken)
	is.True(a.AccessToken != "" && ab.AccessToken != "")
	is.True(a.AccessToken != ab.AccessToken && a.AccessToken != plain.AccessToken && ab.AccessToken != plain.AccessToken)

	for _, tc := range []struct{ url, want string }{
		{apiA, a.AccessToken},
		{apiA + "/x", a.AccessToken},
		{apiAB + "/c", ab.AccessToken}, // the longest resource wins
		{apiAB, ab.AccessToken},
	} {
		t.Run(tc.url, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, "exec", tc.url, "--", "sh", "-c", `printf '%s' "$DUALAUTH_TOKEN"`)
			is.Equal(r.code, 0)
			is.Equal(r.stdout, tc.want)
			is.Equal(r.stderr, "")
			r = e.auth(nil, "token", tc.url, "-o", "text") // auth token URL alike
			is.Equal(r.code, 0)
			is.Equal(r.stdout, tc.want+"\n")
		})
	}

	// Outside every resource (/api/ab is not below /api/a: a path segment,
	// not a string prefix) a URL with a path is a host of its own, with no
	// login: the command is not run, and no token of a resource login nor
	// of the host's own login is handed out.
	for _, u := range []string{e.srv.Issuer + "/api/ab", e.srv.Issuer + "/other"} {
		t.Run(u, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, "exec", u, "--", "sh", "-c", `printf 'ran:%s' "$DUALAUTH_TOKEN"`)
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "") // not run
			is.Equal(r.stderr, "auth: not logged in to "+u+": run `auth login "+u+"`\n")
		})
	}
}
