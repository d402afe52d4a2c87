package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// fakeJWK is the public key the test world hands out for a key name: the
// name sits in x, so the fake server can find the key a proof names and
// check its fake signature. The real curve is checked against real
// servers (native and browser tests).
func fakeJWK(name string) JWK {
	x := make([]byte, 32)
	copy(x, name)
	y := sha256.Sum256([]byte(name))
	enc := base64.RawURLEncoding.EncodeToString
	return JWK{Kty: "EC", Crv: "P-256", X: enc(x), Y: enc(y[:])}
}

// dpopServer puts RFC 9449 in front of the fake server's token endpoint:
// it checks every proof (header, fake signature, htm, htu, iat, jti
// replay, nonce), issues DPoP tokens for proved requests, binds refresh
// tokens to the key that proved their issue, and asks for its nonce.
type dpopServer struct {
	srv    *fakeServer
	w      *world
	nonce  string // "" asks for none
	rotate bool   // a new nonce at every request: nothing is ever accepted
	jtis   map[string]bool
	bound  map[string]string // refresh token → jkt
	proofs []ProofClaims
	bearer bool // ignore proofs: issue Bearer tokens (a server without DPoP)
	nonceN int
}

func newDPoPServer(w *world) *dpopServer {
	w.srv.meta["dpop_signing_alg_values_supported"] = []string{"RS256", "ES256"}
	d := &dpopServer{srv: w.srv, w: w, nonce: "n-0", jtis: map[string]bool{}, bound: map[string]string{}}
	w.onFetch = func(r Request) (Response, error) { return d.serve(r), nil }
	return d
}

func dpopError(code string, nonce string) Response {
	r := jsonResponse(400, map[string]string{"error": code})
	r.DPoPNonce = nonce
	return r
}

// checkProof verifies a proof for r as the server sees it; it returns the
// key's thumbprint or the error code.
func (d *dpopServer) checkProof(r Request) (jkt, code string) {
	parts := strings.Split(r.Header["DPoP"], ".")
	if len(parts) != 3 {
		return "", "invalid_dpop_proof"
	}
	var h struct {
		Typ, Alg string
		JWK      JWK
	}
	var c ProofClaims
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		return "", "invalid_dpop_proof"
	}
	d.proofs = append(d.proofs, c) // every proof, so that tests see what a refused one said
	xb, _ := base64.RawURLEncoding.DecodeString(h.JWK.X)
	name := string(bytes.TrimRight(xb, "\x00"))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if h.Typ != "dpop+jwt" || h.Alg != "ES256" || h.JWK != fakeJWK(name) ||
		!bytes.Equal(sig, fakeSignature(name, []byte(parts[0]+"."+parts[1]))) {
		return "", "invalid_dpop_proof"
	}
	u := r.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if c.Method != r.Method || c.URI != u || c.IssuedAt != d.w.now.Unix() || c.JWTID == "" || d.jtis[c.JWTID] || c.ATH != "" {
		return "", "invalid_dpop_proof"
	}
	d.jtis[c.JWTID] = true
	if d.rotate {
		d.nonceN++
		d.nonce = fmt.Sprintf("n-%d", d.nonceN)
	}
	if d.nonce != "" && c.Nonce != d.nonce {
		return "", "use_dpop_nonce"
	}
	return h.JWK.Thumbprint(), ""
}

func (d *dpopServer) serve(r Request) Response {
	if r.URL != d.srv.meta["token_endpoint"] || d.bearer {
		return d.srv.serve(r)
	}
	jkt := ""
	if r.Header["DPoP"] != "" {
		var code string
		if jkt, code = d.checkProof(r); code != "" {
			return dpopError(code, d.nonce)
		}
	}
	if rt := r.Form.Get("refresh_token"); rt != "" && d.bound[rt] != jkt {
		d.srv.requests = append(d.srv.requests, r)
		return jsonResponse(400, map[string]string{"error": "invalid_grant", "error_description": "refresh token is bound to another key"})
	}
	resp := d.srv.serve(r)
	var body map[string]any
	if resp.Status != 200 || json.Unmarshal(resp.Body, &body) != nil {
		return resp
	}
	if jkt != "" {
		body["token_type"] = "DPoP"
		if rt, ok := body["refresh_token"].(string); ok {
			d.bound[rt] = jkt
		}
	}
	out := jsonResponse(200, body)
	out.DPoPNonce = d.nonce
	return out
}

func dpopLogin(mode string) LoginConfig {
	c := dbxLogin()
	c.DPoP = mode
	return c
}

func decodeProof(t *testing.T, jws string) (map[string]any, ProofClaims) {
	t.Helper()
	is := is.New(t)
	parts := strings.Split(jws, ".")
	is.Equal(len(parts), 3)
	var h map[string]any
	var c ProofClaims
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	is.NoErr(err)
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	is.NoErr(err)
	is.NoErr(json.Unmarshal(hb, &h))
	is.NoErr(json.Unmarshal(cb, &c))
	return h, c
}

func TestJWK_ThumbprintIsRFC7638(t *testing.T) {
	is := is.New(t)
	// The key of RFC 9449's examples and the jkt its §6.1 gives for it
	// (also what the jose library computes).
	k := JWK{Kty: "EC", Crv: "P-256", X: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", Y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}
	is.Equal(k.Thumbprint(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
}

func TestHTU_DropsQueryAndFragment(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://as.example/token?x=1#f", "https://as.example/token"},
		{"HTTPS://AS.Example:443/a/b?", "https://as.example/a/b"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"https://user:pw@api.example/v1/x?q", "https://api.example/v1/x"},
	} {
		t.Run(c.in, func(t *testing.T) {
			is := is.New(t)
			got, err := HTU(c.in)
			is.NoErr(err)
			is.Equal(got, c.want)
		})
	}
	_, err := HTU("ftp://x/y")
	is.New(t).True(err != nil)
}

func TestProofInput_HeaderAndClaims(t *testing.T) {
	is := is.New(t)
	k := &DPoPKey{Key: "dpop:1", JWK: fakeJWK("dpop:1")}
	in, err := ProofInput(k, "post", "https://api.example/v1/items?page=2#top", "at-1", "srv-nonce", t0, &counter{})
	is.NoErr(err)
	h, c := decodeProof(t, CompactJWS(in, []byte("sig")))
	is.Equal(h["typ"], "dpop+jwt")
	is.Equal(h["alg"], "ES256")
	jwk := h["jwk"].(map[string]any)
	is.Equal(jwk["kty"], "EC")
	is.Equal(jwk["x"], k.JWK.X)
	_, hasD := jwk["d"]
	is.True(!hasD)             // the public key only
	is.Equal(c.Method, "post") // exactly as sent: methods are case-sensitive
	is.Equal(c.URI, "https://api.example/v1/items")
	is.Equal(c.IssuedAt, t0.Unix())
	is.Equal(c.Nonce, "srv-nonce")
	is.Equal(c.ATH, ATH("at-1"))
	is.Equal(len(c.JWTID), 22) // 16 bytes

	// Every proof has its own jti.
	r := &counter{}
	a, _ := ProofInput(k, "GET", "https://api.example/", "", "", t0, r)
	b, _ := ProofInput(k, "GET", "https://api.example/", "", "", t0, r)
	_, ca := decodeProof(t, CompactJWS(a, nil))
	_, cb := decodeProof(t, CompactJWS(b, nil))
	is.True(ca.JWTID != cb.JWTID)
	is.Equal(ca.ATH, "") // no access token, no ath
}

func TestATH_IsBase64urlSHA256(t *testing.T) {
	// RFC 9449 §7.1's example token and its ath.
	is.New(t).Equal(ATH("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")
}

func TestResourceProof_UsesTheEntrysTokenAndNonce(t *testing.T) {
	is := is.New(t)
	e := &Entry{Host: "https://api.example", AccessToken: "at-9", TokenType: "DPoP", DPoP: &DPoPKey{Key: "dpop:7", JWK: fakeJWK("dpop:7")}}
	e.DPoP.Remember("https://api.example/x", "api-nonce")
	s, err := ResourceProof(e, "GET", "https://api.example/v1?x=1", "", t0, &counter{})
	is.NoErr(err)
	is.Equal(s.Key, "dpop:7")
	is.Equal(s.Alg, AlgES256)
	_, c := decodeProof(t, CompactJWS(s.Input, nil))
	is.Equal(c.ATH, ATH("at-9"))
	is.Equal(c.Nonce, "api-nonce") // remembered per server
	is.Equal(c.URI, "https://api.example/v1")

	s, _ = ResourceProof(e, "GET", "https://api.example/v1", "given", t0, &counter{})
	_, c = decodeProof(t, CompactJWS(s.Input, nil))
	is.Equal(c.Nonce, "given") // --nonce wins

	_, err = ResourceProof(&Entry{AccessToken: "x"}, "GET", "https://api.example/", "", t0, &counter{})
	is.True(err != nil) // a bearer login has no key

	// A proof names the token: it is for the login's origin only, as the
	// token is (T1).
	for _, other := range []string{"https://evil.example/v1", "https://api.example:8443/v1", "http://api.example/v1"} {
		_, err = ResourceProof(e, "GET", other, "", t0, &counter{})
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "its token goes there only"))
		is.True(errors.Is(err, ErrWrongOrigin))
	}
	e.Resource = "https://data.example/api"
	_, err = ResourceProof(e, "GET", "https://data.example/api/rows", "", t0, &counter{})
	is.NoErr(err) // the login's resource, on its own origin
}

func TestResourceNonce_OnlyAUseDPoPNonce401(t *testing.T) {
	is := is.New(t)
	is.Equal(ResourceNonce(401, `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`, "abc"), "abc")
	is.Equal(ResourceNonce(401, `DPoP error="invalid_token"`, "abc"), "")
	is.Equal(ResourceNonce(400, `DPoP error="use_dpop_nonce"`, "abc"), "")
	is.Equal(ResourceNonce(401, `DPoP error="use_dpop_nonce"`, ""), "")
	is.Equal(ResourceNonce(401, `DPoP error="use_dpop_nonce"`, "bad\nnonce"), "")
}

func TestAuthorization_SchemeFollowsTokenType(t *testing.T) {
	is := is.New(t)
	is.Equal(Authorization(&Token{AccessToken: "a", TokenType: "DPoP"}), "DPoP a")
	is.Equal(Authorization(&Token{AccessToken: "a", TokenType: "Bearer"}), "Bearer a")
	is.Equal(Authorization(&Token{AccessToken: "a"}), "Bearer a")
}

func TestParseDPoPMode(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]string{"": "auto", "Always": "always", "never": "never", "auto": "auto"} {
		got, err := ParseDPoPMode(in)
		is.NoErr(err)
		is.Equal(got, want)
	}
	_, err := ParseDPoPMode("sometimes")
	is.True(err != nil)
}

func TestUseDPoP_AutoNeedsServerSupportAndAReason(t *testing.T) {
	with := Metadata{Issuer: "https://as", DPoPSigningAlgValuesSupported: []string{"ES256", "RS256"}}
	without := Metadata{Issuer: "https://as"}
	rsOnly := Metadata{Issuer: "https://as", DPoPSigningAlgValuesSupported: []string{"RS256"}}
	required := &Resolution{DPoPRequired: true}
	for _, c := range []struct {
		name       string
		mode       string
		m          Metadata
		res        *Resolution
		registered bool
		want       bool
		err        bool
	}{
		{"AutoResourceRequires", DPoPAuto, with, required, false, true, false},
		{"AutoClientRegisteredForIt", DPoPAuto, with, nil, true, true, false},
		{"AutoNoReason", DPoPAuto, with, nil, false, false, false},
		{"AutoServerWithoutDPoP", DPoPAuto, without, required, true, false, false},
		{"AutoServerWithoutES256", DPoPAuto, rsOnly, required, true, false, false},
		{"EmptyIsAuto", "", with, required, false, true, false},
		{"AlwaysUnadvertisedFails", DPoPAlways, without, nil, false, false, true},
		{"AlwaysWithoutES256Fails", DPoPAlways, rsOnly, nil, false, false, true},
		{"Never", DPoPNever, with, required, true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			got, err := useDPoP(c.mode, c.m, c.res, c.registered)
			is.Equal(err != nil, c.err)
			is.Equal(got, c.want)
		})
	}
}

func TestParseTokenResponse_DPoPOnlyWhenProved(t *testing.T) {
	is := is.New(t)
	r := jsonResponse(200, map[string]any{"access_token": "a", "token_type": "dpop", "refresh_token": "r"})
	_, err := ParseTokenResponse(r, t0)
	var tte *TokenTypeError
	is.True(errors.As(err, &tte)) // no proof was sent: a DPoP token is unusable
	tr, err := parseTokenResponse(r, t0, true)
	is.NoErr(err)
	is.Equal(tr.TokenType, "DPoP")
}

// A DPoP login: the key is made before the authorization request, the code exchange
// carries a proof, the server's first answer asks for its nonce, and the
// one retry with it gets a DPoP token; the entry records the key and the
// nonce. The refresh proves with the same key and the remembered nonce.
func TestTranscript_DPoPLoginAndRefresh(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	done := w.login(dpopLogin(DPoPAlways))
	is.NoErr(done.Err)
	is.Equal(done.Token.TokenType, "DPoP")
	e := w.cache[done.Entry.Key()]
	is.Equal(e.TokenType, "DPoP")
	is.Equal(e.DPoP.Key, "dpop:1")
	is.Equal(e.DPoP.JKT, fakeJWK("dpop:1").Thumbprint())
	is.Equal(e.DPoP.Nonce(dbxIssuer+"/v1/token"), "n-0")
	is.Equal(len(d.proofs), 2)
	is.Equal(d.proofs[0].Nonce, "")
	is.Equal(d.proofs[1].Nonce, "n-0")
	is.Equal(d.proofs[1].URI, dbxIssuer+"/v1/token")
	is.Equal(d.proofs[1].Method, "POST")

	w.now = w.now.Add(2 * time.Hour)
	d.nonce = "n-1" // the server moved on: one retry again
	got := w.token(dbxToken())
	is.NoErr(got.Err)
	is.Equal(got.Token.TokenType, "DPoP")
	is.Equal(got.Token.AccessToken, "access-3")
	is.Equal(w.cache[done.Entry.Key()].DPoP.Nonce(dbxIssuer+"/v1/token"), "n-1")

	w.now = w.now.Add(2 * time.Hour)
	got = w.token(dbxToken()) // the nonce is remembered: no retry
	is.NoErr(got.Err)
	is.Equal(d.proofs[len(d.proofs)-1].Nonce, "n-1")
	checkTranscript(t, "dpop_login_refresh", w.transcript())
}

func TestDPoP_NonceRetryOnceNotInALoop(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	d.rotate = true // every answer is use_dpop_nonce with a new nonce
	done := w.login(dpopLogin(DPoPAlways))
	is.True(done.Err != nil)
	is.True(strings.Contains(done.Err.Error(), "use_dpop_nonce"))
	is.Equal(len(d.proofs), 2) // the request and exactly one retry
	is.Equal(len(w.cache), 0)
}

func TestDPoP_ServerRejectsProof(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	w.onSign = func(s Sign) Signed { return Signed{Signature: []byte("forged")} }
	done := w.login(dpopLogin(DPoPAlways))
	is.True(done.Err != nil)
	is.True(strings.Contains(done.Err.Error(), "invalid_dpop_proof"))
	is.Equal(len(w.cache), 0)
}

func TestDPoP_SigningFailureSpendsNoRefreshToken(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	done := w.login(dpopLogin(DPoPAlways))
	is.NoErr(done.Err)
	before := len(w.srv.requests)
	w.onSign = func(Sign) Signed { return Signed{Err: errors.New("keyring locked")} }
	w.now = w.now.Add(2 * time.Hour)
	got := w.token(dbxToken())
	is.True(got.Err != nil)
	is.True(strings.Contains(got.Err.Error(), "signing the DPoP proof: keyring locked"))
	is.Equal(len(w.srv.requests), before) // nothing sent
	is.Equal(w.cache[done.Entry.Key()].RefreshToken, done.Entry.RefreshToken)
}

// A refresh token bound to the login's key is refused without a proof and
// with another key's proof (the fake server binds it as real ones do).
func TestDPoP_CopiedRefreshTokenNeedsTheKey(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	done := w.login(dpopLogin(DPoPAlways))
	is.NoErr(done.Err)
	stolen := w.cache[done.Entry.Key()]

	for name, key := range map[string]*DPoPKey{
		"NoProof":  nil,
		"OtherKey": {Key: "dpop:thief", JWK: fakeJWK("dpop:thief"), JKT: fakeJWK("dpop:thief").Thumbprint()},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			e := stolen
			e.DPoP = key
			e.Expiry = w.now.Add(-time.Minute)
			w.cache[e.Key()] = e
			got := w.token(dbxToken())
			is.True(errors.Is(got.Err, ErrInvalidGrant))
		})
	}
}

// dpop always against a server that publishes no DPoP algorithm is refused
// before anything is saved or the user is sent to sign in, for every
// target: one rule in core (useDPoP), for the CLI and the browser.
func TestDPoP_AlwaysWithoutServerSupportIsRefusedBeforeTheRedirect(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer)) // no dpop_signing_alg_values_supported
	done := w.login(dpopLogin(DPoPAlways))
	is.True(errors.Is(done.Err, ErrDPoPUnsupported))
	is.True(strings.Contains(done.Err.Error(), "auto or never"))
	is.Equal(w.authURL, "")   // never sent to sign in
	is.True(w.pending == nil) // nothing kept for a callback
	is.Equal(w.keyN, 0)       // no key made
	is.Equal(tokenRequests(w.srv), 0)
}

func TestDPoP_AlwaysRefusesAnUnboundToken(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	d.bearer = true // a server that ignores proofs
	done := w.login(dpopLogin(DPoPAlways))
	is.True(done.Err != nil)
	is.True(strings.Contains(done.Err.Error(), "--dpop always"))
}

func TestDPoP_NeverAndAutoWithoutReasonSendNoProof(t *testing.T) {
	for _, mode := range []string{DPoPNever, DPoPAuto} {
		t.Run(mode, func(t *testing.T) {
			is := is.New(t)
			w := newWorld(t, newFakeServer(dbxIssuer))
			d := newDPoPServer(w)
			done := w.login(dpopLogin(mode))
			is.NoErr(done.Err)
			is.Equal(done.Token.TokenType, "Bearer")
			is.Equal(len(d.proofs), 0)
			is.True(w.cache[done.Entry.Key()].DPoP == nil)
		})
	}
}

func TestDPoP_AutoForAResourceThatRequiresIt(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	cfg := dpopLogin(DPoPAuto)
	m := Metadata{Issuer: dbxIssuer, AuthorizationEndpoint: dbxIssuer + "/v1/authorize", TokenEndpoint: dbxIssuer + "/v1/token", DPoPSigningAlgValuesSupported: []string{"ES256"}, CodeChallengeMethodsSupported: []string{"S256"}}
	cfg.Resolution = &Resolution{Kind: KindResource, Issuer: dbxIssuer, Resource: "https://api.example", DPoPRequired: true, Metadata: m}
	done := w.login(cfg)
	is.NoErr(done.Err)
	is.Equal(done.Token.TokenType, "DPoP")
	is.Equal(done.Entry.Resource, "https://api.example")
}

func TestDPoP_RegistrationAsksForBoundTokensWhenAlways(t *testing.T) {
	is := is.New(t)
	r := registrationRequest("https://as/reg", "http://127.0.0.1/cb", AppNative, true)
	is.True(strings.Contains(string(r.JSON), `"dpop_bound_access_tokens":true`))
	r = registrationRequest("https://as/reg", "http://127.0.0.1/cb", AppNative, false)
	is.True(!strings.Contains(string(r.JSON), "dpop"))
}

// A private_key_jwt grant with DPoP: the nonce retry signs a new client
// assertion (a seen jti is refused), then a new proof.
func TestDPoP_GrantNonceRetrySignsANewAssertion(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	w.srv.register("svc", fakeClient{method: AuthPrivateKeyJWT, key: "/keys/svc.pem"})
	done := Drive(NewGrantLogin(GrantConfig{
		Target: Target{Host: dbxHost}, Client: Client{ID: "svc"}, DPoP: DPoPAlways,
		Grant: Grant{Type: ClientCredentialsGrantType, Key: "/keys/svc.pem", Alg: AlgES256},
	}), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	is.NoErr(done.Err)
	is.Equal(done.Token.TokenType, "DPoP")
	is.Equal(done.Entry.DPoP.Key, "dpop:1")
	is.Equal(len(w.srv.grants.claims), 1) // the first assertion was never accepted…
	is.Equal(len(d.proofs), 2)            // …because its proof lacked the nonce
	// The retried request had its own assertion: the log shows two signed
	// assertions and two proofs.
	n := strings.Count(w.transcript(), "Sign ES256 key=/keys/svc.pem")
	is.Equal(n, 2)

	w.now = w.now.Add(2 * time.Hour) // the token machine repeats the grant with the key
	got := Drive(NewRefresh(RefreshConfig{Target: Target{Host: dbxHost}, Client: Client{ID: "svc"}}), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	is.NoErr(got.Err)
	is.Equal(got.Token.TokenType, "DPoP")
	is.Equal(d.proofs[len(d.proofs)-1].Nonce, "n-0") // remembered
}

func TestDPoP_DevicePollsCarryProofs(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	w.srv.meta["device_authorization_endpoint"] = dbxIssuer + "/v1/device"
	polls := 0
	w.onFetch = func(r Request) (Response, error) {
		switch {
		case r.URL == dbxIssuer+"/v1/device":
			return jsonResponse(200, map[string]any{"device_code": "dc", "user_code": "UC", "verification_uri": dbxIssuer + "/device", "expires_in": 600}), nil
		case r.Form.Get("grant_type") == DeviceGrantType:
			if jkt, code := d.checkProof(r); code != "" {
				return dpopError(code, d.nonce), nil
			} else if jkt != fakeJWK("dpop:1").Thumbprint() {
				return jsonResponse(400, map[string]string{"error": "invalid_dpop_proof"}), nil
			}
			polls++
			if polls == 1 {
				return jsonResponse(400, map[string]string{"error": "authorization_pending"}), nil
			}
			return jsonResponse(200, map[string]any{"access_token": "dev-at", "token_type": "DPoP", "expires_in": 3600, "refresh_token": "dev-rt"}), nil
		}
		return d.serve(r), nil
	}
	m := NewDevice(DeviceConfig{Target: Target{Host: dbxHost}, Client: Client{ID: "databricks-cli"}, DPoP: DPoPAlways})
	done := Drive(m, Start{Now: w.now, Rand: &w.rnd}, func(e Effect) Event {
		switch e.(type) {
		case ShowCode:
			return nil
		case Wait:
			return Waited{Now: w.now}
		}
		return w.perform(e)
	})
	is.NoErr(done.Err)
	is.Equal(done.Token.TokenType, "DPoP")
	is.Equal(len(d.proofs), 3) // nonce retry once, then a pending poll and the last one with the remembered nonce
	is.Equal(d.proofs[2].Nonce, "n-0")
	is.Equal(done.Entry.DPoP.Key, "dpop:1")
}

func TestParseResourceMetadata_ReadsDPoPRequired(t *testing.T) {
	is := is.New(t)
	m, err := ParseResourceMetadata([]byte(`{"resource":"https://api.example","authorization_servers":["https://as.example"],"dpop_bound_access_tokens_required":true}`), "https://api.example")
	is.NoErr(err)
	is.True(m.DPoPBoundAccessTokensRequired)
}

// RFC 9449 §10: the key is made before the user signs in, and the
// authorization request names it (dpop_jkt), so the code is bound to it;
// the exchange proves with that same key. A bearer login sends none.
func TestDPoP_AuthorizationRequestBindsTheCodeToTheKey(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	d := w.login(dpopLogin(DPoPAlways))
	is.NoErr(d.Err)
	q := authQuery(t, Authorize{URL: w.authURL})
	is.True(q.Get("dpop_jkt") != "")
	is.Equal(q.Get("dpop_jkt"), d.Entry.DPoP.JKT)

	w = newWorld(t, newFakeServer(dbxIssuer))
	d = w.login(dbxLogin())
	is.NoErr(d.Err)
	is.Equal(authQuery(t, Authorize{URL: w.authURL}).Get("dpop_jkt"), "")
}

// A DPoP login resumed after a page unload has had no Start: the entropy
// of its proofs is given to ResumeLogin, and the callback carries only
// the query.
func TestDPoP_ResumedLoginProvesWithTheEntropyGivenToResume(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := newDPoPServer(w)
	a := untilAuthorize(t, w, NewLogin(dpopLogin(DPoPAlways)), &counter{})
	p := w.pending
	is.True(p.Key != nil) // made before the redirect, for dpop_jkt

	done := finish(w, ResumeLogin(*p, Client{ID: p.ClientID}, nil), w.srv.authorize(a.URL))
	is.True(done.Err != nil) // no entropy: no proof, nothing sent
	is.Equal(len(d.proofs), 0)

	a = untilAuthorize(t, w, NewLogin(dpopLogin(DPoPAlways)), &counter{})
	p = w.pending
	done = finish(w, ResumeLogin(*p, Client{ID: p.ClientID}, &counter{}), w.srv.authorize(a.URL))
	is.NoErr(done.Err)
	is.Equal(done.Token.TokenType, "DPoP")
	is.Equal(len(d.proofs), 2) // the nonce retry drew a second jti
	is.True(d.proofs[0].JWTID != d.proofs[1].JWTID)
}

// A key store's names that no pending login and no entry names are the
// ones to delete (the browser's worker mode, at start).
func TestUnusedKeys_AreThoseNoPendingLoginOrEntryNames(t *testing.T) {
	is := is.New(t)
	pending := []Pending{{State: "s", Key: &DPoPKey{Key: "k-pending"}}, {State: "no key"}}
	entries := []Entry{{ClientID: "c", DPoP: &DPoPKey{Key: "k-entry"}}, {ClientID: "bearer"}}
	is.Equal(UnusedKeys([]string{"k-orphan", "k-pending", "k-entry", "k-other"}, pending, entries), []string{"k-orphan", "k-other"})
	is.Equal(len(UnusedKeys(nil, pending, entries)), 0)
}
