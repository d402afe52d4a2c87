package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
)

// Server is the suite's authorization server, as a function from a
// request to a response: discovery, the authorization endpoint (called by
// the suite as the browser would, see [Server.Authorize]), the token
// endpoint (codes bound to their PKCE challenge and DPoP key, rotating
// refresh tokens), revocation and RFC 7591 registration. Its issuer is the
// scheme and host each request was sent to, so an adapter can serve it on
// any loopback address. Its tokens are numbered (at-1, rt-1, …): the same
// scenario gives the same tokens on every target.
type Server struct {
	// Delay is how long a token request waits before it is answered:
	// concurrent callers pile up on the lock meanwhile.
	Delay time.Duration

	mu     sync.Mutex
	cfg    ServerConfig
	issued int
	coded  int
	codes  map[string]grant // authorization codes, single use
	tokens map[string]grant // live refresh tokens
	// clients are the client IDs the server knows; registered ones are
	// also in registered.
	clients    map[string]bool
	registered []string
	log        []string // what each request was, in order
	failure    string   // set when a request broke the protocol
	refuseCode bool
}

// ServerConfig is what the server offers.
type ServerConfig struct {
	// Registration publishes an RFC 7591 endpoint; every login without a
	// client ID then registers one.
	Registration bool
	// DPoP advertises ES256 DPoP proofs (RFC 9449).
	DPoP bool
	// KeepRefreshToken: a refresh answers without a refresh token, so the
	// old one stays in use (no rotation).
	KeepRefreshToken bool
	// DPoPNonce, with DPoP: a token request's proof must carry this nonce;
	// one without it is answered use_dpop_nonce with the nonce in the
	// DPoP-Nonce header (RFC 9449 §8).
	DPoPNonce string
}

// grant is what a code or refresh token stands for.
type grant struct {
	client    string
	redirect  string
	challenge string
	jkt       string // the DPoP key the grant is bound to
}

// PresetClient is the client every server knows without registration.
const PresetClient = "console"

// NewServer returns a server offering cfg.
func NewServer(cfg ServerConfig) *Server {
	return &Server{cfg: cfg, codes: map[string]grant{}, tokens: map[string]grant{}, clients: map[string]bool{PresetClient: true}}
}

// Log is what the server was asked, in order: "discover" for a run of
// metadata requests, "register", "token authorization_code", "token
// refresh_token", "revoke", "authorize" (by the suite's browser).
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Failure says how a client broke the protocol ("" if none did).
func (s *Server) Failure() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// Registered are the client IDs registered so far.
func (s *Server) Registered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.registered...)
}

// ForgetClients drops every registered client, as a server does that
// expires them: their next use is invalid_client.
func (s *Server) ForgetClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.registered {
		delete(s.clients, id)
	}
}

// RefuseCodes makes every code exchange invalid_grant, as for a code that
// expired while the user was away.
func (s *Server) RefuseCodes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseCode = true
}

// RevokeAll revokes every refresh token: the next refresh is invalid_grant.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Mint issues tokens outside any flow, for a login a scenario stores
// before it starts.
func (s *Server) Mint(client string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access, refresh = s.next()
	s.tokens[refresh] = grant{client: client}
	return access, refresh
}

func (s *Server) next() (access, refresh string) {
	s.issued++
	return fmt.Sprintf("at-%d", s.issued), fmt.Sprintf("rt-%d", s.issued)
}

// Metadata is the server's RFC 8414 metadata at issuer.
func (s *Server) Metadata(issuer string) core.Metadata {
	m := core.Metadata{
		Issuer:                issuer,
		AuthorizationEndpoint: issuer + "/authorize",
		TokenEndpoint:         issuer + "/token",
		RevocationEndpoint:    issuer + "/revoke",
	}
	if s.cfg.Registration {
		m.RegistrationEndpoint = issuer + "/reg"
	}
	if s.cfg.DPoP {
		m.DPoPSigningAlgValuesSupported = []string{core.AlgES256}
	}
	return m
}

func (s *Server) record(what string) {
	if what == "discover" && len(s.log) > 0 && s.log[len(s.log)-1] == what {
		return
	}
	s.log = append(s.log, what)
}

func (s *Server) broken(format string, args ...any) {
	if s.failure == "" {
		s.failure = fmt.Sprintf(format, args...)
	}
}

// Authorize answers an authorization request URL as a user who signs in
// at once would see it answered: the redirect URI with a code and the
// state (and iss, RFC 9207).
func (s *Server) Authorize(authURL string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("authorize" + forResource(q.Get("resource")))
	switch {
	case q.Get("response_type") != "code":
		return "", errors.New("authorize: response_type is not code")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		return "", errors.New("authorize: no S256 PKCE challenge")
	case q.Get("state") == "":
		return "", errors.New("authorize: no state")
	}
	// A client the server forgot would see an error page here; the suite
	// lets the login go on to the code exchange, which says invalid_client.
	s.coded++
	code := fmt.Sprintf("code-%d", s.coded)
	s.codes[code] = grant{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), jkt: q.Get("dpop_jkt")}
	r, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || r.Host == "" {
		return "", errors.New("authorize: no usable redirect_uri")
	}
	back := r.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	back.Set("iss", u.Scheme+"://"+u.Host)
	r.RawQuery = back.Encode()
	return r.String(), nil
}

// Handle answers a request sent to the server.
func (s *Server) Handle(r core.Request) core.Response {
	u, err := url.Parse(r.URL)
	if err != nil {
		return jsonResponse(400, map[string]string{"error": "invalid_request"})
	}
	issuer := u.Scheme + "://" + u.Host
	if r.Method == "POST" && u.Path == "/token" && s.Delay > 0 {
		time.Sleep(s.Delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == "GET" && u.Path == "/.well-known/openid-configuration":
		s.record("discover")
		return jsonResponse(200, s.Metadata(issuer))
	case r.Method == "GET":
		s.record("discover") // other metadata documents: none here
		return jsonResponse(404, map[string]string{"error": "not_found"})
	case u.Path == "/reg" && s.cfg.Registration:
		s.record("register")
		var c struct {
			RedirectURIs []string `json:"redirect_uris"`
		}
		if json.Unmarshal(r.JSON, &c) != nil || len(c.RedirectURIs) == 0 {
			return jsonResponse(400, map[string]string{"error": "invalid_client_metadata"})
		}
		id := fmt.Sprintf("reg-%d", len(s.registered)+1)
		s.registered = append(s.registered, id)
		s.clients[id] = true
		return jsonResponse(201, map[string]any{"client_id": id, "token_endpoint_auth_method": "none", "redirect_uris": c.RedirectURIs})
	case u.Path == "/revoke":
		s.record("revoke")
		delete(s.tokens, r.Form.Get("token"))
		return core.Response{Status: 200}
	case u.Path == "/token":
		gt := r.Form.Get("grant_type")
		s.record("token " + gt + forResource(r.Form.Get("resource")))
		client := r.Form.Get("client_id")
		if !s.clients[client] {
			return jsonResponse(401, map[string]string{"error": "invalid_client"})
		}
		jkt, nonce, err := s.proof(r, issuer+"/token")
		if err != nil {
			s.broken("token request: %v", err)
			return jsonResponse(400, map[string]string{"error": "invalid_dpop_proof"})
		}
		if jkt != "" && s.cfg.DPoPNonce != "" && nonce != s.cfg.DPoPNonce {
			r := jsonResponse(400, map[string]string{"error": "use_dpop_nonce"})
			r.DPoPNonce = s.cfg.DPoPNonce
			r.WWWAuthenticate = `DPoP error="use_dpop_nonce"`
			return r
		}
		switch gt {
		case "authorization_code":
			g, ok := s.codes[r.Form.Get("code")]
			delete(s.codes, r.Form.Get("code"))
			switch {
			case !ok || s.refuseCode || g.client != client || g.redirect != r.Form.Get("redirect_uri"):
				return jsonResponse(400, map[string]string{"error": "invalid_grant"})
			case subtle.ConstantTimeCompare([]byte(core.S256Challenge(r.Form.Get("code_verifier"))), []byte(g.challenge)) != 1:
				s.broken("the code verifier does not match the challenge")
				return jsonResponse(400, map[string]string{"error": "invalid_grant"})
			case g.jkt != "" && g.jkt != jkt:
				s.broken("the code exchange is not proved with the key of dpop_jkt")
				return jsonResponse(400, map[string]string{"error": "invalid_dpop_proof"})
			}
			return s.issue(grant{client: client, jkt: jkt})
		case "refresh_token":
			rt := r.Form.Get("refresh_token")
			g, ok := s.tokens[rt]
			switch {
			case !ok || g.client != client:
				clear(s.tokens) // a reused refresh token revokes the grant
				return jsonResponse(400, map[string]string{"error": "invalid_grant"})
			case g.jkt != jkt:
				s.broken("the refresh is not proved with the login's key")
				return jsonResponse(400, map[string]string{"error": "invalid_dpop_proof"})
			}
			if s.cfg.KeepRefreshToken {
				access, _ := s.next()
				return tokenResponse(access, "", jkt)
			}
			delete(s.tokens, rt)
			return s.issue(g)
		}
		return jsonResponse(400, map[string]string{"error": "unsupported_grant_type"})
	}
	return jsonResponse(404, map[string]string{"error": "not_found"})
}

// forResource is how the log names the RFC 8707 resource a request asks
// a token for ("" for none).
func forResource(resource string) string {
	if resource == "" {
		return ""
	}
	return " for " + resource
}

func (s *Server) issue(g grant) core.Response {
	access, refresh := s.next()
	s.tokens[refresh] = g
	return tokenResponse(access, refresh, g.jkt)
}

func tokenResponse(access, refresh, jkt string) core.Response {
	t := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600}
	if jkt != "" {
		t["token_type"] = core.DPoPTokenType
	}
	if refresh != "" {
		t["refresh_token"] = refresh
	}
	return jsonResponse(200, t)
}

func jsonResponse(status int, v any) core.Response {
	b, _ := json.Marshal(v)
	return core.Response{Status: status, ContentType: "application/json", Body: b}
}

// proof checks the request's DPoP proof (RFC 9449 §4.3), if it has one,
// and returns its key's thumbprint and its nonce: the signature must
// verify with the header's key, so both targets' signers are held to the
// same JWS.
func (s *Server) proof(r core.Request, htu string) (jkt, nonce string, err error) {
	p := r.Header["DPoP"]
	if p == "" {
		return "", "", nil
	}
	parts := strings.Split(p, ".")
	if len(parts) != 3 {
		return "", "", errors.New("the DPoP proof is not a compact JWS")
	}
	var h struct {
		Typ string   `json:"typ"`
		Alg string   `json:"alg"`
		JWK core.JWK `json:"jwk"`
	}
	var c core.ProofClaims
	if err := decodePart(parts[0], &h); err != nil {
		return "", "", err
	}
	if err := decodePart(parts[1], &c); err != nil {
		return "", "", err
	}
	if h.Typ != core.ProofType || h.Alg != core.AlgES256 || h.JWK.Kty != "EC" || h.JWK.Crv != "P-256" {
		return "", "", fmt.Errorf("the DPoP proof's header is %s %s %s %s", h.Typ, h.Alg, h.JWK.Kty, h.JWK.Crv)
	}
	if c.Method != "POST" || c.URI != htu || c.JWTID == "" || c.IssuedAt == 0 {
		return "", "", errors.New("the DPoP proof's claims do not name this request")
	}
	x, errX := base64.RawURLEncoding.DecodeString(h.JWK.X)
	y, errY := base64.RawURLEncoding.DecodeString(h.JWK.Y)
	sig, errS := base64.RawURLEncoding.DecodeString(parts[2])
	if errX != nil || errY != nil || errS != nil || len(sig) != 64 {
		return "", "", errors.New("the DPoP proof's key or signature is not base64url P-256")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", "", errors.New("the DPoP proof's signature does not verify")
	}
	return h.JWK.Thumbprint(), c.Nonce, nil
}

func decodePart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errors.New("the DPoP proof has a part that is not base64url JSON")
	}
	return nil
}
