package core

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestCandidates_WellKnownURLs(t *testing.T) { // S17
	for _, tc := range []struct {
		name   string
		target Target
		want   []Candidate
	}{
		{
			name:   "GenericHostTriesOIDCThenRFC8414ThenDatabricks",
			target: Target{Host: "https://idp.example.com"},
			want: []Candidate{
				{URL: "https://idp.example.com/.well-known/openid-configuration", Issuer: "https://idp.example.com", OpenID: true},
				{URL: "https://idp.example.com/.well-known/oauth-authorization-server", Issuer: "https://idp.example.com"},
				{URL: "https://idp.example.com/oidc/.well-known/oauth-authorization-server", Issuer: "https://idp.example.com/oidc"},
			},
		},
		{
			name:   "IssuerWithPathInsertsWellKnownAfterHost",
			target: Target{Host: "https://idp.example.com/tenant/a"},
			want: []Candidate{
				{URL: "https://idp.example.com/tenant/a/.well-known/openid-configuration", Issuer: "https://idp.example.com/tenant/a", OpenID: true},
				{URL: "https://idp.example.com/.well-known/oauth-authorization-server/tenant/a", Issuer: "https://idp.example.com/tenant/a"},
				{URL: "https://idp.example.com/tenant/a/oidc/.well-known/oauth-authorization-server", Issuer: "https://idp.example.com/tenant/a/oidc"},
			},
		},
		{
			name:   "DatabricksWorkspaceFirst",
			target: Target{Host: dbxHost},
			want: []Candidate{
				{URL: dbxHost + "/oidc/.well-known/oauth-authorization-server", Issuer: dbxIssuer},
				{URL: dbxHost + "/.well-known/openid-configuration", Issuer: dbxHost, OpenID: true},
				{URL: dbxHost + "/.well-known/oauth-authorization-server", Issuer: dbxHost},
			},
		},
		{
			name:   "DatabricksAccount",
			target: Target{Host: "https://accounts.cloud.databricks.com", AccountID: "abc-123"},
			want: []Candidate{
				{URL: "https://accounts.cloud.databricks.com/oidc/accounts/abc-123/.well-known/oauth-authorization-server", Issuer: "https://accounts.cloud.databricks.com/oidc/accounts/abc-123"},
				{URL: "https://accounts.cloud.databricks.com/oidc/.well-known/oauth-authorization-server", Issuer: "https://accounts.cloud.databricks.com/oidc"},
				{URL: "https://accounts.cloud.databricks.com/.well-known/openid-configuration", Issuer: "https://accounts.cloud.databricks.com", OpenID: true},
				{URL: "https://accounts.cloud.databricks.com/.well-known/oauth-authorization-server", Issuer: "https://accounts.cloud.databricks.com"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(Candidates(tc.target), tc.want)
		})
	}
}

func TestIssuerKeys_FindEntryOffline(t *testing.T) {
	is := is.New(t)
	is.Equal(IssuerKeys(Target{Host: "http://127.0.0.1:9"}, "c"), []string{"http://127.0.0.1:9 c", "http://127.0.0.1:9/oidc c"})
	is.Equal(IssuerKeys(Target{Host: dbxHost}, "databricks-cli")[0], Key(dbxIssuer, "databricks-cli"))
	is.Equal(Candidates(Target{Host: "%zz"}), []Candidate(nil))
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":                  "https://example.com",
		"HTTPS://Example.COM/":         "https://example.com",
		"https://example.com/tenant//": "https://example.com/tenant",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://localhost:1/x/":        "http://localhost:1/x",
		"http://[::1]:5":               "http://[::1]:5",
		"  adb-1.azuredatabricks.net ": "https://adb-1.azuredatabricks.net",
		"https://example.com:443/x":    "https://example.com/x",
		"http://127.0.0.1:80":          "http://127.0.0.1",
		"https://example.com:8443":     "https://example.com:8443",
		"https://Example.com:/x":       "https://example.com/x", // an empty port, as a DPoP proof's htu says it
	} {
		t.Run(in, func(t *testing.T) {
			is := is.New(t)
			got, err := NormalizeHost(in)
			is.NoErr(err)
			is.Equal(got, want)
		})
	}
	for _, bad := range []string{"", "https://example.com?", "http://example.com", "https://example.com?x=1", "https://u:p@example.com", "https://example.com/#f", "ftp://x", "https://"} {
		t.Run("Rejects"+bad, func(t *testing.T) {
			is := is.New(t)
			_, err := NormalizeHost(bad)
			is.True(err != nil)
		})
	}
}

// TestNormalizeHost_LoopbackNeedsItsScheme (issue 24 item 9): a loopback
// server may speak http or https, and the scheme names the login in the
// cache: without one the input is refused with the two spellings to use,
// rather than guessed as https (which a plain-http test server answers
// with "HTTP response to HTTPS client").
func TestNormalizeHost_LoopbackNeedsItsScheme(t *testing.T) {
	for _, in := range []string{"127.0.0.1:8080", "localhost:3000", "LOCALHOST", "[::1]:5", "127.0.0.2/x", "localhost"} {
		t.Run(in, func(t *testing.T) {
			is := is.New(t)
			_, err := NormalizeHost(in)
			is.True(errors.Is(err, ErrLoopbackScheme))
			is.Equal(err.Error(), "a loopback host needs its scheme: write http://"+in+" for a server without TLS (or https://"+in+")")
			for _, scheme := range []string{"http://", "https://"} {
				_, err := NormalizeHost(scheme + in)
				is.NoErr(err) // either spelling works
			}
		})
	}
	is := is.New(t)
	got, err := NormalizeHost("localhost.example.com:8443")
	is.NoErr(err)
	is.Equal(got, "https://localhost.example.com:8443") // not loopback: https as before
}

func TestIsDatabricksHost(t *testing.T) {
	is := is.New(t)
	is.True(IsDatabricksHost("https://adb-1.2.azuredatabricks.net"))
	is.True(IsDatabricksHost("https://dbc-1.cloud.databricks.com"))
	is.True(!IsDatabricksHost("https://databricks.com.evil.net"))
	is.True(!IsDatabricksHost("https://idp.example.com"))
	is.True(!IsDatabricksHost("%zz"))
}

func metaJSON(m map[string]any) []byte { b, _ := json.Marshal(m); return b }

func goodMeta(issuer string) map[string]any {
	return map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token"}
}

func TestParseMetadata_IssuerMustMatch(t *testing.T) { // S18
	c := Candidate{URL: "https://idp.example.com/.well-known/openid-configuration", Issuer: "https://idp.example.com", OpenID: true}
	for _, tc := range []struct {
		name   string
		issuer string
		ok     bool
	}{
		{"Exact", "https://idp.example.com", true},
		{"TrailingSlashTolerated", "https://idp.example.com/", true},
		{"OtherHost", "https://evil.example.com", false},
		{"OtherPath", "https://idp.example.com/other", false},
		{"Empty", "", false},
		{"SchemeDowngrade", "http://idp.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := goodMeta("https://idp.example.com")
			m["issuer"] = tc.issuer
			got, err := ParseMetadata(c, metaJSON(m))
			if tc.ok {
				is.NoErr(err)
				is.Equal(got.Issuer, tc.issuer)
				is.True(got.OpenID)
				return
			}
			is.True(errors.Is(err, ErrIssuerMismatch))
		})
	}
}

func TestParseMetadata_HTTPSExceptLoopback(t *testing.T) { // S19
	for _, tc := range []struct {
		name, issuer, endpoint string
		ok                     bool
	}{
		{"HTTPS", "https://idp.example.com", "https://idp.example.com/token", true},
		{"LoopbackV4", "http://127.0.0.1:8080", "http://127.0.0.1:8080/token", true},
		{"LoopbackV4Range", "http://127.8.9.10:1", "http://127.8.9.10:1/token", true},
		{"LoopbackV6", "http://[::1]:8080", "http://[::1]:8080/token", true},
		{"Localhost", "http://localhost:8080", "http://localhost:8080/token", true},
		{"PlainHTTPEndpoint", "https://idp.example.com", "http://idp.example.com/token", false},
		{"PrivateIPIsNotLoopback", "http://10.0.0.1", "http://10.0.0.1/token", false},
		{"LocalhostLookalike", "http://localhost.evil.com", "http://localhost.evil.com/token", false},
		{"RelativeEndpoint", "https://idp.example.com", "/token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := goodMeta(tc.issuer)
			m["token_endpoint"] = tc.endpoint
			_, err := ParseMetadata(Candidate{URL: tc.issuer + "/x", Issuer: tc.issuer}, metaJSON(m))
			if tc.ok {
				is.NoErr(err)
				return
			}
			is.True(err != nil)
		})
	}
}

// An endpoint that is not http(s) at all (javascript:, data:, file:) is an
// insecure URL, refused with ErrInsecureURL before the page goes there (S19).
func TestParseMetadata_NonHTTPEndpointIsInsecure(t *testing.T) {
	for _, ep := range []string{"javascript:alert(document.domain)", "JavaScript://idp.example.com/%0aalert(1)", "data:text/html,x", "file:///etc/passwd"} {
		t.Run(ep, func(t *testing.T) {
			is := is.New(t)
			m := goodMeta("https://idp.example.com")
			m["authorization_endpoint"] = ep
			_, err := ParseMetadata(Candidate{URL: "https://idp.example.com/x", Issuer: "https://idp.example.com"}, metaJSON(m))
			is.True(errors.Is(err, ErrInsecureURL))
			is.True(!strings.Contains(err.Error(), "alert")) // the scheme is named, not the script
		})
	}
}

// A server that only serves grants without a person has no authorization
// endpoint: its metadata is good for those, and a browser login there
// fails before anything is sent, naming what works instead.
func TestMetadata_WithoutAuthorizationEndpointServesGrantsButNoBrowserLogin(t *testing.T) {
	is := is.New(t)
	c := Candidate{URL: "https://i.example.com/x", Issuer: "https://i.example.com"}
	m, err := ParseMetadata(c, []byte(`{"issuer":"https://i.example.com","token_endpoint":"https://i.example.com/t"}`))
	is.NoErr(err)
	err = m.CheckBrowserLogin()
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "no authorization_endpoint"))
	is.True(strings.Contains(err.Error(), "--client-secret-stdin"))

	srv := newFakeServer(dbxIssuer)
	delete(srv.meta, "authorization_endpoint")
	w := newWorld(t, srv)
	d := w.login(dbxLogin())
	is.True(d.Err != nil)
	is.Equal(w.authURL, "") // the browser was never opened
	is.Equal(tokenRequests(srv), 0)
}

func TestParseMetadata_Rejects(t *testing.T) {
	c := Candidate{URL: "https://i.example.com/x", Issuer: "https://i.example.com"}
	for name, body := range map[string]string{
		"NotJSON":        "<html>",
		"NoTokenURL":     `{"issuer":"https://i.example.com","authorization_endpoint":"https://i.example.com/a"}`,
		"InsecureDevice": `{"issuer":"https://i.example.com","authorization_endpoint":"https://i.example.com/a","token_endpoint":"https://i.example.com/t","device_authorization_endpoint":"http://i.example.com/d"}`,
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := ParseMetadata(c, []byte(body))
			is.True(err != nil)
		})
	}
}

func TestLogin_DiscoveryFallsThroughCandidates(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer("https://idp.example.com")
	srv.openID = true
	w := newWorld(t, srv)
	// The OpenID document is first for a generic host: one round trip.
	d := w.login(LoginConfig{Target: Target{Host: "https://idp.example.com"}, Client: Client{ID: "c"}, Scopes: []string{"x"}, RedirectURI: "http://127.0.0.1:1/cb"})
	is.NoErr(d.Err)
	is.Equal(srv.requests[0].URL, "https://idp.example.com/.well-known/openid-configuration")

	// Databricks-shaped server on a generic host name: found third.
	srv = newFakeServer("https://idp.example.com/oidc")
	w = newWorld(t, srv)
	d = w.login(LoginConfig{Target: Target{Host: "https://idp.example.com"}, Client: Client{ID: "c"}, Scopes: []string{"x"}, RedirectURI: "http://127.0.0.1:1/cb"})
	is.NoErr(d.Err)
	is.Equal(d.Entry.Metadata.Issuer, "https://idp.example.com/oidc")
}

func TestLogin_DiscoveryErrors(t *testing.T) {
	cfg := LoginConfig{Target: Target{Host: "https://idp.example.com"}, Client: Client{ID: "c"}, Scopes: []string{"x"}, RedirectURI: "http://127.0.0.1:1/cb"}
	t.Run("NothingFoundListsWhatWasTried", func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, newFakeServer("https://other.example.com"))
		w.onFetch = func(r Request) (Response, error) {
			if strings.Contains(r.URL, "openid") {
				return Response{Status: 200, ContentType: "text/html", Body: []byte("<html>spa</html>")}, nil
			}
			return Response{Status: 404}, nil
		}
		d := w.login(cfg)
		is.True(errors.Is(d.Err, ErrDiscovery))
		is.True(strings.Contains(d.Err.Error(), "(not JSON)"))
		is.True(strings.Contains(d.Err.Error(), "(HTTP 404)"))
	})
	t.Run("UnreachableHostFailsAtOnce", func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, newFakeServer("https://other.example.com"))
		calls := 0
		w.onFetch = func(Request) (Response, error) {
			calls++
			return Response{}, errors.New("dial tcp: connection refused")
		}
		d := w.login(cfg)
		is.True(errors.Is(d.Err, ErrDiscovery))
		is.Equal(calls, 1) // no retry storm on a dead host
	})
	t.Run("WrongIssuerStopsDiscovery", func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, newFakeServer("https://evil.example.com"))
		calls := 0
		w.onFetch = func(Request) (Response, error) {
			calls++
			return jsonResponse(200, goodMeta("https://evil.example.com")), nil
		}
		d := w.login(cfg)
		is.True(errors.Is(d.Err, ErrIssuerMismatch))
		is.Equal(calls, 1)
	})
}

func TestDefaultScopes(t *testing.T) {
	is := is.New(t)
	is.Equal(DefaultScopes(Target{Host: dbxHost}), []string{"all-apis", "offline_access"})
	is.Equal(DefaultScopes(Target{Host: "https://accounts.example.com", AccountID: "a"}), []string{"all-apis", "offline_access"})
	is.Equal(DefaultScopes(Target{Host: "https://idp.example.com"}), []string{"openid", "offline_access"})
}

// LoginScopes is the one rule of a login's scopes, for every driver: the
// ones given, else the resolution's, else the defaults — but a protected
// resource that names none gets none (no scope parameter), not the
// defaults.
func TestLoginScopes_GivenThenResolutionThenDefaults(t *testing.T) {
	idp := Target{Host: "https://idp.example.com"}
	resource := &Resolution{Kind: KindResource}
	for _, tc := range []struct {
		name  string
		given []string
		res   *Resolution
		t     Target
		want  []string
	}{
		{"given", []string{"a"}, &Resolution{Scopes: []string{"b"}}, idp, []string{"a"}},
		{"the resolution's", nil, &Resolution{Kind: KindResource, Scopes: []string{"mcp:read"}}, idp, []string{"mcp:read"}},
		{"a resource naming none: none", nil, resource, idp, nil},
		{"given beats a resource naming none", []string{"x"}, resource, idp, []string{"x"}},
		{"no resolution: the defaults", nil, nil, idp, []string{"openid", "offline_access"}},
		{"no resolution, Databricks: its defaults", nil, nil, Target{Host: dbxHost}, []string{"all-apis", "offline_access"}},
		{"an issuer's resolution without scopes: the defaults", nil, &Resolution{Kind: KindIssuer}, idp, []string{"openid", "offline_access"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is.New(t).Equal(LoginScopes(tc.given, tc.res, tc.t), tc.want)
		})
	}
}

// Whether a server is an OpenID provider is in its document as well as in
// its address: the openid scope, or ID token signing algorithms.
func TestParseMetadata_AnOpenIDProviderIsOneAtAnyAddress(t *testing.T) {
	rfc8414 := Candidate{URL: "https://idp.example.com/.well-known/oauth-authorization-server", Issuer: "https://idp.example.com"}
	oidc := Candidate{URL: "https://idp.example.com/.well-known/openid-configuration", Issuer: "https://idp.example.com", OpenID: true}
	for _, tc := range []struct {
		name   string
		c      Candidate
		extra  map[string]any
		openID bool
	}{
		{"OpenIDAddress", oidc, nil, true},
		{"OpenIDScope", rfc8414, map[string]any{"scopes_supported": []string{"openid", "offline_access"}}, true},
		{"IDTokenAlgs", rfc8414, map[string]any{"id_token_signing_alg_values_supported": []string{"RS256"}}, true},
		{"PlainOAuth", rfc8414, map[string]any{"scopes_supported": []string{"offline_access", "api"}}, false},
		{"EmptyIDTokenAlgs", rfc8414, map[string]any{"id_token_signing_alg_values_supported": []string{}}, false},
		{"IDTokenAlgsNotAList", rfc8414, map[string]any{"id_token_signing_alg_values_supported": "RS256"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := goodMeta("https://idp.example.com")
			for k, v := range tc.extra {
				m[k] = v
			}
			got, err := ParseMetadata(tc.c, metaJSON(m))
			is.NoErr(err)
			is.Equal(got.OpenID, tc.openID)
		})
	}
}
