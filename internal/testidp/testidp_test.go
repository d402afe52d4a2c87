package testidp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/matryer/is"
	"golang.org/x/oauth2"
)

func start(t *testing.T, opts testidp.Options) *testidp.Server {
	t.Helper()
	srv, err := testidp.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func config(srv *testidp.Server, redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:    "cli",
		Endpoint:    oauth2.Endpoint{AuthURL: srv.Issuer + "/auth", TokenURL: srv.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"openid", "offline_access"},
	}
}

// login runs a full code + PKCE login and returns the token.
func login(t *testing.T, srv *testidp.Server, redirect string) *oauth2.Token {
	t.Helper()
	is := is.New(t)
	cfg := config(srv, redirect)
	verifier := oauth2.GenerateVerifier()
	final, err := srv.Login(cfg.AuthCodeURL("state-1234", oauth2.S256ChallengeOption(verifier)))
	is.NoErr(err)
	is.Equal(final.Query().Get("state"), "state-1234")
	is.True(final.Query().Get("code") != "")
	tok, err := cfg.Exchange(context.Background(), final.Query().Get("code"), oauth2.VerifierOption(verifier))
	is.NoErr(err)
	return tok
}

func TestServer_IssuerIsLoopbackAndDiscoveryMatches(t *testing.T) {
	is := is.New(t)
	srv := start(t, testidp.Options{Clients: []testidp.Client{{ID: "cli"}}})
	is.True(strings.HasPrefix(srv.Issuer, "http://127.0.0.1:"))
	resp, err := http.Get(srv.Issuer + "/.well-known/openid-configuration")
	is.NoErr(err)
	defer resp.Body.Close()
	var m struct {
		Issuer     string `json:"issuer"`
		Token      string `json:"token_endpoint"`
		Revocation string `json:"revocation_endpoint"`
	}
	is.NoErr(json.NewDecoder(resp.Body).Decode(&m))
	is.Equal(m.Issuer, srv.Issuer)
	is.Equal(m.Token, srv.Issuer+"/oauth/token")
	is.Equal(m.Revocation, srv.Issuer+"/revoke")
}

func TestLogin_AcceptsAnyLoopbackPortForRegisteredPath(t *testing.T) {
	srv := start(t, testidp.Options{Clients: []testidp.Client{{ID: "cli", RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	for _, redirect := range []string{
		"http://127.0.0.1:40123/callback",
		"http://127.0.0.1:8020/callback",
		"http://localhost:8020/callback",
	} {
		t.Run(redirect, func(t *testing.T) {
			is := is.New(t)
			tok := login(t, srv, redirect)
			is.True(tok.AccessToken != "")
			is.True(tok.RefreshToken != "")
		})
	}
}

func TestLogin_RejectsUnregisteredPath(t *testing.T) {
	is := is.New(t)
	srv := start(t, testidp.Options{Clients: []testidp.Client{{ID: "cli"}}})
	cfg := config(srv, "http://127.0.0.1:40123/other")
	_, err := srv.Login(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	// The provider shows an error page instead of redirecting anywhere.
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "HTTP 400"))
}

func TestRequests_CountsTokenEndpointCallsByGrantType(t *testing.T) {
	is := is.New(t)
	srv := start(t, testidp.Options{Clients: []testidp.Client{{ID: "cli"}}, AccessTTL: 2 * time.Second})
	tok := login(t, srv, "http://127.0.0.1:1234/callback")
	is.Equal(srv.Requests("authorization_code"), 1)
	is.Equal(srv.Requests("refresh_token"), 0)
	is.True(time.Until(tok.Expiry) <= 3*time.Second) // AccessTTL honoured

	cfg := config(srv, "http://127.0.0.1:1234/callback")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}}
	resp, err := http.PostForm(cfg.Endpoint.TokenURL, form)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, 200)
	// Rotation: the same refresh token a second time is invalid_grant.
	resp, err = http.PostForm(cfg.Endpoint.TokenURL, form)
	is.NoErr(err)
	var e struct{ Error string }
	is.NoErr(json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	is.Equal(e.Error, "invalid_grant")
	is.Equal(srv.Requests("refresh_token"), 2)
	is.Equal(srv.Stats()["refresh_token"], 2)
	is.Equal(srv.TotalRequests(), 7) // 4 login pages + code + 2 refreshes
}

func TestTokenEndpoint_AllowsBrowserOriginsIncludingPreflight(t *testing.T) {
	is := is.New(t)
	srv := start(t, testidp.Options{Clients: []testidp.Client{{ID: "cli"}}})
	req, _ := http.NewRequest(http.MethodOptions, srv.Issuer+"/oauth/token", nil)
	req.Header.Set("Origin", "http://127.0.0.1:9999")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.True(resp.StatusCode < 300)
	is.Equal(resp.Header.Get("Access-Control-Allow-Origin"), "http://127.0.0.1:9999")
	is.Equal(srv.Requests(""), 0) // preflights are not counted

	req, _ = http.NewRequest(http.MethodPost, srv.Issuer+"/oauth/token", strings.NewReader("grant_type=refresh_token&refresh_token=x&client_id=cli"))
	req.Header.Set("Origin", "http://127.0.0.1:9999")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.Header.Get("Access-Control-Allow-Origin"), "http://127.0.0.1:9999")
}

func TestStart_RefusesNonLoopbackAddress(t *testing.T) {
	is := is.New(t)
	_, err := testidp.Start(testidp.Options{Addr: "0.0.0.0:0"})
	is.True(err != nil)
}
