package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/internal/dpopapi"
	"github.com/matryer/is"
)

// dpopGrantWorld: oidc-provider with DPoP (server nonces required) and
// resource indicators, and the strict API of internal/dpopapi.
func dpopGrantWorld(t *testing.T, m2m *deviceop.M2M) (*deviceWorld, *dpopapi.Server) {
	t.Helper()
	w := newDeviceWorld(t, deviceop.Options{ByURL: true, DPoP: true, Interval: time.Second, M2M: m2m})
	api := dpopapi.Start(w.op.Issuer)
	t.Cleanup(api.Close)
	return w, api
}

// entryOf is the login of the API (its cache key is the resource's).
func entryOf(t *testing.T, w *deviceWorld, api *dpopapi.Server) core.Entry {
	t.Helper()
	for k, e := range w.cacheFile().Tokens {
		if strings.HasPrefix(k, api.URL+" ") {
			return e
		}
	}
	t.Fatal("no login of the API in the cache")
	return core.Entry{}
}

// checkBoundAtTheAPI: auth token says DPoP, auth api gets through the
// strict resource (proof, nonce, cnf.jkt of the login's key), and the same
// access token sent as a bearer token is refused.
func checkBoundAtTheAPI(t *testing.T, w *deviceWorld, api *dpopapi.Server, e core.Entry) {
	t.Helper()
	is := is.New(t)
	is.Equal(e.TokenType, "DPoP")
	is.True(e.DPoP != nil && e.DPoP.JKT == e.DPoP.JWK.Thumbprint())

	tok := w.auth("token", api.URL)
	is.Equal(tok.code, 0)
	is.True(strings.Contains(tok.stdout, `"token_type": "DPoP"`))

	accepted := api.Accepted()
	out := w.auth("api", api.URL, "/api/things")
	if out.code != 0 {
		t.Fatalf("auth api failed (%d):\n%s", out.code, out.stderr)
	}
	is.True(strings.Contains(out.stdout, `"path":"/api/things"`))
	is.Equal(api.Accepted(), accepted+1)

	req, _ := http.NewRequest("GET", api.URL+"/api/things", nil)
	req.Header.Set("Authorization", "Bearer "+e.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, 401)
	is.Equal(api.Refused("bearer"), 1)
}

// A device login (RFC 8628) to an API that requires DPoP-bound tokens, by
// its URL, against the real oidc-provider: --dpop auto binds the tokens
// (the device-code polls carry proofs, the server's nonce answered), and
// the strict API takes them only with proofs. A refresh after expiry stays
// bound to the same key.
func TestCLI_DPoPDeviceLoginIsBoundAndTheAPIAcceptsItOnlyWithProofs(t *testing.T) {
	is := is.New(t)
	w, api := dpopGrantWorld(t, nil)
	r := startAuth(t, w.environ(), "login", api.URL, "--client-id", w.op.ClientID, "--device", "--timeout", "40s")
	line := r.waitFor("/device?user_code=", 10*time.Second)
	is.NoErr(w.op.Approve(t.Context(), completeURL(t, line)))
	res := r.wait(30 * time.Second)
	if res.code != 0 {
		t.Fatalf("device login failed (%d):\n%s", res.code, res.stderr)
	}
	e := entryOf(t, w, api)
	checkBoundAtTheAPI(t, w, api, e)
	is.True(w.op.Count("urn:ietf:params:oauth:grant-type:device_code") >= 1)

	expire(t, w, api.URL)
	tok := w.auth("token", api.URL, "-o", "text")
	is.Equal(tok.code, 0)
	e2 := entryOf(t, w, api)
	is.True(e2.AccessToken != e.AccessToken)
	is.Equal(e2.DPoP.Key, e.DPoP.Key)
	is.Equal(e2.TokenType, "DPoP")
	out := w.auth("api", api.URL, "/api/after-refresh")
	is.Equal(out.code, 0)
}

// A client-credentials login (a service, no person) to the same kind of
// API with --dpop always, against the real oidc-provider with the client
// registered for bound tokens: the grant carries a proof, the token is
// bound, the strict API accepts it through auth api and refuses it as a
// bearer token; the repeated grant after expiry is bound to the same key.
func TestCLI_DPoPClientCredentialsLoginIsBoundAndTheAPIAcceptsItOnlyWithProofs(t *testing.T) {
	is := is.New(t)
	const secret = "dpop-service-secret-0123456789abcdef"
	none := []string{}
	w, api := dpopGrantWorld(t, &deviceop.M2M{Clients: []map[string]any{{
		"client_id": "svc-dpop", "client_secret": secret, "token_endpoint_auth_method": "client_secret_post",
		"grant_types": []string{"client_credentials"}, "redirect_uris": none, "response_types": none,
		"dpop_bound_access_tokens": true,
	}}})
	r := startAuth(t, w.environ(), "login", api.URL, "--client-id", "svc-dpop", "--client-secret-stdin", "--dpop", "always", "--timeout", "30s")
	r.paste(secret)
	r.stdin.Close()
	res := r.wait(30 * time.Second)
	if res.code != 0 {
		t.Fatalf("client-credentials login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(!strings.Contains(res.stderr, secret))
	e := entryOf(t, w, api)
	is.True(e.Grant != nil)
	checkBoundAtTheAPI(t, w, api, e)

	grants := w.op.Count("client_credentials")
	expire(t, w, api.URL)
	tok := w.auth("token", api.URL, "-o", "text")
	is.Equal(tok.code, 0)
	is.True(w.op.Count("client_credentials") > grants)
	e2 := entryOf(t, w, api)
	is.True(e2.AccessToken != e.AccessToken)
	is.Equal(e2.DPoP.Key, e.DPoP.Key)
	out := w.auth("api", api.URL, "/api/after-grant")
	is.Equal(out.code, 0)
}
