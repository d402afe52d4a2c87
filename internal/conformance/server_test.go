package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

const issuer = "http://127.0.0.1:1"

// code runs an authorization request with verifier's challenge and
// returns the code the redirect carries.
func code(t *testing.T, s *Server, verifier, jkt string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {PresetClient}, "state": {"st"},
		"redirect_uri": {"http://127.0.0.1:2/cb"}, "code_challenge": {core.S256Challenge(verifier)}, "code_challenge_method": {"S256"}}
	if jkt != "" {
		q.Set("dpop_jkt", jkt)
	}
	back, err := s.Authorize(issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(back)
	return u.Query().Get("code")
}

func exchange(s *Server, code, verifier, proof string) core.Response {
	r := core.Request{Method: "POST", URL: issuer + "/token", Header: map[string]string{}, Form: url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {PresetClient}, "redirect_uri": {"http://127.0.0.1:2/cb"}}}
	if proof != "" {
		r.Header["DPoP"] = proof
	}
	return s.Handle(r)
}

// proofFor makes a DPoP proof for the token endpoint that names k's public
// key and is signed by signer.
func proofFor(t *testing.T, k, signer *ecdsa.PrivateKey) (proof, jkt string) {
	t.Helper()
	jwk := core.JWK{Kty: "EC", Crv: "P-256", X: base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))),
		Y: base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32)))}
	h, _ := json.Marshal(map[string]any{"typ": core.ProofType, "alg": core.AlgES256, "jwk": jwk})
	c, _ := json.Marshal(core.ProofClaims{JWTID: "j", Method: "POST", URI: issuer + "/token", IssuedAt: time.Now().Unix()})
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, signer, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return core.CompactJWS([]byte(input), sig), jwk.Thumbprint()
}

func TestServer_ExchangesACodeOnceForItsVerifier(t *testing.T) {
	is := is.New(t)
	s := NewServer(ServerConfig{})
	c := code(t, s, "the-verifier", "")
	is.Equal(exchange(s, c, "another-verifier", "").Status, 400) // the challenge does not match
	is.True(s.Failure() != "")

	s = NewServer(ServerConfig{})
	c = code(t, s, "the-verifier", "")
	is.Equal(exchange(s, c, "the-verifier", "").Status, 200)
	is.Equal(exchange(s, c, "the-verifier", "").Status, 400) // single use
	is.Equal(s.Failure(), "")
}

func TestServer_RefusesADPoPProofThatDoesNotVerify(t *testing.T) {
	is := is.New(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	proof, jkt := proofFor(t, k, k)

	s := NewServer(ServerConfig{DPoP: true})
	r := exchange(s, code(t, s, "v", jkt), "v", proof)
	is.Equal(r.Status, 200)
	var tok struct {
		TokenType string `json:"token_type"`
	}
	is.NoErr(json.Unmarshal(r.Body, &tok))
	is.Equal(tok.TokenType, core.DPoPTokenType)
	is.Equal(s.Failure(), "")

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := proofFor(t, k, other) // names k, signed by another key
	s = NewServer(ServerConfig{DPoP: true})
	r = exchange(s, code(t, s, "v", jkt), "v", forged)
	is.Equal(r.Status, 400)
	is.True(s.Failure() != "")

	otherProof, _ := proofFor(t, other, other)
	s = NewServer(ServerConfig{DPoP: true})
	r = exchange(s, code(t, s, "v", jkt), "v", otherProof) // not the key of dpop_jkt
	is.Equal(r.Status, 400)
	is.True(s.Failure() != "")
}

func TestOutcome_ClassesErrorsAlikeOnEveryTarget(t *testing.T) {
	is := is.New(t)
	is.Equal(Outcome(nil), "")
	is.Equal(Outcome(&core.LoginRequiredError{Host: "h", Cause: core.ErrInvalidGrant}), "login_required")
	is.Equal(Outcome(fmt.Errorf("x: %w", &core.OAuthError{Code: "invalid_client"})), "invalid_client")
	is.Equal(Outcome(fmt.Errorf("%w: x", core.ErrClientForgotten)), "client_forgotten")
	is.Equal(Outcome(fmt.Errorf("anything else")), "error")
	is.Equal(Outcome(fmt.Errorf("x: %w", &core.TokenCharsetError{Field: "access_token"})), "token_charset")
	is.Equal(Outcome(fmt.Errorf("%w: x", core.ErrMixUp)), "mix_up")
	is.Equal(Outcome(&core.LoginRequiredError{Host: "h", Cause: fmt.Errorf("%w: x", core.ErrUnreadableEntry)}), "login_required")
	is.Equal(Outcome(fmt.Errorf("%w: x", core.ErrAmbiguousClient)), "ambiguous_client")
	is.Equal(Outcome(fmt.Errorf("%w: x", core.ErrInvalidResource)), "invalid_resource")
}

func TestElsewhere_SwapsLoopbackNamesAndKeepsThePort(t *testing.T) {
	is := is.New(t)
	is.Equal(Elsewhere("http://127.0.0.1:8080"), "http://localhost:8080")
	is.Equal(Elsewhere(Elsewhere("http://127.0.0.1:8080")), "http://127.0.0.1:8080")
}

func TestServer_ARegisteredClientGetsCodesOnlyAtItsRedirectURI(t *testing.T) {
	is := is.New(t)
	s := NewServer(ServerConfig{Registration: true})
	reg := s.Handle(core.Request{Method: "POST", URL: issuer + "/reg", JSON: []byte(`{"redirect_uris":["http://127.0.0.1:2/cb"]}`)})
	is.Equal(reg.Status, 201)
	q := url.Values{"response_type": {"code"}, "client_id": {"reg-1"}, "state": {"st"},
		"code_challenge": {core.S256Challenge("v")}, "code_challenge_method": {"S256"}}
	q.Set("redirect_uri", "http://127.0.0.1:3/cb")
	_, err := s.Authorize(issuer + "/authorize?" + q.Encode())
	is.True(err != nil) // another port
	q.Set("redirect_uri", "http://127.0.0.1:2/cb")
	_, err = s.Authorize(issuer + "/authorize?" + q.Encode())
	is.NoErr(err)
}

func TestServer_AResourceTakesOnlyATokenIssuedForIt(t *testing.T) {
	is := is.New(t)
	s := NewServer(ServerConfig{Resources: []Resource{{Path: "/mcp"}, {Path: "/mcp/admin", Challenged: true, ChallengeScope: "admin"}}})
	call := func(path, token string) core.Response {
		r := core.Request{Method: "GET", URL: issuer + path, Header: map[string]string{}}
		if token != "" {
			r.Header["Authorization"] = "Bearer " + token
		}
		return s.Handle(r)
	}
	is.Equal(call("/.well-known/oauth-protected-resource/mcp", "").Status, 200)
	is.Equal(call("/.well-known/oauth-protected-resource/mcp/admin", "").Status, 404) // only the 401 names it
	probe := call("/mcp/admin", "")
	is.Equal(probe.Status, 401)
	is.Equal(probe.WWWAuthenticate, `Bearer resource_metadata="`+issuer+`/resource-metadata/mcp/admin", scope="admin"`)
	is.Equal(call("/resource-metadata/mcp/admin", "").Status, 200)

	q := url.Values{"response_type": {"code"}, "client_id": {PresetClient}, "state": {"st"}, "resource": {issuer + "/mcp"},
		"redirect_uri": {"http://127.0.0.1:2/cb"}, "code_challenge": {core.S256Challenge("v")}, "code_challenge_method": {"S256"}}
	back, err := s.Authorize(issuer + "/authorize?" + q.Encode())
	is.NoErr(err)
	u, _ := url.Parse(back)
	tok := s.Handle(core.Request{Method: "POST", URL: issuer + "/token", Header: map[string]string{}, Form: url.Values{
		"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "code_verifier": {"v"}, "resource": {issuer + "/mcp"},
		"client_id": {PresetClient}, "redirect_uri": {"http://127.0.0.1:2/cb"}}})
	is.Equal(tok.Status, 200)
	is.Equal(call("/mcp/tools", "at-1").Status, 200)
	is.Equal(call("/mcp/admin/users", "at-1").Status, 401) // the longest resource is another
	is.Equal(s.Log()[len(s.Log())-2:], []string{"call /mcp/tools with at-1", "call /mcp/admin/users with at-1"})
}

func TestServer_ARevokeOfAnythingButALiveRefreshTokenWithItsClientIsBroken(t *testing.T) {
	is := is.New(t)
	revoke := func(form url.Values) string {
		s := NewServer(ServerConfig{})
		at, rt := s.Mint(PresetClient)
		for k, v := range form {
			switch v[0] {
			case "RT":
				form[k] = []string{rt}
			case "AT":
				form[k] = []string{at}
			}
		}
		s.Handle(core.Request{Method: "POST", URL: issuer + "/revoke", Form: form})
		return s.Failure()
	}
	is.Equal(revoke(url.Values{"token": {"RT"}, "token_type_hint": {"refresh_token"}, "client_id": {PresetClient}}), "") // the login's refresh token
	is.True(revoke(url.Values{"token": {"not-a-token"}, "client_id": {PresetClient}}) != "")                             // a made-up token
	is.True(revoke(url.Values{"token": {"AT"}, "client_id": {PresetClient}}) != "")                                      // the access token it minted
	is.True(revoke(url.Values{"token": {"RT"}}) != "")                                                                   // no client_id
	is.True(revoke(url.Values{"token": {"RT"}, "client_id": {"other"}}) != "")                                           // another client
}

// scopeDriver authorizes at its server with scope on each login, or fails
// before any authorization request when scope is "".
type scopeDriver struct {
	Driver
	srv   *Server
	scope string
}

func (d scopeDriver) Host() string { return issuer }

func (d scopeDriver) login() error {
	if d.scope == "" {
		return errors.New("refused before the redirect")
	}
	q := url.Values{"response_type": {"code"}, "client_id": {PresetClient}, "state": {"st"}, "scope": {d.scope},
		"redirect_uri": {"http://127.0.0.1:2/cb"}, "code_challenge": {core.S256Challenge("v")}, "code_challenge_method": {"S256"}}
	_, err := d.srv.Authorize(issuer + "/authorize?" + q.Encode())
	return err
}

func (d scopeDriver) Login(string, string) error                  { return d.login() }
func (d scopeDriver) LoginResource(string, string) error          { return d.login() }
func (d scopeDriver) TokenResource(string, string) (Token, error) { return Token{}, nil }

func TestRunStep_EveryLoginIsHeldToItsOwnAuthorizationRequestsScope(t *testing.T) {
	is := is.New(t)
	srv := NewServer(ServerConfig{})
	want := Want{Err: "", Scope: "openid"}
	is.Equal(len(runStep(scopeDriver{srv: srv, scope: "openid"}, srv, Step{Op: OpLogin, Want: want})), 0)
	// a login for a resource is checked too
	is.Equal(len(runStep(scopeDriver{srv: srv, scope: "other"}, srv, Step{Op: OpLogin, Resource: givenResource, Want: want})), 1)
	// after a login that asked for openid, one that made no authorization
	// request is not held to that scope: it asked for none
	is.Equal(len(runStep(scopeDriver{srv: srv, scope: "openid"}, srv, Step{Op: OpLogin, Want: want})), 0)
	is.Equal(len(runStep(scopeDriver{srv: srv}, srv, Step{Op: OpLogin, Want: Want{Err: "error", Scope: "openid"}})), 1)
	is.Equal(len(runStep(scopeDriver{srv: srv}, srv, Step{Op: OpLogin, Want: Want{Err: "error", Scope: NoScope}})), 1)
}
