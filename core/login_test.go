package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// untilAuthorize runs a login up to its Authorize effect and returns it.
func untilAuthorize(t *testing.T, w *world, l *Login, rnd *counter) Authorize {
	t.Helper()
	var ev Event = Start{Now: w.now, Rand: rnd}
	for i := 0; i < 20; i++ {
		effs := l.Step(ev)
		for _, e := range effs {
			switch e := e.(type) {
			case Authorize:
				return e
			case Done:
				t.Fatalf("login ended before Authorize: %v", e.Err)
			}
			ev = w.perform(e)
		}
	}
	t.Fatal("no Authorize")
	return Authorize{}
}

// finish feeds a callback and drives the login to its end.
func finish(w *world, l *Login, q url.Values) Done {
	return Drive(l, Callback{Query: q, Now: w.now}, w.perform)
}

func authQuery(t *testing.T, a Authorize) url.Values {
	u, err := url.Parse(a.URL)
	is.New(t).NoErr(err)
	return u.Query()
}

func tokenRequests(s *fakeServer) int {
	n := 0
	for _, r := range s.requests {
		if r.URL == s.meta["token_endpoint"] {
			n++
		}
	}
	return n
}

func TestLogin_VerifierIs32FreshRandomBytesBase64URL(t *testing.T) { // S1
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	seen := map[string]bool{}
	for _, start := range []byte{0, 7, 200} {
		l := NewLogin(dbxLogin())
		untilAuthorize(t, w, l, &counter{n: start})
		v := l.Pending().Verifier
		is.Equal(len(v), 43) // 32 bytes, base64url, no padding
		raw, err := base64.RawURLEncoding.DecodeString(v)
		is.NoErr(err)
		is.Equal(raw[0], start+32) // drawn from the entropy given, after the state
		for _, c := range v {
			is.True(strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", c))
		}
		is.True(!seen[v]) // fresh for every login
		seen[v] = true
	}
}

func TestPKCE_S256MatchesRFC7636AppendixB(t *testing.T) { // S2
	is := is.New(t)
	octets := []byte{116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
		22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121}
	rnd := append(make([]byte, 32), octets...)
	rnd = append(rnd, make([]byte, 32)...)
	w := newWorld(t, newFakeServer(dbxIssuer))
	l := NewLogin(dbxLogin())
	var ev Event = Start{Now: w.now, Rand: bytes.NewReader(rnd)}
	var a Authorize
	for a.URL == "" {
		for _, e := range l.Step(ev) {
			if az, ok := e.(Authorize); ok {
				a = az
				break
			}
			ev = w.perform(e)
		}
	}
	is.Equal(l.Pending().Verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	q := authQuery(t, a)
	is.Equal(q.Get("code_challenge"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	is.Equal(q.Get("code_challenge_method"), "S256")
}

func TestPKCE_NeverPlainNeverDowngrade(t *testing.T) { // S2
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	srv.meta["code_challenge_methods_supported"] = []string{"plain"}
	w := newWorld(t, srv)
	d := w.login(dbxLogin())
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "never downgrades"))
	is.Equal(tokenRequests(srv), 0)
	is.Equal(w.authURL, "") // the browser was never opened
}

func TestPKCE_SentWhenMetadataOmitsMethods(t *testing.T) { // S3
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	delete(srv.meta, "code_challenge_methods_supported")
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	q := authQuery(t, untilAuthorize(t, w, l, &counter{}))
	is.Equal(q.Get("code_challenge_method"), "S256")
	sum := sha256.Sum256([]byte(l.Pending().Verifier))
	is.Equal(q.Get("code_challenge"), base64.RawURLEncoding.EncodeToString(sum[:]))
}

func TestTokenRequest_CarriesVerifierAndExactRedirectURI(t *testing.T) { // S4
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	cfg := dbxLogin()
	cfg.RedirectURI = "http://127.0.0.1:53123/callback"
	is.NoErr(w.login(cfg).Err)
	var tr Request
	for _, r := range srv.requests {
		if r.Form.Get("grant_type") == "authorization_code" {
			tr = r
		}
	}
	is.Equal(tr.Form.Get("redirect_uri"), "http://127.0.0.1:53123/callback")
	is.Equal(tr.Form.Get("redirect_uri"), authQuery(t, Authorize{URL: w.authURL}).Get("redirect_uri"))
	is.Equal(len(tr.Form.Get("code_verifier")), 43)
	is.Equal(tr.Form.Get("client_id"), "databricks-cli")
	is.Equal(tr.Header["Authorization"], "") // public client: no Basic header
}

func TestTokenRequest_CodeSentOnceEvenWhenRejected(t *testing.T) { // S4
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	w.onFetch = func(r Request) (Response, error) {
		if r.Form.Get("grant_type") == "authorization_code" {
			srv.requests = append(srv.requests, r)
			return jsonResponse(401, map[string]string{"error": "invalid_client"}), nil
		}
		return srv.serve(r), nil
	}
	d := w.login(dbxLogin())
	is.True(errors.Is(d.Err, &OAuthError{Code: "invalid_client"}))
	is.Equal(tokenRequests(srv), 1) // no retry with another client auth style
}

func TestState_256BitsAndSingleUse(t *testing.T) { // S5, S29 (core part)
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	state := authQuery(t, a).Get("state")
	raw, err := base64.RawURLEncoding.DecodeString(state)
	is.NoErr(err)
	is.Equal(len(raw)*8, 256)
	q := w.srv.authorize(a.URL)
	is.NoErr(finish(w, l, q).Err)
	// The same callback again: the state is spent.
	effs := l.Step(Callback{Query: q, Now: w.now})
	is.Equal(len(effs), 1)
	r, ok := effs[0].(Reject)
	is.True(ok)
	is.True(errors.Is(r.Err, ErrNoPendingLogin))
}

func TestCallback_RejectsMissingOrWrongStateAndKeepsWaiting(t *testing.T) { // S6
	for name, q := range map[string]url.Values{
		"MissingState":      {"code": {"c"}},
		"EmptyState":        {"code": {"c"}, "state": {""}},
		"WrongState":        {"code": {"c"}, "state": {"AAAA"}},
		"ErrorWithoutState": {"error": {"access_denied"}},
		"ErrorWrongState":   {"error": {"access_denied"}, "state": {"nope"}},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			srv := newFakeServer(dbxIssuer)
			w := newWorld(t, srv)
			l := NewLogin(dbxLogin())
			a := untilAuthorize(t, w, l, &counter{})
			effs := l.Step(Callback{Query: q, Now: w.now})
			is.Equal(len(effs), 1)
			r, ok := effs[0].(Reject)
			is.True(ok)
			is.True(errors.Is(r.Err, ErrStateMismatch))
			is.Equal(tokenRequests(srv), 0) // never reaches the token endpoint
			// The login is still waiting: the real callback succeeds.
			d := finish(w, l, srv.authorize(a.URL))
			is.NoErr(d.Err)
			is.Equal(tokenRequests(srv), 1)
		})
	}
}

// The state comparison must not leak how much of it matched: the callback
// code compares with crypto/subtle, never with == or bytes.Equal.
func TestCallback_ComparesStateInConstantTime(t *testing.T) { // S6
	is := is.New(t)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "login.go", nil, 0)
	is.NoErr(err)
	var body *ast.BlockStmt
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "callback" {
			body = fd.Body
		}
	}
	is.True(body != nil)
	var constantTime, naive bool
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == "subtle" && n.Sel.Name == "ConstantTimeCompare" {
				constantTime = true
			}
		case *ast.BinaryExpr:
			for _, side := range []ast.Expr{n.X, n.Y} {
				if s, ok := side.(*ast.SelectorExpr); ok && s.Sel.Name == "State" && n.Op == token.EQL {
					if lit, ok := n.Y.(*ast.BasicLit); !ok || lit.Value != `""` {
						naive = true
					}
				}
			}
		}
		return true
	})
	is.True(constantTime)
	is.True(!naive)
}

func TestNonce_SentWithOpenIDAndChecked(t *testing.T) { // S7
	oidc := func() (*fakeServer, LoginConfig) {
		srv := newFakeServer("https://idp.example.com")
		srv.openID = true
		return srv, LoginConfig{
			Target:      Target{Host: "https://idp.example.com"},
			Client:      Client{ID: "cli"},
			Scopes:      []string{"openid", "offline_access"},
			RedirectURI: "http://127.0.0.1:1/callback",
		}
	}
	t.Run("NonceSentAndMatchingIDTokenAccepted", func(t *testing.T) {
		is := is.New(t)
		srv, cfg := oidc()
		w := newWorld(t, srv)
		d := w.login(cfg)
		is.NoErr(d.Err)
		q := authQuery(t, Authorize{URL: w.authURL})
		is.Equal(len(q.Get("nonce")), 43)
		is.True(d.Entry.IDToken != "")
	})
	t.Run("NoNonceWithoutOpenID", func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, newFakeServer(dbxIssuer))
		is.NoErr(w.login(dbxLogin()).Err)
		_, has := authQuery(t, Authorize{URL: w.authURL})["nonce"]
		is.True(!has)
	})
	for name, claims := range map[string]map[string]any{
		"WrongNonce":    {"iss": "https://idp.example.com", "aud": "cli", "nonce": "other"},
		"MissingNonce":  {"iss": "https://idp.example.com", "aud": "cli"},
		"WrongIssuer":   {"iss": "https://evil.example.com", "aud": "cli", "nonce": "$nonce"},
		"WrongAudience": {"iss": "https://idp.example.com", "aud": []string{"x", "y"}, "nonce": "$nonce"},
	} {
		t.Run("Rejects"+name, func(t *testing.T) {
			is := is.New(t)
			srv, cfg := oidc()
			w := newWorld(t, srv)
			l := NewLogin(cfg)
			a := untilAuthorize(t, w, l, &counter{})
			nonce := authQuery(t, a).Get("nonce")
			if claims["nonce"] == "$nonce" {
				claims["nonce"] = nonce
			}
			w.onFetch = func(r Request) (Response, error) {
				return jsonResponse(200, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": fakeJWT(claims)}), nil
			}
			d := finish(w, l, srv.authorize(a.URL))
			is.True(d.Err != nil)
			is.True(d.Token == nil)
			is.Equal(len(w.cache), 0) // nothing saved
			if name == "WrongNonce" || name == "MissingNonce" {
				is.True(errors.Is(d.Err, ErrNonceMismatch))
			}
		})
	}
}

func TestPending_RemembersIssuerAndSurvivesSerialisation(t *testing.T) { // S8
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	is.Equal(w.pending.Metadata.Issuer, dbxIssuer)
	b, err := json.Marshal(w.pending)
	is.NoErr(err)
	var p Pending
	is.NoErr(json.Unmarshal(b, &p))
	// A browser page reloads: the login resumes from storage.
	resumed := ResumeLogin(p, Client{ID: p.ClientID}, nil)
	d := finish(w, resumed, srv.authorize(a.URL))
	is.NoErr(d.Err)
	is.Equal(d.Entry.Metadata.Issuer, dbxIssuer)
}

func TestCallback_Issuer(t *testing.T) { // S9, S10
	for _, tc := range []struct {
		name     string
		promised bool
		iss      []string // nil: absent
		wantErr  error
	}{
		{name: "MatchingIssAccepted", iss: []string{dbxIssuer}},
		{name: "AbsentIssAcceptedWhenNotPromised"},
		{name: "WrongIssRejected", iss: []string{"https://evil.example.com/oidc"}, wantErr: ErrIssuerMismatch},
		{name: "TrailingSlashIssRejected", iss: []string{dbxIssuer + "/"}, wantErr: ErrIssuerMismatch},
		{name: "TwoIssRejected", iss: []string{dbxIssuer, dbxIssuer}, wantErr: ErrIssuerMismatch},
		{name: "PromisedAndMissingRejected", promised: true, wantErr: ErrMissingIssuer},
		{name: "PromisedAndPresentAccepted", promised: true, iss: []string{dbxIssuer}},
		{name: "WrongIssOnErrorResponseRejected", iss: []string{"https://evil.example.com"}, wantErr: ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := newFakeServer(dbxIssuer)
			srv.meta["authorization_response_iss_parameter_supported"] = tc.promised
			w := newWorld(t, srv)
			l := NewLogin(dbxLogin())
			a := untilAuthorize(t, w, l, &counter{})
			q := srv.authorize(a.URL)
			if strings.HasPrefix(tc.name, "WrongIssOnError") {
				q.Del("code")
				q.Set("error", "access_denied")
			}
			if tc.iss != nil {
				q["iss"] = tc.iss
			}
			d := finish(w, l, q)
			if tc.wantErr == nil {
				is.NoErr(d.Err)
				return
			}
			is.True(errors.Is(d.Err, tc.wantErr))
			is.Equal(tokenRequests(srv), 0) // no token request on a mix-up
		})
	}
}

func TestCallback_ErrorIsTypedOAuthError(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	q := url.Values{"state": {authQuery(t, a).Get("state")}, "error": {"access_denied"}, "error_description": {"<b>no</b>"}}
	d := finish(w, l, q)
	var oe *OAuthError
	is.True(errors.As(d.Err, &oe))
	is.Equal(oe.Code, "access_denied")
	is.Equal(oe.Description, "<b>no</b>") // escaping is the page's job
	is.Equal(tokenRequests(srv), 0)
}

func TestCallback_WithoutCodeOrErrorFails(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	d := finish(w, l, url.Values{"state": {authQuery(t, a).Get("state")}})
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "neither a code nor an error"))
}

func TestPending_ExpiresAfterTTL(t *testing.T) { // S27 (core part)
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	w.now = w.now.Add(PendingTTL + time.Second)
	d := finish(w, l, srv.authorize(a.URL))
	is.True(errors.Is(d.Err, ErrPendingExpired))
	is.Equal(tokenRequests(srv), 0)
}

func TestPending_ConfiguredTTLIsHonoured(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	cfg := dbxLogin()
	cfg.PendingTTL = 30 * time.Minute // auth login --timeout 30m
	l := NewLogin(cfg)
	a := untilAuthorize(t, w, l, &counter{})
	w.now = w.now.Add(20 * time.Minute)
	is.NoErr(finish(w, l, srv.authorize(a.URL)).Err)
}

func TestAuthorizeURL_Parameters(t *testing.T) {
	openid := []string{"openid", "offline_access"}
	for _, tc := range []struct {
		name       string
		openIDMeta bool
		scopes     []string
		prompt     string
		params     url.Values
		want       map[string]string // "" = must be absent
	}{
		{name: "ConsentForOfflineAccessAtOpenIDProvider", openIDMeta: true, scopes: openid, want: map[string]string{"prompt": "consent"}},
		{name: "NoConsentWithoutOfflineAccess", openIDMeta: true, scopes: []string{"openid"}, want: map[string]string{"prompt": ""}},
		{name: "NoConsentAtPlainOAuthServer", scopes: []string{"all-apis", "offline_access"}, want: map[string]string{"prompt": ""}},
		{name: "PromptNoneSendsNoPrompt", openIDMeta: true, scopes: openid, prompt: PromptNone, want: map[string]string{"prompt": ""}},
		{name: "ExplicitPrompt", openIDMeta: true, scopes: openid, prompt: "login", want: map[string]string{"prompt": "login"}},
		{name: "ExtraParamsAdded", scopes: []string{"x"}, params: url.Values{"audience": {"api"}, "login_hint": {"a@b"}}, want: map[string]string{"audience": "api", "login_hint": "a@b"}},
		{name: "ExtraParamsCannotOverrideProtocol", scopes: []string{"x"}, params: url.Values{"code_challenge_method": {"plain"}, "redirect_uri": {"https://evil"}}, want: map[string]string{"code_challenge_method": "S256", "redirect_uri": "http://127.0.0.1:1/callback"}},
		{name: "Basics", scopes: []string{"a", "b"}, want: map[string]string{"response_type": "code", "client_id": "cli", "scope": "a b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := newFakeServer("https://idp.example.com")
			srv.openID = tc.openIDMeta
			w := newWorld(t, srv)
			l := NewLogin(LoginConfig{
				Target: Target{Host: "https://idp.example.com"}, Client: Client{ID: "cli"},
				Scopes: tc.scopes, RedirectURI: "http://127.0.0.1:1/callback", Prompt: tc.prompt, AuthParams: tc.params,
			})
			q := authQuery(t, untilAuthorize(t, w, l, &counter{}))
			for k, v := range tc.want {
				is.Equal(q.Get(k), v) // parameter k
				if v == "" {
					_, has := q[k]
					is.True(!has)
				}
			}
		})
	}
}

func TestLogin_KnownMetadataSkipsDiscovery(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	cfg := dbxLogin()
	cfg.Metadata = &Metadata{Issuer: dbxIssuer, AuthorizationEndpoint: dbxIssuer + "/v1/authorize", TokenEndpoint: dbxIssuer + "/v1/token"}
	is.NoErr(w.login(cfg).Err)
	is.Equal(len(srv.requests), 1) // the token request only
}

func TestLogin_RejectsBadConfigAndEntropy(t *testing.T) {
	for name, mod := range map[string]func(*LoginConfig, *Start){
		"NoClientID":    func(c *LoginConfig, _ *Start) { c.Client.ID = "" },
		"NoRedirectURI": func(c *LoginConfig, _ *Start) { c.RedirectURI = "" },
		"NoEntropy":     func(_ *LoginConfig, s *Start) { s.Rand = nil },
		"ShortEntropy":  func(_ *LoginConfig, s *Start) { s.Rand = bytes.NewReader(make([]byte, 10)) },
		"BadHost":       func(c *LoginConfig, _ *Start) { c.Target.Host = "::" },
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			cfg := dbxLogin()
			st := Start{Now: t0, Rand: &counter{}}
			mod(&cfg, &st)
			effs := NewLogin(cfg).Step(st)
			is.Equal(len(effs), 1)
			d, ok := effs[0].(Done)
			is.True(ok)
			is.True(d.Err != nil)
		})
	}
}

func TestLogin_FailuresAfterCallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fetch   func(Request) (Response, error)
		lock    error
		save    error
		wantMsg string
	}{
		{name: "TokenEndpointUnreachable", fetch: func(Request) (Response, error) { return Response{}, errors.New("connection refused") }, wantMsg: "connection refused"},
		{name: "TokenEndpoint500", fetch: func(Request) (Response, error) {
			return Response{Status: 500, ContentType: "text/html", Body: []byte("<html>oops</html>")}, nil
		}, wantMsg: "HTTP 500"},
		{name: "LockFails", lock: errors.New("lock timeout"), wantMsg: "lock timeout"},
		{name: "SaveFails", save: errors.New("disk full"), wantMsg: "disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := newFakeServer(dbxIssuer)
			w := newWorld(t, srv)
			l := NewLogin(dbxLogin())
			a := untilAuthorize(t, w, l, &counter{})
			w.onFetch = tc.fetch
			w.onLock = func() error { return tc.lock }
			w.onSave = func() error { return tc.save }
			d := finish(w, l, srv.authorize(a.URL))
			is.True(d.Err != nil)
			is.True(strings.Contains(d.Err.Error(), tc.wantMsg))
			is.True(!w.locked)
		})
	}
}

func TestLogin_AbortReleasesNothingItDoesNotHold(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	l := NewLogin(dbxLogin())
	untilAuthorize(t, w, l, &counter{})
	effs := l.Step(Aborted{Err: errors.New("timed out after 5m")})
	is.Equal(len(effs), 1)
	is.Equal(effs[0].(Done).Err.Error(), "timed out after 5m")
	// A late callback after the end is refused.
	effs = l.Step(Callback{Query: url.Values{}})
	is.True(errors.Is(effs[0].(Reject).Err, ErrNoPendingLogin))
}

func TestLogin_AbortWhileSavingUnlocks(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	ev := w.perform(l.Step(Callback{Query: srv.authorize(a.URL), Now: w.now})[0]) // token fetched
	ev = w.perform(l.Step(ev)[0])                                                 // locked
	_ = l.Step(ev)                                                                // Save pending
	effs := l.Step(Aborted{Err: errors.New("interrupted")})
	is.Equal(len(effs), 2)
	is.Equal(effs[0], Effect(Unlock{Key: Key(dbxIssuer, "databricks-cli")}))
}

func TestLogin_UnexpectedEventEndsTheLogin(t *testing.T) {
	is := is.New(t)
	effs := NewLogin(dbxLogin()).Step(Loaded{})
	d, ok := effs[0].(Done)
	is.True(ok)
	is.True(strings.Contains(d.Err.Error(), "unexpected"))
}
