package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// Grant.Check is the one place that says whether a grant can be made with
// what the caller has; the CLI asks it before any request.
func TestGrant_CheckSaysWhatAGrantNeeds(t *testing.T) {
	const noSecret, mistake, authMistake = "no secret", "mistake", "client auth"
	for _, tc := range []struct {
		name      string
		g         Grant
		hasSecret bool
		want      string // "" for none
	}{
		{"secret", Grant{Type: ClientCredentialsGrantType}, true, ""},
		{"key", Grant{Type: ClientCredentialsGrantType, Key: "k.pem"}, false, ""},
		{"neither secret nor key", Grant{Type: ClientCredentialsGrantType}, false, noSecret},
		{"forced post without the secret", Grant{Type: ClientCredentialsGrantType, Key: "", ClientAuth: AuthSecretPost}, false, noSecret},
		{"forced basic with a key", Grant{Type: ClientCredentialsGrantType, Key: "k.pem", ClientAuth: AuthSecretBasic}, true, authMistake},
		{"forced post with a key and no secret", Grant{Type: ClientCredentialsGrantType, Key: "k.pem", ClientAuth: AuthSecretPost}, false, authMistake},
		{"exchange of a public client", Grant{Type: TokenExchangeGrantType, SubjectToken: "env:CI"}, false, ""},
		{"exchange with a forced post and no secret", Grant{Type: TokenExchangeGrantType, SubjectToken: "env:CI", ClientAuth: AuthSecretPost}, false, noSecret},
		{"exchange without a source", Grant{Type: TokenExchangeGrantType}, false, mistake},
		{"exchange of an unknown source", Grant{Type: TokenExchangeGrantType, SubjectToken: "ftp:x"}, false, mistake},
		{"private_key_jwt without a key", Grant{Type: ClientCredentialsGrantType, ClientAuth: AuthPrivateKeyJWT}, true, authMistake},
		{"unknown grant", Grant{Type: "password"}, true, mistake},
		{"unknown client authentication", Grant{Type: ClientCredentialsGrantType, ClientAuth: "tls_client_auth"}, true, mistake},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			err := tc.g.Check(tc.hasSecret)
			switch tc.want {
			case "":
				is.NoErr(err)
			case noSecret:
				is.True(errors.Is(err, ErrNoClientSecret))
			default:
				is.True(err != nil)
				is.True(!errors.Is(err, ErrNoClientSecret))                     // a mistake, not a secret to ask for
				is.Equal(errors.Is(err, ErrClientAuth), tc.want == authMistake) // the method does not fit the client
			}
		})
	}
}

// A grant login that forces a secret method while it has a key fails
// before any request: the two cannot both authenticate the client.
func TestGrant_ForcedSecretMethodWithAKeySendsNothing(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Grant.Key, cfg.Grant.Alg, cfg.Grant.ClientAuth = "k.pem", AlgES256, AuthSecretBasic
	d := w.grantLogin(cfg)
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "not both"))
	is.Equal(len(w.srv.requests), 0)
}

// The scopes of a grant that names none come from the resolution: a host
// that is Databricks by what it says (not its name) asks for all-apis; an
// issuer asks for none; scopes given win.
func TestGrant_ScopesDefaultFromTheResolution(t *testing.T) {
	is := is.New(t)
	w, n := newWebWorld(t, newFakeServer(vanity+"/oidc"))
	n.srv.register(m2mClient, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	n.docs[vanity+"/.well-known/openid-configuration"] = Response{Status: 404}
	n.docs[vanity+"/.well-known/databricks-config"] = jsonResponse(200, map[string]any{"oidc_endpoint": vanity + "/oidc", "host_type": "workspace"})
	tg := Target{Host: vanity}
	res, err := w.resolve(tg)
	is.NoErr(err)
	is.Equal(res.GrantScopes, []string{"all-apis"})
	is.Equal(DefaultGrantScopes(tg), []string(nil)) // not by its name

	grant := func(scopes ...string) string {
		cfg := secretLogin()
		cfg.Target, cfg.Resolution, cfg.Grant.Scopes = tg, res, scopes
		d := w.grantLogin(cfg)
		is.NoErr(d.Err)
		is.Equal(d.Entry.Grant.Scopes, strings.Fields(w.srv.requests[len(w.srv.requests)-1].Form.Get("scope"))) // saved for the repeats
		return w.srv.requests[len(w.srv.requests)-1].Form.Get("scope")
	}
	is.Equal(grant(), "all-apis")
	is.Equal(grant("sql"), "sql")

	is.Equal(DefaultGrantScopes(Target{Host: dbxHost}), []string{"all-apis"})
	is.Equal(DefaultGrantScopes(Target{Host: m2mIssuer}), []string(nil))
	issuer := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Grant.Scopes = nil
	cfg.Resolution = &Resolution{Kind: KindIssuer, Issuer: m2mIssuer, Scopes: []string{"openid", "offline_access"}, Metadata: issuer.srv.metadata()}
	is.NoErr(issuer.grantLogin(cfg).Err)
	is.Equal(issuer.srv.requests[len(issuer.srv.requests)-1].Form.Get("scope"), "") // never a person's openid offline_access
}

// A GitHub Actions token exchanged at a Databricks host without an
// audience is asked for the one Databricks federation expects (as the
// Databricks SDKs ask): the token endpoint of a workspace, the account ID
// of an account. The source saved with the login is the completed one, so
// the repeats ask for the same.
func TestGrant_GitHubActionsAudienceAtADatabricksHost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target Target
		kind   Kind
		source string
		want   string
	}{
		{"workspace", Target{Host: "https://data.example.com"}, KindDatabricksWorkspace, "github-actions", "github-actions:TOKEN_ENDPOINT"},
		{"account", Target{Host: "https://accounts.cloud.databricks.com", AccountID: "acc-1"}, KindDatabricksAccount, "github-actions", "github-actions:acc-1"},
		{"audience given", Target{Host: "https://data.example.com"}, KindDatabricksWorkspace, "github-actions:custom", "github-actions:custom"},
		{"not Databricks", Target{Host: m2mIssuer}, KindIssuer, "github-actions", "github-actions"},
		{"another source", Target{Host: "https://data.example.com"}, KindDatabricksWorkspace, "env:CI", "env:CI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := m2mWorld(t, fakeClient{method: AuthNone})
			m := w.srv.metadata()
			want := strings.ReplaceAll(tc.want, "TOKEN_ENDPOINT", m.TokenEndpoint)
			w.srv.grants.subjects = map[string]bool{"ci-jwt": true}
			w.subjectTokens = map[string]string{want: "ci-jwt"}
			cfg := exchangeLogin()
			cfg.Target, cfg.Grant.SubjectToken = tc.target, tc.source
			cfg.Resolution = &Resolution{Kind: tc.kind, Issuer: m2mIssuer, Metadata: m}
			d := w.grantLogin(cfg)
			is.NoErr(d.Err) // the fake driver reads the subject token of want only
			is.Equal(d.Entry.Grant.SubjectToken, want)
		})
	}
}

// A client secret that lives elsewhere (a Databricks CLI config file,
// given again at every token call) is sent but never saved; one given at
// the login is saved for the store to keep apart.
func TestGrant_SecretElsewhereIsNotSaved(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.SecretElsewhere = true
	d := w.grantLogin(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientSecret, "")
	is.Equal(w.cache[m2mKey].ClientSecret, "")
	is.Equal(w.cache[m2mKey].Grant.ClientAuth, AuthSecretBasic)

	is.NoErr(w.grantLogin(secretLogin()).Err)
	is.Equal(w.cache[m2mKey].ClientSecret, m2mSecret)
}

// metadata is the server's metadata, as a resolution holds it.
func (s *fakeServer) metadata() Metadata {
	return Metadata{Issuer: s.issuer, AuthorizationEndpoint: s.meta["authorization_endpoint"].(string), TokenEndpoint: s.meta["token_endpoint"].(string)}
}
