// Package dpopapi is a protected resource for tests that takes DPoP-bound
// access tokens only (RFC 9449 §7), checking every request as a strict
// resource server would: the proof's header (typ dpop+jwt, ES256, a P-256
// public jwk), its signature, htm, htu, iat, jti replay, the server's
// nonce (a 401 use_dpop_nonce with a DPoP-Nonce header asks for it), ath
// against the access token, and the token itself — a JWT signed by the
// issuer's JWKS (RS256) for this resource whose cnf.jkt is the proof key's
// RFC 7638 thumbprint. A bearer token is refused. Its RFC 9728 metadata
// names the issuer and says dpop_bound_access_tokens_required. Requests
// under MovedPath are redirected on the same host.
//
// It listens on 127.0.0.1 only (httptest) and is test support.
package dpopapi

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is where the API answers; its resource URL is Server.URL.
const Path = "/api"

// MovedPath+"/X" redirects (307, before any check) to Path+"/X".
const MovedPath = Path + "/moved"

// Server is a running resource.
type Server struct {
	// URL is the resource (http://127.0.0.1:PORT/api); Issuer its
	// authorization server.
	URL    string
	Issuer string
	// CORS, when set, is the browser origin allowed to call the API.
	CORS string
	// Stats, when set, answers GET /_test/stats.
	Stats func(http.ResponseWriter)

	srv      *httptest.Server
	mu       sync.Mutex
	nonce    string
	nonceN   int
	jtis     map[string]bool
	accepted int
	refused  map[string]int // reason → count
}

// Start serves the resource for issuer.
func Start(issuer string) *Server {
	s := &Server{Issuer: issuer, jtis: map[string]bool{}, refused: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + Path
	s.RotateNonce()
	return s
}

// Close stops it.
func (s *Server) Close() { s.srv.Close() }

// RotateNonce makes the server ask for a new nonce.
func (s *Server) RotateNonce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonceN++
	s.nonce = "api-nonce-" + strconv.Itoa(s.nonceN)
}

// Accepted counts the requests let through.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Refused counts the requests refused for reason ("use_dpop_nonce",
// "bearer", "bad proof: …", "bad token: …"), or all of them for "".
func (s *Server) Refused(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason != "" {
		return s.refused[reason]
	}
	n := 0
	for _, c := range s.refused {
		n += c
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.CORS != "" {
		w.Header().Set("Access-Control-Allow-Origin", s.CORS)
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, DPoP, Content-Type")
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
		w.Header().Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	switch {
	case r.URL.Path == "/_test/stats" && s.Stats != nil:
		w.Header().Set("Content-Type", "application/json")
		s.Stats(w)
		return
	case r.URL.Path == "/.well-known/oauth-protected-resource"+Path:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"resource": s.URL, "authorization_servers": []string{s.Issuer},
			"scopes_supported": []string{"api:read"}, "dpop_bound_access_tokens_required": true,
		})
		return
	case r.URL.Path != Path && !strings.HasPrefix(r.URL.Path, Path+"/"):
		http.NotFound(w, r)
		return
	case strings.HasPrefix(r.URL.Path, MovedPath+"/"):
		// Moved on this host, method and body kept (307): the request to
		// the new URL needs a proof of its own.
		to := Path + strings.TrimPrefix(r.URL.Path, MovedPath)
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", to)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	reason := s.check(r)
	s.mu.Lock()
	nonce := s.nonce
	if reason == "" {
		s.accepted++
	} else {
		s.refused[reason]++
	}
	s.mu.Unlock()
	w.Header().Set("DPoP-Nonce", nonce)
	switch {
	case reason == "use_dpop_nonce":
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256"`)
	case reason != "":
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", algs="ES256"`)
	}
	if reason != "" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":%q}`, reason)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"method":%q,"path":%q}`, r.Method, r.URL.Path)
}

type jwk struct{ Kty, Crv, X, Y string }

// check returns "" for a request to let through, else why not.
func (s *Server) check(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "bearer") {
		return "bearer"
	}
	if scheme != "DPoP" || token == "" {
		return "no token"
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "bad proof: want exactly one"
	}
	parts := strings.Split(proofs[0], ".")
	if len(parts) != 3 {
		return "bad proof: not a JWS"
	}
	var h struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		JWK jwk    `json:"jwk"`
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath"`
		Nonce string `json:"nonce"`
	}
	if decode(parts[0], &h) != nil || decode(parts[1], &c) != nil {
		return "bad proof: encoding"
	}
	if h.Typ != "dpop+jwt" || h.Alg != "ES256" || h.JWK.Kty != "EC" || h.JWK.Crv != "P-256" {
		return "bad proof: header"
	}
	pub, err := h.JWK.public()
	if err != nil {
		return "bad proof: jwk"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || len(sig) != 64 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "bad proof: signature"
	}
	if c.HTM != r.Method || c.HTU != "http://"+r.Host+r.URL.Path {
		return "bad proof: htm or htu"
	}
	if d := time.Since(time.Unix(c.IAT, 0)); d > time.Minute || d < -time.Minute {
		return "bad proof: iat"
	}
	at := sha256.Sum256([]byte(token))
	if c.ATH != base64.RawURLEncoding.EncodeToString(at[:]) {
		return "bad proof: ath"
	}
	s.mu.Lock()
	seen := c.JTI == "" || s.jtis[c.JTI]
	if !seen {
		s.jtis[c.JTI] = true
	}
	want := s.nonce
	s.mu.Unlock()
	if seen {
		return "bad proof: jti replayed"
	}
	if c.Nonce != want {
		return "use_dpop_nonce"
	}
	jkt, err := s.checkToken(token)
	if err != nil {
		return "bad token: " + err.Error()
	}
	if jkt != h.JWK.thumbprint() {
		return "bad token: cnf.jkt is another key's"
	}
	return ""
}

func decode(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (k jwk) public() (*ecdsa.PublicKey, error) {
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad coordinates")
	}
	if _, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...)); err != nil {
		return nil, errors.New("not a point on P-256")
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
}

// thumbprint is RFC 7638's, computed here independently of the client.
func (k jwk) thumbprint() string {
	b, _ := json.Marshal(map[string]string{"crv": k.Crv, "kty": k.Kty, "x": k.X, "y": k.Y}) // sorted keys
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkToken verifies the access token: an RS256 JWT of the issuer for
// this resource, unexpired and bound to a key; it returns its cnf.jkt.
func (s *Server) checkToken(tok string) (string, error) {
	jkt, err := VerifyAccessToken(s.Issuer, s.URL, tok)
	if err != nil {
		return "", err
	}
	if jkt == "" {
		return "", errors.New("not bound to a key (no cnf.jkt)")
	}
	return jkt, nil
}

// VerifyAccessToken checks a JWT access token the way a resource server
// does: RS256, signed by a key of issuer's /jwks (oidc-provider's), of that
// issuer, for exactly audience, unexpired. It returns the cnf.jkt it is
// bound to ("" for a bearer token). Test resources share it.
func VerifyAccessToken(issuer, audience, tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	var h struct{ Alg, Kid string }
	var c struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
		Exp int64           `json:"exp"`
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if decode(parts[0], &h) != nil || decode(parts[1], &c) != nil || h.Alg != "RS256" {
		return "", errors.New("not an RS256 JWT")
	}
	resp, err := http.Get(issuer + "/jwks")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return "", err
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	ok := false
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (h.Kid != "" && k.Kid != h.Kid) {
			continue
		}
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		ok = ok || rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	}
	if !ok {
		return "", errors.New("bad signature")
	}
	var aud []string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var one string
		json.Unmarshal(c.Aud, &one)
		aud = []string{one}
	}
	if c.Iss != issuer || len(aud) != 1 || aud[0] != audience || time.Now().Unix() > c.Exp {
		return "", fmt.Errorf("wrong iss %q, aud %q or expired", c.Iss, aud)
	}
	return c.Cnf.JKT, nil
}
