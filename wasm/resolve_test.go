//go:build js && wasm

package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// login({ host }) without a client: the core registers one (RFC 7591, a
// "web" client with this page as its redirect URI), and token({ host })
// finds the login without being told the client.
func TestLogin_WithoutClientIDRegistersAndTokenFindsTheClient(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.srv.registration = true
	_, err := td.driver.login(loginOptions{targetOptions: targetOptions{host: td.srv.issuer}, redirectURI: pageURL(), returnTo: pageURL()})
	is.NoErr(err)
	is.Equal(len(td.srv.registered), 1)
	is.True(strings.Contains(td.srv.registered[0], `"application_type":"web"`))
	is.True(strings.Contains(td.srv.registered[0], `"token_endpoint_auth_method":"none"`))
	u, _ := url.Parse(td.lastNavigation())
	is.Equal(u.Query().Get("client_id"), "web-1")
	_, err = td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {u.Query().Get("state")}}))
	is.NoErr(err)

	tok, err := td.driver.token(tokenOptions{targetOptions: targetOptions{host: td.srv.issuer}})
	is.NoErr(err)
	is.Equal(tok.(map[string]any)["access_token"], "at-1")
	// The registration is kept for the next login, and is no session.
	l := td.tokens.load([]string{core.RegistrationKey(td.srv.issuer)})
	is.True(l.Entry != nil && l.Entry.ClientID == "web-1")
	_, mirrored := localStore{}.get(sessionPrefix + core.RegistrationKey(td.srv.issuer))
	is.True(!mirrored)
}

// login({ host, resource }): resource= on the authorize and token requests
// (RFC 8707), and the login is kept for the resource.
func TestLogin_WithResourceSendsItAndKeepsTheLoginPerResource(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	const api = "https://api.example.com/v1"
	tgt := targetOptions{host: td.srv.issuer, clientID: "console", resource: api}
	_, err := td.driver.login(loginOptions{targetOptions: tgt, redirectURI: pageURL(), returnTo: pageURL()})
	is.NoErr(err)
	u, _ := url.Parse(td.lastNavigation())
	is.Equal(u.Query().Get("resource"), api)
	_, err = td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {u.Query().Get("state")}}))
	is.NoErr(err)
	is.Equal(td.srv.forms[0].Get("resource"), api)

	for _, o := range []targetOptions{{host: api, clientID: "console"}, tgt, {host: td.srv.issuer, resource: api}} {
		tok, err := td.driver.token(tokenOptions{targetOptions: o})
		is.NoErr(err)
		is.Equal(tok.(map[string]any)["access_token"], "at-1")
	}
	_, err = td.driver.token(tokenOptions{targetOptions: targetOptions{host: td.srv.issuer, clientID: "console"}})
	is.True(err != nil) // the issuer itself has no login: the token is the API's
}

// dualauth.fetch(url) without a host: a URL inside a resource login's
// resource finds that login (core.LoginForURL), from the sessions every
// tab sees.
func TestLoginForURL_AURLInsideAResourceFindsItsLogin(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	e := core.Entry{Host: "http://127.0.0.1:9/mcp", Resource: "http://127.0.0.1:9/mcp", ClientID: "c", AccessToken: "x", Metadata: core.Metadata{Issuer: td.srv.issuer}}
	si := summarize(e.Key(), e)
	td.mirror(e.Key(), &si)
	is.Equal(td.loginForURL("http://127.0.0.1:9/mcp/tools"), "http://127.0.0.1:9/mcp")
	is.Equal(td.loginForURL("http://127.0.0.1:9/mcp"), "http://127.0.0.1:9/mcp")
	is.Equal(td.loginForURL("http://127.0.0.1:9/other"), "")
}

// After localStorage.clear() the mirror is gone but the login is still in
// IndexedDB: dualauth.fetch(url) still finds it there, as logout does.
func TestLoginForURL_FindsTheLoginInIndexedDBWhenTheMirrorIsGone(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	e := core.Entry{Host: "http://127.0.0.1:9/mcp", Resource: "http://127.0.0.1:9/mcp", ClientID: "c", AccessToken: "x", Metadata: core.Metadata{Issuer: td.srv.issuer}}
	is.NoErr(td.tokens.save(e.Key(), e))
	si := summarize(e.Key(), e)
	td.mirror(e.Key(), &si)
	jsGlobal.Get("localStorage").Call("clear")
	is.Equal(td.loginForURL("http://127.0.0.1:9/mcp/tools"), "http://127.0.0.1:9/mcp")
	is.Equal(td.loginForURL("http://127.0.0.1:9/other"), "")
}

// login({ host: API URL }) at an OpenID provider that publishes its
// document at the RFC 8414 address too (oidc-provider): that address is
// the one asked first for a resource's server, and the login still asks
// consent for offline_access (OpenID Connect Core §11). Without it the
// provider, holding a session and a grant from an earlier login (the page
// mode's, say), sends the page straight back: no sign-in page, and no
// refresh token from a provider that follows §11.
func TestLogin_ByAResourceURLAsksConsentAtAnOpenIDProviderReadAtTheRFC8414Address(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.srv.resourceOf = true
	api := td.srv.issuer + "/api"
	_, err := td.driver.login(loginOptions{targetOptions: targetOptions{host: api, clientID: "console"}, redirectURI: pageURL(), returnTo: pageURL(), dpop: core.DPoPNever})
	is.NoErr(err)
	is.True(slices.Contains(td.srv.requestLog(), "GET "+td.srv.issuer+"/.well-known/oauth-authorization-server"))
	is.True(!slices.Contains(td.srv.requestLog(), "GET "+td.srv.issuer+"/.well-known/openid-configuration")) // RFC 8414 answered first
	u, err := url.Parse(td.lastNavigation())
	is.NoErr(err)
	q := u.Query()
	is.Equal(q.Get("resource"), api)
	is.Equal(q.Get("scope"), "api:read openid offline_access")
	is.Equal(q.Get("prompt"), "consent")
}
