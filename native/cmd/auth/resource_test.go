package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/matryer/is"
)

// --resource names the API a login asks a token for when the API
// publishes no protected-resource metadata (the browser's resource
// option): the issuer is resolved as usual, oidc-provider (resource
// indicators on) issues a token whose audience is the API, the login is
// kept under the API — `auth token API` finds it — and --profile saves
// the resource, so `auth token PROFILE` finds it too.
func TestCLI_ResourceGivenWithTheLoginIsAskedForAndKeepsTheLogin(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{ByURL: true})
	const api = "http://127.0.0.1:9/api" // nothing listens: only the issuer is asked
	r := startAuth(t, w.environ(), "login", w.op.Issuer, "--resource", api+"/", "--profile", "api", "--no-browser", "--paste", "--timeout", "30s")
	authorize := strings.TrimSpace(r.waitFor(w.op.Issuer+"/auth?", 10*time.Second))
	is.True(strings.Contains(authorize, "resource="+strings.ReplaceAll(strings.ReplaceAll(api, ":", "%3A"), "/", "%2F")))
	landed, err := w.op.Authorize(context.Background(), authorize)
	is.NoErr(err)
	r.paste(landed.String())
	res := r.wait(20 * time.Second)
	if res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "Saved profile api"))

	var entry core.Entry
	for k, e := range w.cacheFile().Tokens {
		if e.Registration == nil && k == core.Key(api, e.ClientID) {
			entry = e
		}
	}
	is.Equal(entry.Resource, api) // normalised: no trailing slash
	is.Equal(entry.Host, api)
	is.Equal(entry.Resolution.ResourceFrom, "given with the login")
	is.Equal(audience(t, entry.AccessToken), api) // the token is for the API
	for _, rq := range w.op.Requests() {
		if rq.Path == "/token" {
			is.True(slices.Contains(rq.Params, "resource")) // RFC 8707 on the token request
		}
	}

	for _, args := range [][]string{{"token", api, "-o", "text"}, {"token", "api", "-o", "text"}} {
		tok := w.auth(args...)
		is.Equal(tok.code, 0)
		is.Equal(tok.stdout, entry.AccessToken+"\n")
	}
	bad := w.auth("login", w.op.Issuer, "--resource", "ftp://api.example.com")
	is.Equal(bad.code, 2) // a usage error, before any request
}

// audience is the aud claim of a JWT access token.
func audience(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatal("the access token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud any `json:"aud"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Aud.(string); ok {
		return s
	}
	return ""
}

// A resource from the environment (DUALAUTH_RESOURCE) is saved with the
// profile as --resource is, like the host and the client: the login is
// kept under the resource, so without it `auth token PROFILE` would look
// for a login of the issuer and find none.
func TestCLI_ResourceFromTheEnvironmentIsSavedWithTheProfile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	const api = "http://127.0.0.1:9/api" // nothing listens: only the issuer is asked
	r := e.cfg([]string{"DUALAUTH_RESOURCE=" + api}, "login", "--profile", "p", e.srv.Issuer, "--client-id", clientID)
	if r.code != 0 {
		t.Fatalf("login failed (%d):\n%s", r.code, r.stderr)
	}
	en, ok := e.file().Tokens[core.Key(api, clientID)]
	is.True(ok) // kept under the resource
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	is.True(strings.Contains(e.readConfig(), api))
	tok := e.cfg(nil, "token", "p", "-o", "text")
	is.Equal(tok.code, 0)
	is.Equal(tok.stdout, en.AccessToken+"\n")
}

// A resource login is kept under its resource and client: a profile of
// the same host and client without that resource (or with another) does
// not share it — logout does not call it logged out, login does not warn
// that its token changed — while one of the same resource does.
func TestCLI_ProfilesOfAnotherResourceDoNotShareTheLogin(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	const api = "http://127.0.0.1:9/api" // nothing listens: only the issuer is asked
	is.Equal(e.cfg(nil, "login", "--profile", "plain", e.srv.Issuer, "--client-id", clientID).code, 0)
	r := e.cfg(nil, "login", "--profile", "res", e.srv.Issuer, "--client-id", clientID, "--resource", api, "--scopes", "openid offline_access profile")
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stderr, "shares this login")) // plain's login is another one
	e.writeConfig(e.readConfig() + "\n[res2]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\nresource = " + api + "/\n")
	r = e.cfg(nil, "login", "plain", "--scopes", "openid offline_access email")
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stderr, "shares this login"))
	r = e.cfg(nil, "login", "res")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "warning: profile res2 shares this login")) // same resource
	is.True(!strings.Contains(r.stderr, "profile plain"))
	for _, en := range e.file().Tokens {
		e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	}

	r = e.cfg(nil, "logout", "plain")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged out of "+e.srv.Issuer+"\n")) // nobody else's login
	r = e.cfg(nil, "logout", "res")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged out of "+api+"; profiles sharing this login (same host and client) are logged out too: res2\n"))
}
