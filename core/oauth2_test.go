//go:build !(js && wasm)

package core

import (
	"net/url"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/oauth2"
)

// The authorize URL is written out by hand to keep x/oauth2 (and net/http)
// out of the wasm; natively, it must be exactly what x/oauth2 builds.
func TestAuthorizeURL_SameAsOAuth2AuthCodeURL(t *testing.T) {
	for name, endpoint := range map[string]string{
		"PlainEndpoint":     dbxIssuer + "/v1/authorize",
		"EndpointWithQuery": dbxIssuer + "/v1/authorize?tenant=a",
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := newFakeServer(dbxIssuer)
			srv.meta["authorization_endpoint"] = endpoint
			w := newWorld(t, srv)
			cfg := dbxLogin()
			cfg.Scopes = []string{"openid", "offline_access"}
			cfg.AuthParams = url.Values{"audience": {"api"}}
			l := NewLogin(cfg)
			got := untilAuthorize(t, w, l, &counter{}).URL
			p := l.Pending()
			want := (&oauth2.Config{
				ClientID:    p.ClientID,
				Endpoint:    oauth2.Endpoint{AuthURL: endpoint},
				RedirectURL: p.RedirectURI,
				Scopes:      p.Scopes,
			}).AuthCodeURL(p.State,
				oauth2.SetAuthURLParam("audience", "api"),
				oauth2.SetAuthURLParam("nonce", p.Nonce),
				oauth2.S256ChallengeOption(p.Verifier))
			is.Equal(got, want)
			is.Equal(S256Challenge(p.Verifier), oauth2.S256ChallengeFromVerifier(p.Verifier))
		})
	}
}
