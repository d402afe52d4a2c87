package core

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

const (
	m2mIssuer = "https://idp.example.com"
	m2mClient = "svc-1"
	m2mSecret = "s3cr3t-VALUE-42"
)

// m2mWorld is a world whose server knows client svc-1 for one method.
func m2mWorld(t *testing.T, c fakeClient) *world {
	srv := newFakeServer(m2mIssuer)
	srv.openID = true
	srv.register(m2mClient, c)
	return newWorld(t, srv)
}

func (w *world) grantLogin(cfg GrantConfig) Done {
	w.logf("# grant login %s %s", cfg.Target.Host, cfg.Grant.Type)
	d := Drive(NewGrantLogin(cfg), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	w.logDone(d)
	return d
}

func secretLogin() GrantConfig {
	return GrantConfig{
		Target: Target{Host: m2mIssuer},
		Client: Client{ID: m2mClient, Secret: m2mSecret},
		Grant:  Grant{Type: ClientCredentialsGrantType, Scopes: []string{"api"}},
	}
}

func m2mToken() RefreshConfig {
	return RefreshConfig{Target: Target{Host: m2mIssuer}, Client: Client{ID: m2mClient}}
}

var m2mKey = Key(m2mIssuer, m2mClient)

// A client secret login is a grant, saved under the lock; the valid token
// then comes from the cache alone; the expired one makes the grant again
// under the lock, with the secret the store keeps (no refresh token, no
// Reserve: nothing is spent).
func TestTranscript_ClientCredentials(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	d := w.grantLogin(secretLogin())
	is.NoErr(d.Err)
	e := w.cache[m2mKey]
	is.Equal(e.RefreshToken, "")
	is.Equal(e.ClientSecret, m2mSecret) // for the store to keep apart
	is.Equal(e.Grant.ClientAuth, AuthSecretBasic)

	is.NoErr(w.token(m2mToken()).Err) // valid: cache only
	w.now = w.now.Add(2 * time.Hour)
	d = w.token(m2mToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "access-2")
	is.Equal(grantRequests(w.srv), 2)
	checkTranscript(t, "grant_client_secret", w.transcript())
}

// Servers register a client for one method: basic refused with
// invalid_client is retried once with post, and post is remembered.
func TestGrant_InvalidClientWithBasicRetriesPostOnceAndRemembers(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretPost, secret: m2mSecret})
	is.NoErr(w.grantLogin(secretLogin()).Err)
	is.Equal(grantRequests(w.srv), 2) // basic, then post
	is.Equal(w.cache[m2mKey].Grant.ClientAuth, AuthSecretPost)

	w.now = w.now.Add(2 * time.Hour)
	is.NoErr(w.token(m2mToken()).Err)
	is.Equal(grantRequests(w.srv), 3) // post at once
	last := w.srv.requests[len(w.srv.requests)-1]
	is.Equal(last.Form.Get("client_secret"), m2mSecret)
	is.Equal(last.Header["Authorization"], "")
	checkTranscript(t, "grant_post_fallback", w.transcript())
}

func TestGrant_MetadataListingOnlyPostUsesPost(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretPost, secret: m2mSecret})
	w.srv.meta["token_endpoint_auth_methods_supported"] = []string{AuthSecretPost, AuthPrivateKeyJWT}
	is.NoErr(w.grantLogin(secretLogin()).Err)
	is.Equal(grantRequests(w.srv), 1)
}

func TestGrant_ForcedMethodIsNotRetried(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretPost, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Grant.ClientAuth, cfg.Grant.AuthForced = AuthSecretBasic, true
	d := w.grantLogin(cfg)
	is.True(errors.Is(d.Err, &OAuthError{Code: "invalid_client"}))
	is.Equal(grantRequests(w.srv), 1)
	is.Equal(len(w.cache), 0) // nothing saved
}

// A wrong secret: refused with both methods, one line, nothing saved, and
// the secret in no message.
func TestGrant_WrongSecretSavesNothing(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: "the-right-one"})
	d := w.grantLogin(secretLogin())
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "refused client svc-1"))
	is.True(!strings.Contains(d.Err.Error(), m2mSecret))
	is.Equal(grantRequests(w.srv), 2)
	is.Equal(len(w.cache), 0)
	for _, l := range w.log {
		is.True(!strings.HasPrefix(l, "Lock")) // not even the lock
	}
}

// The server echoing the request in error_description: the secret sent
// in the Basic header, the assertion and the subject token are redacted.
func TestGrant_ServerEchoNeverCarriesSecrets(t *testing.T) { // S33
	is := is.New(t)
	for _, cfg := range []GrantConfig{secretLogin(), keyLogin(), exchangeLogin()} {
		w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
		w.subjectTokens = map[string]string{"env:CI_TOKEN": "subject-JWT-777"}
		var sent []string
		w.onFetch = func(r Request) (Response, error) {
			if r.Method == "GET" {
				return w.srv.serve(r), nil
			}
			sent = append(sent, r.Header["Authorization"], r.Body())
			return jsonResponse(400, map[string]string{"error": "invalid_request", "error_description": "bad " + r.Header["Authorization"] + " " + r.Body()}), nil
		}
		d := w.grantLogin(cfg)
		is.True(d.Err != nil)
		msg := d.Err.Error()
		is.True(strings.Contains(msg, "[redacted]"))
		for _, s := range []string{m2mSecret, "subject-JWT-777"} {
			is.True(!strings.Contains(msg, s))
		}
		if cfg.Grant.Key != "" {
			is.True(!strings.Contains(msg, "eyJ")) // no part of the assertion
		}
	}
}

func keyLogin() GrantConfig {
	return GrantConfig{
		Target: Target{Host: m2mIssuer},
		Client: Client{ID: m2mClient},
		Grant:  Grant{Type: ClientCredentialsGrantType, Key: "/keys/svc.pem", Alg: AlgES256},
	}
}

// private_key_jwt: the driver signs, the core never sees the key; each
// grant signs a new assertion (S34).
func TestTranscript_PrivateKeyJWT(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthPrivateKeyJWT, key: "/keys/svc.pem"})
	is.NoErr(w.grantLogin(keyLogin()).Err)
	e := w.cache[m2mKey]
	is.Equal(e.Grant.ClientAuth, AuthPrivateKeyJWT)
	is.Equal(e.ClientSecret, "")
	w.now = w.now.Add(2 * time.Hour)
	is.NoErr(w.token(m2mToken()).Err)
	is.Equal(len(w.srv.grants.claims), 2)
	checkTranscript(t, "grant_private_key_jwt", w.transcript())
}

func TestGrant_AssertionClaims(t *testing.T) { // S34
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthPrivateKeyJWT, key: "/keys/svc.pem"})
	is.NoErr(w.grantLogin(keyLogin()).Err)
	w.now = w.now.Add(2 * time.Hour)
	is.NoErr(w.token(m2mToken()).Err)
	cs := w.srv.grants.claims
	is.Equal(len(cs), 2)
	for i, c := range cs {
		is.Equal(c.Issuer, m2mClient)
		is.Equal(c.Subject, m2mClient)
		is.Equal(c.Audience, m2mIssuer+"/v1/token") // the token endpoint
		is.True(len(c.JWTID) >= 22)                 // 128 bits
		is.True(c.Expiry > c.IssuedAt)
		is.True(c.Expiry-c.IssuedAt <= 300) // ≤ 5 min
		want := t0
		if i == 1 {
			want = t0.Add(2 * time.Hour)
		}
		is.Equal(c.IssuedAt, want.Unix()) // made at the grant, from the driver's clock
	}
	is.True(cs[0].JWTID != cs[1].JWTID) // fresh jti
}

func TestGrant_AssertionHeaderNamesAlg(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthPrivateKeyJWT, key: "/keys/svc.pem"})
	var input string
	w.onSign = func(s Sign) Signed {
		input = string(s.Input)
		return Signed{Signature: fakeSignature(s.Key, s.Input)}
	}
	cfg := keyLogin()
	cfg.Grant.Alg = AlgRS256
	is.NoErr(w.grantLogin(cfg).Err)
	h, _, _ := strings.Cut(input, ".")
	is.Equal(h, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9") // {"alg":"RS256","typ":"JWT"}
}

func TestGrant_SignFailureSavesNothing(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthPrivateKeyJWT, key: "/keys/svc.pem"})
	w.onSign = func(Sign) Signed { return Signed{Err: errors.New("key is RSA, not the ES256 key of the login")} }
	d := w.grantLogin(keyLogin())
	is.True(strings.Contains(d.Err.Error(), "signing the client assertion with /keys/svc.pem: key is RSA"))
	is.Equal(grantRequests(w.srv), 0)
	is.Equal(len(w.cache), 0)
}

func exchangeLogin() GrantConfig {
	return GrantConfig{
		Target: Target{Host: m2mIssuer},
		Client: Client{ID: m2mClient},
		Grant:  Grant{Type: TokenExchangeGrantType, SubjectToken: "env:CI_TOKEN"},
	}
}

// Token exchange: the subject token is read afresh at each exchange and
// never stored.
func TestTranscript_TokenExchange(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthNone})
	w.srv.grants.subjects = map[string]bool{"ci-jwt-1": true, "ci-jwt-2": true}
	w.subjectTokens = map[string]string{"env:CI_TOKEN": "ci-jwt-1"}
	is.NoErr(w.grantLogin(exchangeLogin()).Err)
	e := w.cache[m2mKey]
	is.Equal(e.Grant.ClientAuth, AuthNone)
	is.True(!strings.Contains(fmt.Sprintf("%+v", e), "ci-jwt-1")) // not stored

	w.srv.grants.subjects["ci-jwt-1"] = false // the job's first token expired…
	w.subjectTokens["env:CI_TOKEN"] = "ci-jwt-2"
	w.now = w.now.Add(2 * time.Hour)
	d := w.token(m2mToken())
	is.NoErr(d.Err) // …and the new one is read
	last := w.srv.requests[len(w.srv.requests)-1]
	is.Equal(last.Form.Get("subject_token"), "ci-jwt-2")
	is.Equal(last.Form.Get("subject_token_type"), JWTTokenType)
	is.Equal(last.Form.Get("client_id"), m2mClient)
	checkTranscript(t, "grant_token_exchange", w.transcript())
}

// A refused subject token (forged, expired): invalid_grant, said as such;
// at login nothing is saved, at token time the entry stays as it was.
func TestGrant_RefusedSubjectTokenIsInvalidGrant(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthNone})
	w.srv.grants.subjects = map[string]bool{"good": true}
	w.subjectTokens = map[string]string{"env:CI_TOKEN": "forged"}
	d := w.grantLogin(exchangeLogin())
	is.True(errors.Is(d.Err, ErrInvalidGrant))
	is.True(strings.Contains(d.Err.Error(), "refused the subject token from env:CI_TOKEN"))
	is.True(!strings.Contains(d.Err.Error(), "forged"))
	is.Equal(len(w.cache), 0)

	w.subjectTokens["env:CI_TOKEN"] = "good"
	is.NoErr(w.grantLogin(exchangeLogin()).Err)
	before := w.cache[m2mKey]
	w.subjectTokens["env:CI_TOKEN"] = "expired"
	w.now = w.now.Add(2 * time.Hour)
	d = w.token(m2mToken())
	is.True(errors.Is(d.Err, ErrInvalidGrant))
	is.Equal(w.cache[m2mKey], before)
}

func TestGrant_UnreadableSubjectTokenSendsNothing(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthNone})
	w.subjectTokens = map[string]string{}
	d := w.grantLogin(exchangeLogin())
	is.True(strings.Contains(d.Err.Error(), "reading the subject token (env:CI_TOKEN): no such source"))
	is.Equal(grantRequests(w.srv), 0)
	w.subjectTokens["env:CI_TOKEN"] = "  \n"
	d = w.grantLogin(exchangeLogin())
	is.True(strings.Contains(d.Err.Error(), "it is empty"))
	is.Equal(grantRequests(w.srv), 0)
}

// Expiry under the lock: while this caller waited, another process made
// the grant; the token it saved is used and no grant is made (S20).
func TestGrant_AnotherProcessGrantedWhileWaitingForLock(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	is.NoErr(w.grantLogin(secretLogin()).Err)
	w.now = w.now.Add(2 * time.Hour)
	w.onLock = func() error {
		e := w.cache[m2mKey]
		e.AccessToken, e.Expiry, e.ObtainedAt = "granted-by-other", w.now.Add(time.Hour), w.now
		w.cache[m2mKey] = e
		return nil
	}
	w.log = nil
	d := w.token(m2mToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "granted-by-other")
	is.Equal(grantRequests(w.srv), 1) // the login's only
	checkTranscript(t, "grant_expiry_under_lock", w.transcript())
}

// The store lost the secret (a keyring item removed): log in again.
func TestGrant_MissingSecretAsksForLogin(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	is.NoErr(w.grantLogin(secretLogin()).Err)
	e := w.cache[m2mKey]
	e.ClientSecret = ""
	w.cache[m2mKey] = e
	w.now = w.now.Add(2 * time.Hour)
	d := w.token(m2mToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
	is.True(errors.Is(d.Err, ErrNoClientSecret))
	is.True(strings.Contains(d.Err.Error(), "run `auth login "+m2mIssuer+" --client-id svc-1 --client-secret-stdin` (or with --client-key or --subject-token")) // never a browser login
	is.Equal(grantRequests(w.srv), 1)

	// A secret given by the caller (a Databricks config profile) serves.
	cfg := m2mToken()
	cfg.Client.Secret = m2mSecret
	is.NoErr(w.token(cfg).Err)
}

// A new token for an unusable answer is not made up: the error is said,
// and the current token, when still valid (--force-refresh), is kept.
func TestGrant_FailedForcedGrantKeepsValidToken(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	is.NoErr(w.grantLogin(secretLogin()).Err)
	w.onFetch = func(Request) (Response, error) { return Response{}, errors.New("connection refused") }
	cfg := m2mToken()
	cfg.Force = true
	d := w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "access-1")
	is.Equal(len(w.warnings), 1)
}

func TestGrant_ScopesSentAndSaved(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	is.NoErr(w.grantLogin(secretLogin()).Err)
	is.Equal(w.srv.requests[len(w.srv.requests)-1].Form.Get("scope"), "api")
	is.Equal(w.cache[m2mKey].Grant.Scopes, []string{"api"})
	is.Equal(w.cache[m2mKey].Scopes, []string{"api"})
}

func TestGrant_BadConfigFailsBeforeAnyRequest(t *testing.T) {
	for name, cfg := range map[string]GrantConfig{
		"NoSecretNoKey": {Target: Target{Host: m2mIssuer}, Client: Client{ID: m2mClient}, Grant: Grant{Type: ClientCredentialsGrantType}},
		"NoClient":      {Target: Target{Host: m2mIssuer}, Client: Client{Secret: "x"}, Grant: Grant{Type: ClientCredentialsGrantType}},
		"BadSource":     {Target: Target{Host: m2mIssuer}, Client: Client{ID: m2mClient}, Grant: Grant{Type: TokenExchangeGrantType, SubjectToken: "ftp:x"}},
		"PostNoSecret":  {Target: Target{Host: m2mIssuer}, Client: Client{ID: m2mClient}, Grant: Grant{Type: TokenExchangeGrantType, SubjectToken: "env:X", ClientAuth: AuthSecretPost}},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			w := m2mWorld(t, fakeClient{})
			is.True(w.grantLogin(cfg).Err != nil)
			is.Equal(len(w.srv.requests), 0)
		})
	}
}

func TestParseSubjectTokenSource(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]SubjectTokenSource{
		"github-actions":                     {SourceGitHubActions, ""},
		"github-actions:api://AzureADTokenX": {SourceGitHubActions, "api://AzureADTokenX"},
		"file:/var/run/secrets/token":        {SourceFile, "/var/run/secrets/token"},
		"env:CI_JOB_JWT":                     {SourceEnv, "CI_JOB_JWT"},
	} {
		got, err := ParseSubjectTokenSource(in)
		is.NoErr(err)
		is.Equal(got, want)
	}
	for _, bad := range []string{"", "file:", "env:", "gitlab", "github"} {
		_, err := ParseSubjectTokenSource(bad)
		is.True(err != nil)
	}
}

func TestGitHubIDToken_RequestAndResponse(t *testing.T) {
	is := is.New(t)
	r, err := GitHubIDTokenRequest("https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0", "req-token", "https://adb-1.2.azuredatabricks.net")
	is.NoErr(err)
	is.Equal(r.Method, "GET")
	is.Equal(r.URL, "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=https%3A%2F%2Fadb-1.2.azuredatabricks.net")
	is.Equal(r.Header["Authorization"], "Bearer req-token")
	_, err = GitHubIDTokenRequest("http://evil.example.com/x", "t", "")
	is.True(err != nil) // the bearer is sent over https only (loopback for tests)

	tok, err := ParseGitHubIDToken(jsonResponse(200, map[string]string{"value": "eyJ.x.y"}))
	is.NoErr(err)
	is.Equal(tok, "eyJ.x.y")
	_, err = ParseGitHubIDToken(Response{Status: 403, ContentType: "text/plain", Body: []byte("req-token bad")})
	is.True(err != nil)
	is.True(!strings.Contains(err.Error(), "req-token"))
}

// A login resolved to a protected resource (RFC 9728) asks for a token for
// it: resource= on the first grant and on every repeat (RFC 8707), and the
// login is kept under the resource.
func TestGrant_ResolvedResourceIsSentOnEveryGrant(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	const api = "https://api.example.com/v1"
	meta := Metadata{Issuer: m2mIssuer, AuthorizationEndpoint: m2mIssuer + "/v1/authorize", TokenEndpoint: m2mIssuer + "/v1/token"}
	cfg := secretLogin()
	cfg.Target = Target{Host: api}
	cfg.Resolution = &Resolution{Kind: KindResource, Issuer: m2mIssuer, Resource: api, Metadata: meta}
	is.NoErr(w.grantLogin(cfg).Err)
	is.Equal(len(w.srv.requests), 1) // no discovery: the resolution had the metadata
	is.Equal(w.srv.requests[0].Form.Get("resource"), api)
	e, ok := w.cache[Key(api, m2mClient)]
	is.True(ok)
	is.Equal(e.Resource, api)

	w.now = w.now.Add(2 * time.Hour)
	tc := m2mToken()
	tc.Target = Target{Host: api}
	is.NoErr(w.token(tc).Err)
	is.Equal(w.srv.requests[1].Form.Get("resource"), api)
}

// The first token of a saved grant (auth token on a profile with no login
// yet, Once) takes the lock before the grant, makes the grant and saves it
// under that same lock.
func TestGrant_OnceLocksBeforeTheGrantAndSavesUnderTheSameLock(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Once = true
	var order []string
	w.onLock = func() error {
		order = append(order, fmt.Sprintf("lock after %d grants", grantRequests(w.srv)))
		return nil
	}
	d := w.grantLogin(cfg)
	is.NoErr(d.Err)
	is.Equal(order, []string{"lock after 0 grants"}) // one lock, before the grant
	is.Equal(grantRequests(w.srv), 1)
	is.Equal(w.cache[m2mKey].AccessToken, d.Token.AccessToken)
	is.True(!w.locked)
}

// N parallel first calls make one grant: a caller that waited for the lock
// while another made the grant hands out the token saved meanwhile.
func TestGrant_OnceUsesTheTokenAnotherProcessSavedWhileItWaited(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Once = true
	w.onLock = func() error {
		w.cache[m2mKey] = Entry{Host: m2mIssuer, ClientID: m2mClient, AccessToken: "granted-by-other",
			TokenType: "Bearer", Expiry: w.now.Add(time.Hour), ObtainedAt: w.now, Metadata: Metadata{Issuer: m2mIssuer}}
		return nil
	}
	d := w.grantLogin(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "granted-by-other")
	is.Equal(grantRequests(w.srv), 0)
	is.True(!w.locked)

	// One that expires within the skew is not handed out: the grant is made.
	w.onLock = func() error {
		e := w.cache[m2mKey]
		e.Expiry, e.ObtainedAt = w.now.Add(time.Second), w.now.Add(-time.Hour)
		w.cache[m2mKey] = e
		return nil
	}
	d = w.grantLogin(cfg)
	is.NoErr(d.Err)
	is.True(d.Token.AccessToken != "granted-by-other")
	is.Equal(grantRequests(w.srv), 1)
}

// A failed first grant releases the lock it took and saves nothing.
func TestGrant_OnceFailureUnlocksAndSavesNothing(t *testing.T) {
	is := is.New(t)
	w := m2mWorld(t, fakeClient{method: AuthSecretBasic, secret: m2mSecret})
	cfg := secretLogin()
	cfg.Once = true
	cfg.Client.Secret = "wrong"
	cfg.Grant.ClientAuth, cfg.Grant.AuthForced = AuthSecretBasic, true
	d := w.grantLogin(cfg)
	is.True(d.Err != nil)
	is.True(!w.locked)
	_, saved := w.cache[m2mKey]
	is.True(!saved)
}
