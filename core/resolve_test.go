package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// web is the rest of the internet around a fake authorization server:
// documents by URL, answered before the server itself.
type web struct {
	docs map[string]Response
	srv  *fakeServer
	// registration endpoint state
	registered   int
	clients      map[string]bool
	regResponse  func(n int) Response
	regTokenSeen []string
}

func newWeb(srv *fakeServer) *web {
	return &web{docs: map[string]Response{}, srv: srv, clients: map[string]bool{}}
}

func (n *web) serve(r Request) (Response, error) {
	if resp, ok := n.docs[r.URL]; ok {
		return resp, nil
	}
	if reg, _ := n.srv.meta["registration_endpoint"].(string); reg != "" {
		switch {
		case r.Method == "POST" && r.URL == reg:
			n.registered++
			if n.regResponse != nil {
				return n.regResponse(n.registered), nil
			}
			var body map[string]any
			if err := json.Unmarshal(r.JSON, &body); err != nil {
				return jsonResponse(400, map[string]string{"error": "invalid_client_metadata"}), nil
			}
			id := fmt.Sprintf("dyn-%d", n.registered)
			n.clients[id] = true
			return jsonResponse(201, map[string]any{
				"client_id": id, "registration_access_token": "regtok-" + id,
				"registration_client_uri": reg + "/" + id, "token_endpoint_auth_method": "none",
				"redirect_uris": body["redirect_uris"],
			}), nil
		case r.Method == "GET" && strings.HasPrefix(r.URL, reg+"/"):
			id := strings.TrimPrefix(r.URL, reg+"/")
			n.regTokenSeen = append(n.regTokenSeen, r.Header["Authorization"])
			if !n.clients[id] || r.Header["Authorization"] != "Bearer regtok-"+id {
				return jsonResponse(401, map[string]string{"error": "invalid_token"}), nil
			}
			return jsonResponse(200, map[string]any{"client_id": id}), nil
		}
	}
	return n.srv.serve(r), nil
}

func newWebWorld(t *testing.T, srv *fakeServer) (*world, *web) {
	w := newWorld(t, srv)
	n := newWeb(srv)
	w.onFetch = n.serve
	return w, n
}

// resolve runs target resolution and logs its outcome.
func (w *world) resolve(tg Target) (*Resolution, error) {
	w.logf("# resolve %s%s", tg.Host, map[bool]string{true: " account " + tg.AccountID}[tg.AccountID != ""])
	m := NewResolve(ResolveConfig{Target: tg})
	d := Drive(m, Start{Now: w.now}, w.perform)
	if d.Err != nil {
		w.logf("Done error: %v", d.Err)
		return nil, d.Err
	}
	r := m.Result()
	w.logf("Resolved kind=%s (%s) issuer=%s resource=%q client=%q scopes=%q redirect=%q account=%q",
		r.Kind, r.KindFrom, r.Issuer, r.Resource, r.ClientID, strings.Join(r.Scopes, " "), r.RedirectURI, r.AccountID)
	return r, nil
}

// loginResolved logs in with a resolution, its defaults unless given.
func (w *world) loginResolved(tg Target, r *Resolution, clientID string) Done {
	if clientID == "" {
		clientID = r.ClientID
	}
	redirect := r.RedirectURI
	if redirect == "" {
		redirect = "http://127.0.0.1:4321/callback"
	}
	return w.login(LoginConfig{Target: tg, Client: Client{ID: clientID}, Scopes: r.Scopes, RedirectURI: redirect, Resolution: r})
}

func metaDoc(issuer string) map[string]any {
	return map[string]any{
		"issuer":                 issuer,
		"authorization_endpoint": issuer + "/v1/authorize",
		"token_endpoint":         issuer + "/v1/token",
	}
}

const vanity = "https://data.example.com"

func TestTranscript_ResolveDatabricksByNameCostsOneFetch(t *testing.T) {
	is := is.New(t)
	w, _ := newWebWorld(t, newFakeServer(dbxIssuer))
	r, err := w.resolve(Target{Host: dbxHost})
	is.NoErr(err)
	is.Equal(r.Kind, KindDatabricksWorkspace)
	is.Equal(r.ClientID, "databricks-cli")
	is.Equal(r.RedirectURI, "http://localhost:8020")
	is.NoErr(w.loginResolved(Target{Host: dbxHost}, r, "").Err)
	checkTranscript(t, "resolve-databricks-name", w.transcript())
}

func TestResolve_AzureUSGovernmentIsADatabricksName(t *testing.T) {
	is := is.New(t)
	is.True(IsDatabricksHost("https://adb-1.2.databricks.azure.us"))
	is.True(!IsDatabricksHost("https://databricks.azure.us.example.com"))
}

// Host metadata for each host_type, with and without the {account_id}
// placeholder: the host is Databricks by what it says, whatever its name.
func TestTranscript_ResolveDatabricksHostMetadata(t *testing.T) {
	cases := []struct {
		name, hostType, endpoint, metaAccount, flagAccount string
		want                                               Kind
		wantIssuer                                         string
	}{
		{"workspace", "workspace", vanity + "/oidc", "", "", KindDatabricksWorkspace, vanity + "/oidc"},
		{"workspace-enum", "WORKSPACE_HOST", vanity + "/oidc", "", "", KindDatabricksWorkspace, vanity + "/oidc"},
		{"account", "ACCOUNT_HOST", vanity + "/oidc/accounts/{account_id}", "", "acc-1", KindDatabricksAccount, vanity + "/oidc/accounts/acc-1"},
		{"unified-flag", "UNIFIED_HOST", vanity + "/oidc/accounts/{account_id}", "acc-meta", "acc-flag", KindDatabricksUnified, vanity + "/oidc/accounts/acc-flag"},
		{"unified-meta", "unified", vanity + "/oidc/accounts/{account_id}", "acc-meta", "", KindDatabricksUnified, vanity + "/oidc/accounts/acc-meta"},
		{"no-type", "", vanity + "/oidc/accounts/{account_id}", "acc-2", "", KindDatabricksAccount, vanity + "/oidc/accounts/acc-2"},
	}
	var all strings.Builder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			w, n := newWebWorld(t, newFakeServer(c.wantIssuer))
			n.docs[vanity+"/.well-known/openid-configuration"] = Response{Status: 404}
			doc := map[string]any{"oidc_endpoint": c.endpoint, "workspace_id": "123", "cloud": "AWS"}
			if c.hostType != "" {
				doc["host_type"] = c.hostType
			}
			if c.metaAccount != "" {
				doc["account_id"] = c.metaAccount
			}
			n.docs[vanity+"/.well-known/databricks-config"] = jsonResponse(200, doc)
			tg := Target{Host: vanity, AccountID: c.flagAccount}
			r, err := w.resolve(tg)
			is.NoErr(err)
			is.Equal(r.Kind, c.want)
			is.Equal(r.Issuer, c.wantIssuer)
			is.Equal(r.ClientID, DatabricksClientID)
			is.Equal(strings.Join(r.Scopes, " "), "all-apis offline_access")
			d := w.loginResolved(tg, r, "")
			is.NoErr(d.Err)
			// Saved so that `auth token HOST [--account-id]` finds it offline.
			is.True(containsKey(IssuerKeys(tg, DatabricksClientID), d.Entry.Key()))
			is.Equal(d.Entry.Resolution.Kind, c.want)
			all.WriteString(w.transcript())
		})
	}
	checkTranscript(t, "resolve-host-metadata", all.String())
}

// Host metadata may not point the login at another host's issuer: the
// tokens would be filed under this host, and calls to it would carry
// them (a hostile host naming a real workspace's /oidc).
func TestResolve_HostMetadataNamingAnIssuerElsewhereIsRefused(t *testing.T) {
	is := is.New(t)
	victim := "https://victim.cloud.databricks.com/oidc"
	w, n := newWebWorld(t, newFakeServer(victim))
	n.docs[vanity+"/.well-known/openid-configuration"] = Response{Status: 404}
	n.docs[vanity+"/.well-known/databricks-config"] = jsonResponse(200, map[string]any{"oidc_endpoint": victim, "host_type": "WORKSPACE_HOST"})
	_, err := w.resolve(Target{Host: vanity})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "names an issuer on another host (https://victim.cloud.databricks.com)"))
	is.True(strings.Contains(err.Error(), "auth login https://victim.cloud.databricks.com"))
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func TestResolve_PlaceholderWithoutAnyAccountAsksForAccountID(t *testing.T) {
	is := is.New(t)
	w, n := newWebWorld(t, newFakeServer(vanity+"/oidc"))
	n.docs[vanity+"/.well-known/databricks-config"] = jsonResponse(200, map[string]any{"oidc_endpoint": vanity + "/oidc/accounts/{account_id}", "host_type": "UNIFIED_HOST"})
	_, err := w.resolve(Target{Host: vanity})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "Databricks unified host"))
	is.True(strings.Contains(err.Error(), "pass --account-id"))
}

func TestTranscript_ResolveDatabricksByItsOIDCDocument(t *testing.T) {
	is := is.New(t)
	w, _ := newWebWorld(t, newFakeServer(vanity+"/oidc"))
	r, err := w.resolve(Target{Host: vanity})
	is.NoErr(err)
	is.Equal(r.Kind, KindDatabricksWorkspace)
	is.Equal(r.ClientID, DatabricksClientID)
	is.NoErr(w.loginResolved(Target{Host: vanity}, r, "").Err)
	checkTranscript(t, "resolve-databricks-oidc", w.transcript())
}

func TestTranscript_ResolveOpenIDIssuerCostsOneFetch(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer("https://idp.example.com")
	srv.openID = true
	w, _ := newWebWorld(t, srv)
	r, err := w.resolve(Target{Host: "https://idp.example.com"})
	is.NoErr(err)
	is.Equal(r.Kind, KindIssuer)
	is.Equal(r.ClientID, "")
	is.Equal(len(w.srv.requests), 1)
	checkTranscript(t, "resolve-issuer", w.transcript())
}

func TestResolve_NothingAnswersNamesEveryDocumentAndTheFlag(t *testing.T) {
	is := is.New(t)
	w, _ := newWebWorld(t, newFakeServer("https://elsewhere.example.com"))
	_, err := w.resolve(Target{Host: "https://nothing.example.com/api"})
	is.True(errors.Is(err, ErrDiscovery))
	msg := err.Error()
	for _, u := range []string{
		"https://nothing.example.com/api/.well-known/openid-configuration (HTTP 404)",
		"https://nothing.example.com/.well-known/databricks-config (HTTP 404)",
		"https://nothing.example.com/.well-known/oauth-protected-resource/api (HTTP 404)",
		"https://nothing.example.com/.well-known/oauth-authorization-server/api (HTTP 404)",
		"https://nothing.example.com/api/oidc/.well-known/oauth-authorization-server (HTTP 404)",
		"https://nothing.example.com/api (HTTP 404, no 401 challenge)",
		"--client-id",
	} {
		is.True(strings.Contains(msg, u)) // every document tried, and the flag
	}
	is.True(!strings.Contains(msg, "\n"))
}

const (
	apiURL = "https://api.example.com/v1"
	asURL  = "https://login.example.com"
)

func resourceWorld(t *testing.T) (*world, *web) {
	srv := newFakeServer(asURL)
	srv.openID = true
	srv.meta["scopes_supported"] = []string{"openid", "offline_access", "profile", "api:read"}
	w, n := newWebWorld(t, srv)
	return w, n
}

func prm(resource string, servers ...string) Response {
	return jsonResponse(200, map[string]any{"resource": resource, "authorization_servers": servers, "scopes_supported": []string{"api:read"}})
}

// RFC 9728 from the well-known URL, then RFC 8707 on every request.
func TestTranscript_ResolveProtectedResourceAndSendResourceEverywhere(t *testing.T) {
	is := is.New(t)
	w, n := resourceWorld(t)
	n.docs["https://api.example.com/.well-known/oauth-protected-resource/v1"] = prm(apiURL, asURL)
	tg := Target{Host: apiURL}
	r, err := w.resolve(tg)
	is.NoErr(err)
	is.Equal(r.Kind, KindResource)
	is.Equal(r.Resource, apiURL)
	is.Equal(r.Issuer, asURL)
	is.Equal(strings.Join(r.Scopes, " "), "api:read openid offline_access")
	d := w.loginResolved(tg, r, "my-cli")
	is.NoErr(d.Err)
	is.Equal(authQueryOf(t, w.authURL).Get("resource"), apiURL)
	is.Equal(d.Entry.Key(), Key(apiURL, "my-cli"))
	is.True(containsKey(IssuerKeys(tg, "my-cli"), d.Entry.Key())) // `auth token URL` finds it offline

	w.now = w.now.Add(2 * 3600e9)
	td := w.token(RefreshConfig{Target: tg, Client: Client{ID: "my-cli"}})
	is.NoErr(td.Err)
	var resources []string
	for _, rq := range w.srv.requests {
		if rq.Method == "POST" {
			resources = append(resources, rq.Form.Get("grant_type")+"="+rq.Form.Get("resource"))
		}
	}
	is.Equal(resources, []string{"authorization_code=" + apiURL, "refresh_token=" + apiURL})
	checkTranscript(t, "resolve-resource", w.transcript())
}

func authQueryOf(t *testing.T, raw string) url.Values {
	u, err := url.Parse(raw)
	is.New(t).NoErr(err)
	return u.Query()
}

func TestTranscript_ResolveProtectedResourceFromA401(t *testing.T) {
	is := is.New(t)
	w, n := resourceWorld(t)
	n.docs[apiURL] = Response{Status: 401, WWWAuthenticate: `Bearer realm="api", resource_metadata="https://api.example.com/meta/v1", scope="api:write"`}
	pm := prm(apiURL, asURL)
	pm.Body = []byte(strings.Replace(string(pm.Body), `,"scopes_supported":["api:read"]`, "", 1))
	n.docs["https://api.example.com/meta/v1"] = pm
	r, err := w.resolve(Target{Host: apiURL})
	is.NoErr(err)
	is.Equal(r.Kind, KindResource)
	is.Equal(strings.Join(r.Scopes, " "), "api:write openid offline_access") // the 401's scope
	checkTranscript(t, "resolve-resource-401", w.transcript())
}

// Bad input: one clear line, nothing saved (S31).
func TestResolve_RefusesBadResourceMetadata(t *testing.T) {
	big := Response{Status: 200, ContentType: "application/json", Body: []byte(`{"resource":"` + strings.Repeat("a", 10<<20) + `"}`)}
	cases := map[string]struct {
		doc  Response
		want string
	}{
		"mismatch":       {prm("https://api.example.com/v2", asURL), `names another resource: it says "https://api.example.com/v2", the URL is "https://api.example.com/v1"`},
		"http-server":    {prm(apiURL, "http://login.example.com"), `authorization server "http://login.example.com": URL must use https`},
		"no-servers":     {prm(apiURL), "names no authorization_servers"},
		"ten-megabytes":  {big, "the response is too large (over 1 MiB)"},
		"mixed-servers":  {prm(apiURL, asURL, "http://evil.example.com"), `"http://evil.example.com": URL must use https`},
		"resource-empty": {jsonResponse(200, map[string]any{"authorization_servers": []string{asURL}}), "names another resource"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			w, n := resourceWorld(t)
			n.docs["https://api.example.com/.well-known/oauth-protected-resource/v1"] = c.doc
			_, err := w.resolve(Target{Host: apiURL})
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), c.want))
			is.True(!strings.Contains(err.Error(), "\n"))
			is.Equal(len(w.cache), 0)
			is.Equal(errors.Is(err, ErrTooLarge), name == "ten-megabytes") // its own code (response_too_large) in the browser
		})
	}
}

func TestResolve_LoopbackAuthorizationServerOverHTTPIsAllowed(t *testing.T) {
	is := is.New(t)
	pm, err := ParseResourceMetadata([]byte(`{"resource":"http://127.0.0.1:9/api","authorization_servers":["http://127.0.0.1:8/"]}`), "http://127.0.0.1:9/api")
	is.NoErr(err)
	is.Equal(pm.AuthorizationServers[0], "http://127.0.0.1:8/")
}

// An authorization server that is a URL but not a host URL (query,
// fragment, user info) is refused with NormalizeHost's reason, so the
// login never asks an address built from the empty rest ("://…").
func TestParseResourceMetadata_AuthorizationServerMustBeAHostURL(t *testing.T) {
	for _, as := range []string{"https://as.example?x=1", "https://as.example/#f", "https://u:p@as.example", "https://as.example/?"} {
		t.Run(as, func(t *testing.T) {
			is := is.New(t)
			_, err := ParseResourceMetadata([]byte(`{"resource":"https://api.example","authorization_servers":["https://as.example",`+strconv.Quote(as)+`]}`), "https://api.example")
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), "no query, fragment or user info"))
		})
	}
}

func TestParseChallenge_ReadsBearerParameters(t *testing.T) {
	cases := []struct{ in, rm, scope string }{
		{`Bearer resource_metadata="https://a/m"`, "https://a/m", ""},
		{`Bearer realm="x", error="invalid_token", resource_metadata="https://a/m", scope="a b"`, "https://a/m", "a b"},
		{`Basic realm="x", Bearer resource_metadata=https://a/m`, "", ""}, // a token value stops at '/'
		{`Basic YWxhZGRpbjpvcGVuc2VzYW1l, Bearer resource_metadata="https://a/m"`, "https://a/m", ""},
		{`DPoP algs="ES256", Bearer scope="s", resource_metadata="https://b/m"`, "https://b/m", "s"},
		{`Bearer resource_metadata="https://a/\"q\""`, `https://a/"q"`, ""},
		{`Bearer resource_metadata="unterminated`, "", ""},
		{``, "", ""},
	}
	for _, c := range cases {
		rm, scope := ParseChallenge(c.in)
		if rm != c.rm || scope != c.scope {
			t.Errorf("ParseChallenge(%q) = %q, %q; want %q, %q", c.in, rm, scope, c.rm, c.scope)
		}
	}
}
