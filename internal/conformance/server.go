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
	"slices"
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
	// refuseAccess: the resource refuses every access token.
	refuseAccess bool

	// What the server does wrong or differently from now on (see the
	// methods that set them).
	iss          string              // the authorization response's iss: "" the issuer, IssNone none
	badToken     string              // the token field answered with control characters
	describe     string              // error_description of a refused code
	scope        string              // the scope of the last authorization request
	access       map[string]string   // access token: the resource it was issued for
	accessJKT    map[string]string   // access token: the DPoP key it is bound to
	redirectURIs map[string][]string // registered client: its redirect URIs
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
	// SignInElsewhere and TokenElsewhere put the authorization endpoint
	// and the token endpoint (with revocation) on another origin than the
	// issuer's (see [Elsewhere]): the shapes the mix-up rule tells apart.
	SignInElsewhere, TokenElsewhere bool
	// IssParameter publishes authorization_response_iss_parameter_supported
	// (RFC 9207).
	IssParameter bool
	// IDTokens is whose ID token a code exchange asked openid answers
	// with: "" this issuer's (an OpenID provider), [IDTokensOther] the
	// other origin's (the endpoints are another server's, a mix-up),
	// [IDTokensNone] none.
	IDTokens string
	// Resources are protected resources (RFC 9728) on the server's origin.
	Resources []Resource
	// ClientURI is where a registration's registration_client_uri (RFC
	// 7592, given with a registration access token) is: nowhere (""),
	// [OnEndpoint] (the registration endpoint's origin) or [Elsewhere].
	ClientURI string
}

// Resource is a protected resource: a call to its path or below with a
// token issued for it is answered 200, any other 401 with a challenge
// naming its metadata (RFC 9728 §5.1).
type Resource struct {
	Path string
	// Scopes are its metadata's scopes_supported.
	Scopes []string
	// Challenged: its metadata is not at the well-known URL but at one
	// only a 401 of the resource names, with ChallengeScope as the
	// challenge's scope.
	Challenged     bool
	ChallengeScope string
	// DPoPNonce: a DPoP call's proof must carry this nonce; one without
	// it is answered 401 use_dpop_nonce with the nonce in the DPoP-Nonce
	// header (RFC 9449 §9).
	DPoPNonce string
}

// IssNone, in [SendIss], sends no iss.
const IssNone = "none"

// What a [ServerConfig.IDTokens] is.
const (
	IDTokensOther = "other"
	IDTokensNone  = "none"
)

// Where a [ServerConfig.ClientURI] is.
const (
	OnEndpoint = "endpoint"
	OnOther    = "elsewhere"
)

// Elsewhere is the same server on another origin: 127.0.0.1 and
// localhost swapped, the port kept (both reach the same listener).
func Elsewhere(origin string) string {
	if strings.Contains(origin, "://localhost:") {
		return strings.Replace(origin, "://localhost:", "://127.0.0.1:", 1)
	}
	return strings.Replace(origin, "://127.0.0.1:", "://localhost:", 1)
}

// grant is what a code or refresh token stands for.
type grant struct {
	client    string
	redirect  string
	challenge string
	jkt       string // the DPoP key the grant is bound to
	resource  string // the RFC 8707 resource the tokens are for
	idToken   string // a code's: the ID token its exchange answers with
}

// PresetClient is the client every server knows without registration.
const PresetClient = "console"

// NewServer returns a server offering cfg.
func NewServer(cfg ServerConfig) *Server {
	return &Server{cfg: cfg, codes: map[string]grant{}, tokens: map[string]grant{}, clients: map[string]bool{PresetClient: true},
		access: map[string]string{}, accessJKT: map[string]string{}, redirectURIs: map[string][]string{}}
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

// SendIss makes the authorization response name iss as the issuer (any
// text, or [IssNone] for no iss at all).
func SendIss(iss string) func(*Server) {
	return func(s *Server) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.iss = iss
	}
}

// SendIDTokens makes code exchanges answer with whose ID token kind says
// (see [ServerConfig.IDTokens]).
func SendIDTokens(kind string) func(*Server) {
	return func(s *Server) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cfg.IDTokens = kind
	}
}

// SendBadToken makes every token answer carry field (access_token,
// refresh_token or id_token) with control characters in it.
func SendBadToken(field string) func(*Server) {
	return func(s *Server) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.badToken = field
	}
}

// RefuseCodesSaying is [Server.RefuseCodes] with an error_description.
func RefuseCodesSaying(description string) func(*Server) {
	return func(s *Server) {
		s.RefuseCodes()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.describe = description
	}
}

// Scope is the scope parameter of the last authorization request since
// the step began (see [Server.forgetScope]).
func (s *Server) Scope() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scope
}

// noAuthorization is the scope of a step that made no authorization
// request: it matches no Want.Scope.
const noAuthorization = "(no authorization request)"

// forgetScope forgets the last authorization request's scope, so that a
// step that makes none is not compared with an earlier step's.
func (s *Server) forgetScope() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scope = noAuthorization
}

// RevokeAccessTokens revokes every access token issued so far: the
// resource answers their next call 401 invalid_token.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// RefuseAccessTokens makes the resource answer every call 401
// invalid_token, whatever the token.
func (s *Server) RefuseAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseAccess = true
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
	signIn, token := issuer, issuer
	if s.cfg.SignInElsewhere {
		signIn = Elsewhere(issuer)
	}
	if s.cfg.TokenElsewhere {
		token = Elsewhere(issuer)
	}
	m := core.Metadata{
		Issuer:                            issuer,
		AuthorizationEndpoint:             signIn + "/authorize",
		TokenEndpoint:                     token + "/token",
		RevocationEndpoint:                token + "/revoke",
		AuthorizationResponseIssSupported: s.cfg.IssParameter,
		CodeChallengeMethodsSupported:     []string{"S256"},
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
	s.record("authorize" + forResource(u, q.Get("resource")))
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
	if uris, ok := s.redirectURIs[q.Get("client_id")]; ok && !slices.Contains(uris, q.Get("redirect_uri")) {
		// Servers compare a registered client's redirect URI exactly; the
		// user would see an error page and nothing would come back.
		return "", errors.New("authorize: invalid_request: unregistered redirect_uri")
	}
	s.scope = q.Get("scope")
	s.coded++
	iss := u.Scheme + "://" + u.Host
	if s.cfg.SignInElsewhere {
		iss = Elsewhere(iss)
	}
	code := fmt.Sprintf("code-%d", s.coded)
	s.codes[code] = grant{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), jkt: q.Get("dpop_jkt"), resource: q.Get("resource"),
		idToken: s.idToken(iss, q)}
	r, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || r.Host == "" {
		return "", errors.New("authorize: no usable redirect_uri")
	}
	back := r.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	switch s.iss {
	case "":
		back.Set("iss", iss)
	case IssNone:
	default:
		back.Set("iss", s.iss)
	}
	r.RawQuery = back.Encode()
	return r.String(), nil
}

// idToken is the ID token the code of an authorization request q to
// issuer answers with: "" unless openid was asked; another server's (the
// other origin's) with [IDTokensOther]. Unsigned, as the core reads an ID
// token from the token endpoint without checking its signature.
func (s *Server) idToken(issuer string, q url.Values) string {
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") || s.cfg.IDTokens == IDTokensNone {
		return ""
	}
	if s.cfg.IDTokens == IDTokensOther {
		issuer = Elsewhere(issuer)
	}
	claims, _ := json.Marshal(map[string]any{"iss": issuer, "aud": q.Get("client_id"), "sub": "user", "nonce": q.Get("nonce")})
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + "." + enc([]byte("sig"))
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
	case r.Method == "GET" && strings.HasPrefix(u.Path, "/reg/"):
		s.record("read client")
		if r.Header["Authorization"] != "Bearer rat-"+strings.TrimPrefix(u.Path, "/reg/") {
			s.broken("a read of client %s without its registration access token", strings.TrimPrefix(u.Path, "/reg/"))
		}
		return jsonResponse(200, map[string]any{"client_id": strings.TrimPrefix(u.Path, "/reg/")})
	case r.Method == "GET":
		if resp := s.resource(issuer, u.Path, r); resp != nil {
			return *resp
		}
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
		s.redirectURIs[id] = c.RedirectURIs
		answer := map[string]any{"client_id": id, "token_endpoint_auth_method": "none", "redirect_uris": c.RedirectURIs}
		switch s.cfg.ClientURI {
		case OnEndpoint:
			answer["registration_client_uri"], answer["registration_access_token"] = issuer+"/reg/"+id, "rat-"+id
		case OnOther:
			answer["registration_client_uri"], answer["registration_access_token"] = Elsewhere(issuer)+"/reg/"+id, "rat-"+id
		}
		return jsonResponse(201, answer)
	case u.Path == "/revoke":
		s.record("revoke")
		// Every logout of the suite has a live refresh token to revoke:
		// anything else (a spent or made-up token, another client's, no
		// client_id) is a logout that revoked the wrong thing.
		rt, client := r.Form.Get("token"), r.Form.Get("client_id")
		switch g, ok := s.tokens[rt]; {
		case !ok:
			s.broken("a revoke of something that is no live refresh token")
		case client == "":
			s.broken("a revoke without client_id")
		case g.client != client:
			s.broken("a revoke of client %s's refresh token by client %s", g.client, client)
		case r.Form.Get("token_type_hint") != "" && r.Form.Get("token_type_hint") != "refresh_token":
			s.broken("a revoke of a refresh token hinted as %s", r.Form.Get("token_type_hint"))
		}
		delete(s.tokens, rt)
		return core.Response{Status: 200}
	case u.Path == "/token":
		gt := r.Form.Get("grant_type")
		s.record("token " + gt + forResource(u, r.Form.Get("resource")))
		client := r.Form.Get("client_id")
		if !s.clients[client] {
			return jsonResponse(401, map[string]string{"error": "invalid_client"})
		}
		jkt, nonce, _, err := s.proof(r, "POST", issuer+"/token")
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
			case s.refuseCode && s.describe != "":
				return jsonResponse(400, map[string]string{"error": "invalid_grant", "error_description": s.describe})
			case !ok || s.refuseCode || g.client != client || g.redirect != r.Form.Get("redirect_uri") || g.resource != r.Form.Get("resource"):
				return jsonResponse(400, map[string]string{"error": "invalid_grant"})
			case subtle.ConstantTimeCompare([]byte(core.S256Challenge(r.Form.Get("code_verifier"))), []byte(g.challenge)) != 1:
				s.broken("the code verifier does not match the challenge")
				return jsonResponse(400, map[string]string{"error": "invalid_grant"})
			case g.jkt != "" && g.jkt != jkt:
				s.broken("the code exchange is not proved with the key of dpop_jkt")
				return jsonResponse(400, map[string]string{"error": "invalid_dpop_proof"})
			}
			return s.issue(grant{client: client, jkt: jkt, resource: g.resource, idToken: g.idToken})
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
				s.access[access], s.accessJKT[access] = g.resource, jkt
				return s.tokenResponse(access, "", jkt, "")
			}
			if s.badToken == "" {
				// An answer with a bad token leaves the old refresh
				// token usable, so that one scenario can try several.
				delete(s.tokens, rt)
			}
			return s.issue(g)
		}
		return jsonResponse(400, map[string]string{"error": "unsupported_grant_type"})
	}
	return jsonResponse(404, map[string]string{"error": "not_found"})
}

// forResource is how the log names the RFC 8707 resource a request to u
// asks a token for: its path when it is on u's origin, else the whole URL
// ("" for none).
func forResource(u *url.URL, resource string) string {
	if resource == "" {
		return ""
	}
	if path, ok := strings.CutPrefix(resource, u.Scheme+"://"+u.Host); ok && strings.HasPrefix(path, "/") {
		return " for " + path
	}
	if path, ok := strings.CutPrefix(resource, Elsewhere(u.Scheme+"://"+u.Host)); ok && strings.HasPrefix(path, "/") {
		return " for " + path + " on the other origin"
	}
	return " for " + resource
}

func (s *Server) issue(g grant) core.Response {
	access, refresh := s.next()
	idToken := g.idToken
	g.idToken = "" // the login's only: refreshes answer without one
	s.tokens[refresh] = g
	s.access[access], s.accessJKT[access] = g.resource, g.jkt
	return s.tokenResponse(access, refresh, g.jkt, idToken)
}

// badChars are what a hostile server puts in a token: a clipboard write,
// a window title, a screen clear and an injected header line.
const badChars = "\x1b]52;c;eA==\a\x1b]0;PWNED\a\x1b[2J\r\nX-Injected: 1"

func (s *Server) tokenResponse(access, refresh, jkt, idToken string) core.Response {
	t := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600}
	if idToken != "" {
		t["id_token"] = idToken
	}
	if jkt != "" {
		t["token_type"] = core.DPoPTokenType
	}
	if refresh != "" {
		t["refresh_token"] = refresh
	}
	if s.badToken != "" {
		v, _ := t[s.badToken].(string)
		t[s.badToken] = v + badChars
	}
	return jsonResponse(200, t)
}

// resource answers a GET of path when a resource of the server's has it:
// its metadata, or a call (nil otherwise). A call goes with a Bearer
// token, or a DPoP-bound one and a proof of its key (RFC 9449 §7).
func (s *Server) resource(issuer, path string, req core.Request) *core.Response {
	for _, rs := range s.cfg.Resources {
		meta := "/.well-known/oauth-protected-resource" + rs.Path
		if rs.Challenged {
			meta = "/resource-metadata" + rs.Path
		}
		if path == meta {
			s.record("discover")
			r := jsonResponse(200, core.ResourceMetadata{Resource: issuer + rs.Path, AuthorizationServers: []string{issuer}, ScopesSupported: rs.Scopes})
			return &r
		}
	}
	var in *Resource // the longest resource path contains path
	for i, rs := range s.cfg.Resources {
		if (path == rs.Path || strings.HasPrefix(path, rs.Path+"/")) && (in == nil || len(rs.Path) > len(in.Path)) {
			in = &s.cfg.Resources[i]
		}
	}
	if in == nil {
		return nil
	}
	scheme, token, _ := strings.Cut(req.Header["Authorization"], " ")
	if scheme != "Bearer" && scheme != core.DPoPTokenType {
		s.record("discover") // a probe for a challenge
		r := jsonResponse(401, map[string]string{"error": "invalid_token"})
		r.WWWAuthenticate = fmt.Sprintf(`Bearer resource_metadata="%s/resource-metadata%s"`, issuer, in.Path)
		if in.ChallengeScope != "" {
			r.WWWAuthenticate += fmt.Sprintf(`, scope="%s"`, in.ChallengeScope)
		}
		return &r
	}
	jkt := s.accessJKT[token]
	if scheme == core.DPoPTokenType {
		proved, nonce, ath, err := s.proof(req, "GET", issuer+path)
		switch {
		case err != nil:
			s.broken("resource call: %v", err)
		case proved == "":
			s.broken("a DPoP resource call without a proof")
		case proved != jkt:
			s.broken("a resource call proved with another key than its token's")
		case ath != core.S256Challenge(token):
			s.broken("a resource call's proof has no ath of its token")
		}
		seen := "call " + path + " with DPoP " + token
		if nonce != "" {
			seen += " nonce " + nonce
		}
		s.record(seen)
		if in.DPoPNonce != "" && nonce != in.DPoPNonce {
			r := jsonResponse(401, map[string]string{"error": "use_dpop_nonce"})
			r.WWWAuthenticate = `DPoP error="use_dpop_nonce", algs="ES256"`
			r.DPoPNonce = in.DPoPNonce
			return &r
		}
	} else {
		s.record("call " + path + " with " + token)
	}
	if res, ok := s.access[token]; !ok || res != issuer+in.Path || s.refuseAccess || (jkt != "") != (scheme == core.DPoPTokenType) {
		r := jsonResponse(401, map[string]string{"error": "invalid_token"})
		r.WWWAuthenticate = `Bearer error="invalid_token"`
		return &r
	}
	r := jsonResponse(200, map[string]string{"resource": in.Path})
	return &r
}

func jsonResponse(status int, v any) core.Response {
	b, _ := json.Marshal(v)
	return core.Response{Status: status, ContentType: "application/json", Body: b}
}

// proof checks the request's DPoP proof (RFC 9449 §4.3) for method and
// htu, if it has one, and returns its key's thumbprint, its nonce and its
// ath: the signature must verify with the header's key, so both targets'
// signers are held to the same JWS.
func (s *Server) proof(r core.Request, method, htu string) (jkt, nonce, ath string, err error) {
	p := r.Header["DPoP"]
	if p == "" {
		return "", "", "", nil
	}
	parts := strings.Split(p, ".")
	if len(parts) != 3 {
		return "", "", "", errors.New("the DPoP proof is not a compact JWS")
	}
	var h struct {
		Typ string   `json:"typ"`
		Alg string   `json:"alg"`
		JWK core.JWK `json:"jwk"`
	}
	var c core.ProofClaims
	if err := decodePart(parts[0], &h); err != nil {
		return "", "", "", err
	}
	if err := decodePart(parts[1], &c); err != nil {
		return "", "", "", err
	}
	if h.Typ != core.ProofType || h.Alg != core.AlgES256 || h.JWK.Kty != "EC" || h.JWK.Crv != "P-256" {
		return "", "", "", fmt.Errorf("the DPoP proof's header is %s %s %s %s", h.Typ, h.Alg, h.JWK.Kty, h.JWK.Crv)
	}
	if c.Method != method || c.URI != htu || c.JWTID == "" || c.IssuedAt == 0 {
		return "", "", "", errors.New("the DPoP proof's claims do not name this request")
	}
	x, errX := base64.RawURLEncoding.DecodeString(h.JWK.X)
	y, errY := base64.RawURLEncoding.DecodeString(h.JWK.Y)
	sig, errS := base64.RawURLEncoding.DecodeString(parts[2])
	if errX != nil || errY != nil || errS != nil || len(sig) != 64 {
		return "", "", "", errors.New("the DPoP proof's key or signature is not base64url P-256")
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", "", "", errors.New("the DPoP proof's signature does not verify")
	}
	return h.JWK.Thumbprint(), c.Nonce, c.ATH, nil
}

func decodePart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil || json.Unmarshal(b, v) != nil {
		return errors.New("the DPoP proof has a part that is not base64url JSON")
	}
	return nil
}
