package core

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The MCP authorization spec's rules, one test each (see also
// TestTranscript_RegisteredClientKeepsItsRedirectURI and
// TestLoginForURL_PathPrefixLongestWins).

// fetchedURLs are the URLs the world fetched, in order.
func fetchedURLs(w *world) []string {
	var urls []string
	for _, l := range w.log {
		if rest, ok := strings.CutPrefix(l, "Fetch GET "); ok {
			urls = append(urls, strings.Fields(rest)[0])
		}
	}
	return urls
}

// Scope selection: a 401's WWW-Authenticate scope= first, then the
// resource metadata's scopes_supported.
func TestResolve_ScopesOfThe401ComeBeforeScopesSupported(t *testing.T) {
	is := is.New(t)
	w, n := resourceWorld(t)
	n.docs[apiURL] = Response{Status: 401, WWWAuthenticate: `Bearer resource_metadata="https://api.example.com/meta/v1", scope="api:write api:admin"`}
	n.docs["https://api.example.com/meta/v1"] = prm(apiURL, asURL) // scopes_supported: api:read
	r, err := w.resolve(Target{Host: apiURL})
	is.NoErr(err)
	is.Equal(strings.Join(r.Scopes, " "), "api:write api:admin openid offline_access")

	w, n = resourceWorld(t)
	n.docs["https://api.example.com/.well-known/oauth-protected-resource/v1"] = prm(apiURL, asURL)
	r, err = w.resolve(Target{Host: apiURL})
	is.NoErr(err)
	is.Equal(strings.Join(r.Scopes, " "), "api:read openid offline_access") // no 401: scopes_supported
}

// Discovery in the spec's order: resource metadata path-inserted, then at
// the root; then the authorization server's metadata: RFC 8414 with the
// path inserted, OpenID Connect with the path inserted, then appended.
func TestResolve_DiscoveryFallsBackInTheMCPSpecsOrder(t *testing.T) {
	is := is.New(t)
	const tenant = "https://login.example.com/tenant"
	w, n := resourceWorld(t)
	n.docs["https://api.example.com/.well-known/oauth-protected-resource"] = prm(apiURL, tenant)
	appended := tenant + "/.well-known/openid-configuration"
	n.docs[appended] = jsonResponse(200, metaDoc(tenant))
	r, err := w.resolve(Target{Host: apiURL})
	is.NoErr(err)
	is.Equal(r.Issuer, tenant)
	is.Equal(r.IssuerFrom, appended)
	got := fetchedURLs(w)
	want := []string{
		"https://api.example.com/.well-known/oauth-protected-resource/v1",
		"https://api.example.com/.well-known/oauth-protected-resource",
		"https://login.example.com/.well-known/oauth-authorization-server/tenant",
		"https://login.example.com/.well-known/openid-configuration/tenant",
		appended,
	}
	at := slices.Index(got, want[0])
	is.True(at >= 0)
	is.Equal(got[at:at+2], want[:2])
	is.Equal(got[len(got)-3:], want[2:])

	t.Run("ARootDocumentOfAnotherResourceIsSkipped", func(t *testing.T) {
		is := is.New(t)
		w, n := resourceWorld(t)
		n.docs["https://api.example.com/.well-known/oauth-protected-resource"] = prm("https://api.example.com", asURL)
		_, err := w.resolve(Target{Host: apiURL})
		is.True(errors.Is(err, ErrDiscovery)) // nothing else answers
		is.True(strings.Contains(err.Error(), "oauth-protected-resource (another resource's metadata)"))
	})
}

// A resource login refuses a server whose metadata does not list S256 (the
// spec's MUST), before the browser opens.
func TestLogin_AResourceLoginRefusesAServerThatDoesNotListS256(t *testing.T) {
	is := is.New(t)
	w, n := resourceWorld(t)
	delete(w.srv.meta, "code_challenge_methods_supported")
	n.docs["https://api.example.com/.well-known/oauth-protected-resource/v1"] = prm(apiURL, asURL)
	tg := Target{Host: apiURL}
	r, err := w.resolve(tg)
	is.NoErr(err)
	d := w.loginResolved(tg, r, "my-cli")
	is.True(errors.Is(d.Err, ErrDiscovery))
	is.True(strings.Contains(d.Err.Error(), "does not list S256 in code_challenge_methods_supported"))
	is.True(!strings.Contains(d.Err.Error(), "\n"))
	is.Equal(w.authURL, "") // the browser never opened

	// An issuer login keeps the lenient rule: no list is not a refusal.
	w2 := newWorld(t, newFakeServer("https://idp.example.com"))
	delete(w2.srv.meta, "code_challenge_methods_supported")
	is.NoErr(w2.login(LoginConfig{Target: Target{Host: "https://idp.example.com"}, Client: Client{ID: "c"}, RedirectURI: "http://127.0.0.1:4321/callback"}).Err)
}

// Client ID Metadata Documents: an https client ID at a server that says
// it reads them is the client, with no registration; at one that does not
// say so the login goes on with a warning.
func TestLogin_ClientIDMetadataDocumentNeedsNoRegistration(t *testing.T) {
	const doc = "https://app.example.com/dualauth/client.json"
	for _, supported := range []bool{true, false} {
		is := is.New(t)
		w, n, _ := registrationWorld(t)
		w.srv.meta["client_id_metadata_document_supported"] = supported
		w.srv.register(doc, fakeClient{method: AuthNone})
		tg := Target{Host: "https://idp.example.com"}
		r, err := w.resolve(tg)
		is.NoErr(err)
		is.Equal(r.Metadata.ClientIDMetadataDocumentSupported, supported)
		d := w.loginResolved(tg, r, doc)
		is.NoErr(d.Err)
		is.Equal(d.Entry.ClientID, doc)
		is.Equal(authQueryOf(t, w.authURL).Get("client_id"), doc)
		is.Equal(n.registered, 0)
		is.Equal(len(w.warnings) == 1, !supported)
		if !supported {
			is.True(strings.Contains(w.warnings[0], "client_id_metadata_document_supported"))
		}
	}
}

// --subject-token at a server whose grant_types_supported lacks token
// exchange is refused before any token request, naming the grant.
func TestGrant_TokenExchangeRefusedUpFrontWhenTheServerDoesNotOfferIt(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthNone})
	w.srv.meta["grant_types_supported"] = []string{"authorization_code", "refresh_token", "client_credentials"}
	w.subjectTokens = map[string]string{"env:CI_TOKEN": "ci-jwt-1"}
	d := w.grantLogin(exchangeLogin())
	is.True(errors.Is(d.Err, ErrGrantNotOffered))
	is.True(strings.Contains(d.Err.Error(), TokenExchangeGrantType))
	is.True(strings.Contains(d.Err.Error(), "grant_types_supported"))
	is.Equal(grantRequests(w.srv), 0)
	for _, l := range w.log {
		is.True(!strings.HasPrefix(l, "ReadSubjectToken")) // not even read
	}

	w.srv.meta["grant_types_supported"] = []string{"authorization_code", TokenExchangeGrantType}
	w.srv.grants.subjects = map[string]bool{"ci-jwt-1": true}
	is.NoErr(w.grantLogin(exchangeLogin()).Err) // listed: asked
}

// Step-up: a 403 with error="insufficient_scope" ends the call with its
// answer and one line naming the login command with the union of the
// login's scopes and those the resource asks for; no refresh, no retry,
// no browser.
func TestResourceCall_InsufficientScopeSaysTheLoginWithTheUnionOfScopes(t *testing.T) {
	is := is.New(t)
	w, a := bearerAPIWorld(t)
	a.routes["/v1/admin"] = func(Request) Response {
		return Response{Status: 403, WWWAuthenticate: `Bearer error="insufficient_scope", scope="all-apis admin:write", resource_metadata="https://x.example/.well-known/oauth-protected-resource"`}
	}
	d := w.call(apiCall("POST", "/admin"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 403) // the resource's own answer still reaches the caller
	is.Equal(len(a.seen), 1)
	is.Equal(refreshes(w.srv), 0)
	is.Equal(len(w.warnings), 1)
	is.Equal(w.warnings[0], `POST `+resURL+`/admin: 403 insufficient_scope: log in again with the scopes it needs: auth login `+dbxHost+` --scopes 'all-apis offline_access admin:write'`)
	for _, l := range w.log {
		is.True(!strings.HasPrefix(l, "Authorize"))
	}

	// The scopes are the server's words, and "$" and "`" are scope
	// characters: the command quotes them, so pasting it runs auth login
	// and nothing else.
	a.routes["/v1/admin"] = func(Request) Response {
		return Response{Status: 403, WWWAuthenticate: "Bearer error=\"insufficient_scope\", scope=\"admin $(touch${IFS}/tmp/pwned) `id` it's\""}
	}
	w.warnings = nil
	is.Equal(w.call(apiCall("POST", "/admin")).Response.Status, 403)
	is.Equal(len(w.warnings), 1)
	is.True(strings.HasSuffix(w.warnings[0], ` --scopes 'all-apis offline_access admin $(touch${IFS}/tmp/pwned) `+"`id`"+` it'\''s'`))

	// The browser API's driver asks for its own wording: the call a page
	// makes, not a command it cannot run.
	a.routes["/v1/admin"] = func(Request) Response {
		return Response{Status: 403, WWWAuthenticate: `Bearer error="insufficient_scope", scope="all-apis admin:write"`}
	}
	w.warnings = nil
	cfg := apiCall("POST", "/admin")
	cfg.LoginForm = LoginCall
	is.Equal(w.call(cfg).Response.Status, 403)
	is.Equal(len(w.warnings), 1)
	is.Equal(w.warnings[0], `POST `+resURL+`/admin: 403 insufficient_scope: log in again with the scopes it needs: login({ host: "`+dbxHost+`", scopes: "all-apis offline_access admin:write" })`)

	// A 403 without insufficient_scope is just an answer.
	w.warnings = nil
	a.routes["/v1/admin"] = func(Request) Response { return Response{Status: 403} }
	is.Equal(w.call(apiCall("GET", "/admin")).Response.Status, 403)
	is.Equal(len(w.warnings), 0)
}

func TestInsufficientScope_ReadsTheBearerOrDPoPChallenge(t *testing.T) {
	is := is.New(t)
	s, ok := InsufficientScope(`Basic realm="x", DPoP error="insufficient_scope", scope="a b", algs="ES256"`)
	is.True(ok)
	is.Equal(s, []string{"a", "b"})
	_, ok = InsufficientScope(`Bearer error="invalid_token", scope="a"`)
	is.True(!ok)
	_, ok = InsufficientScope(``)
	is.True(!ok)
}

// An OpenID provider publishes its document at the RFC 8414 address too
// (oidc-provider, Keycloak, Okta…), the address the MCP order asks first
// for a resource's server. Read from there it is still an OpenID provider:
// a login asking openid and offline_access sends prompt=consent (OpenID
// Connect Core §11), or the provider ignores offline_access and, holding a
// session and a grant, answers at once with no page at all. A plain OAuth
// server's document read there is not one.
func TestLogin_AResourceLoginAsksConsentAtAnOpenIDProviderReadAtTheRFC8414Address(t *testing.T) {
	rfc8414 := asURL + "/.well-known/oauth-authorization-server"
	for _, tc := range []struct {
		name   string
		meta   map[string]any // replaces these members of the document
		openID bool
		prompt string
	}{
		{"OpenIDScope", map[string]any{}, true, "consent"}, // resourceWorld's scopes_supported lists openid
		{"IDTokenAlgs", map[string]any{"id_token_signing_alg_values_supported": []string{"RS256"}}, true, "consent"},
		// No openid in scopes_supported: openid is not asked, so no prompt.
		{"IDTokenAlgsWithoutTheOpenIDScope", map[string]any{"scopes_supported": []string{"offline_access", "api:read"}, "id_token_signing_alg_values_supported": []string{"RS256"}}, true, ""},
		{"PlainOAuth", map[string]any{"scopes_supported": []string{"offline_access", "api:read"}}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w, n := resourceWorld(t)
			for k, v := range tc.meta {
				w.srv.meta[k] = v
			}
			n.docs["https://api.example.com/.well-known/oauth-protected-resource/v1"] = prm(apiURL, asURL)
			n.docs[rfc8414] = jsonResponse(200, w.srv.meta)
			tg := Target{Host: apiURL}
			r, err := w.resolve(tg)
			is.NoErr(err)
			is.Equal(r.IssuerFrom, rfc8414) // read at the RFC 8414 address
			is.Equal(r.Metadata.OpenID, tc.openID)
			d := w.loginResolved(tg, r, "my-cli")
			is.NoErr(d.Err)
			q := authQueryOf(t, w.authURL)
			is.True(strings.Contains(q.Get("scope"), "offline_access"))
			is.Equal(q.Get("prompt"), tc.prompt)
		})
	}
}
