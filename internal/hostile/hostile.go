// Package hostile is a small OAuth 2.0 authorization server for tests that
// attack the client: it speaks the protocol well enough for a real login
// and refresh, and a [Mode] switch makes it misbehave on purpose — slow or
// stalled token answers, rotating refresh tokens that revoke the whole
// grant when one is reused, answers edited or replaced byte for byte, and
// extra (possibly poisonous) parameters on the authorization response.
//
// The authorize endpoint approves at once, without a login page: it
// redirects to the client's redirect URI with a code, so any user agent
// that follows redirects (internal/testidp's `testidp -login URL` as a
// BROWSER command, or [Browse]) completes a login.
//
// A [Server] is an http.Handler; [Start] serves it on 127.0.0.1 and
// [Server.Close] stops it. It keeps everything in memory. Test support only.
package hostile

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mode is how the server behaves; the zero Mode is a correct server whose
// refresh tokens rotate and whose reuse is refused. Change it at any time
// with [Server.SetMode]; a request uses the mode current when it arrives.
type Mode struct {
	// TokenDelay holds every token-endpoint answer this long, or until the
	// client gives up on the request.
	TokenDelay time.Duration
	// Hold, when not nil, holds every token-endpoint answer until it is
	// closed (or the client gives up): a stalled server for as long as the
	// test wants. The grant has been counted by then (see [Server.Requests]).
	Hold <-chan struct{}
	// AccessTTL is the expires_in of issued access tokens; 0 means one
	// hour, a negative value omits expires_in.
	AccessTTL time.Duration
	// NoRotation keeps a refresh token valid after use (no new one is
	// issued). By default every refresh issues a new refresh token, and
	// reusing a spent one is answered invalid_grant and revokes the grant,
	// as servers following RFC 9700 §4.14.2 do.
	NoRotation bool
	// TokenPadding makes access tokens this many bytes long (at least the
	// normal length).
	TokenPadding int
	// Edit changes a successful token answer (a JSON object) before it is
	// sent: delete access_token, set expires_in to a string, add an
	// error_description with escape sequences... The grant has happened:
	// a rotated refresh token is already the only valid one.
	Edit func(grant string, answer map[string]any)
	// Raw, when it returns a status other than 0, replaces the token
	// answer entirely with that status, content type and body, before any
	// grant is made (the refresh token presented stays valid).
	Raw func(grant string, form url.Values) (status int, contentType, body string)
	// CallbackParams are added to the authorization response. When it has
	// "error", no code is issued.
	CallbackParams url.Values
	// EditMetadata changes the discovery document before it is sent.
	EditMetadata func(map[string]any)
	// AuthorizeAt, when set, is another server's authorization endpoint
	// that this one's just redirects to, the request's query unchanged:
	// a sign-in page on this server's origin that is really another's.
	AuthorizeAt string
}

// Server is the authorization server. Its zero value is not usable: call
// [New] or [Start].
type Server struct {
	// Issuer is the server's URL, http://127.0.0.1:PORT when started by
	// Start; set it before serving when using New with your own listener.
	Issuer string

	mu       sync.Mutex
	mode     Mode
	counts   map[string]int
	codes    map[string]codeGrant
	refresh  map[string]*refreshState
	access   map[string]bool
	revoked  map[int]bool
	families int
	hs       *http.Server
	ln       net.Listener
}

type codeGrant struct {
	clientID, redirectURI, challenge, scope, nonce string
}

type refreshState struct {
	family   int
	clientID string
	scope    string
	spent    bool
}

// New returns a server that answers for issuer.
func New(issuer string) *Server {
	return &Server{
		Issuer:  strings.TrimSuffix(issuer, "/"),
		counts:  map[string]int{},
		codes:   map[string]codeGrant{},
		refresh: map[string]*refreshState{},
		access:  map[string]bool{},
		revoked: map[int]bool{},
	}
}

// Start serves a new server on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hostile: %w", err)
	}
	s := New("http://" + ln.Addr().String())
	s.ln = ln
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.hs.Serve(ln)
	return s, nil
}

// Close stops a server started by Start and closes its connections, held
// requests included.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// SetMode switches the server's behaviour.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Requests counts the token-endpoint requests of this grant_type
// (authorization_code, refresh_token) received so far, counted on arrival,
// before any delay or hold.
func (s *Server) Requests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[grantType]
}

// ValidAccessToken reports whether the server issued tok and has not
// revoked it (a resource server's check).
func (s *Server) ValidAccessToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access[tok]
}

// Endpoint paths.
const (
	AuthorizePath = "/authorize"
	TokenPath     = "/token"
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		s.metadata(w)
	case AuthorizePath:
		s.authorize(w, r)
	case TokenPath:
		s.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) current() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

func (s *Server) metadata(w http.ResponseWriter) {
	m := map[string]any{
		"issuer":                                s.Issuer,
		"authorization_endpoint":                s.Issuer + AuthorizePath,
		"token_endpoint":                        s.Issuer + TokenPath,
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	}
	if f := s.current().EditMetadata; f != nil {
		f(m)
	}
	writeJSON(w, http.StatusOK, m)
}

// authorize approves at once: a code for the client, back to its redirect
// URI with the state, plus the mode's CallbackParams (or, with the mode's
// AuthorizeAt, sends the request on there).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if at := s.current().AuthorizeAt; at != "" {
		http.Redirect(w, r, at+"?"+r.URL.RawQuery, http.StatusFound)
		return
	}
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || q.Get("client_id") == "" {
		http.Error(w, "bad authorization request: client_id and an absolute redirect_uri are required", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request: PKCE with S256 is required", http.StatusBadRequest)
		return
	}
	extra := s.current().CallbackParams
	back := redirect.Query()
	if extra.Get("error") == "" {
		code := randomString()
		s.mu.Lock()
		s.codes[code] = codeGrant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scope: q.Get("scope"), nonce: q.Get("nonce")}
		s.mu.Unlock()
		back.Set("code", code)
	}
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	for k, vs := range extra {
		back[k] = vs
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, "invalid_request", "the body is not a form")
		return
	}
	grant := form.Get("grant_type")
	s.mu.Lock()
	s.counts[grant]++
	m := s.mode
	s.mu.Unlock()

	if m.TokenDelay > 0 {
		t := time.NewTimer(m.TokenDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if m.Hold != nil {
		select {
		case <-m.Hold:
		case <-r.Context().Done():
			return
		}
	}
	if m.Raw != nil {
		if status, ctype, b := m.Raw(grant, form); status != 0 {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			io.WriteString(w, b)
			return
		}
	}
	var answer map[string]any
	var code string
	switch grant {
	case "authorization_code":
		answer, code = s.redeem(form, m)
	case "refresh_token":
		answer, code = s.refreshGrant(form, m)
	default:
		code = "unsupported_grant_type"
	}
	if code != "" {
		oauthError(w, code, "refused by the test server")
		return
	}
	if m.Edit != nil {
		m.Edit(grant, answer)
	}
	writeJSON(w, http.StatusOK, answer)
}

func (s *Server) redeem(form url.Values, m Mode) (map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[form.Get("code")]
	delete(s.codes, form.Get("code")) // one use, whatever happens
	if !ok || c.clientID != form.Get("client_id") || c.redirectURI != form.Get("redirect_uri") {
		return nil, "invalid_grant"
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		return nil, "invalid_grant"
	}
	s.families++
	answer := s.issue(s.families, c.clientID, c.scope, "", m)
	if slices.Contains(strings.Fields(c.scope), "openid") {
		// An ID token naming this server, as an OpenID provider answers
		// (unsigned: dualauth reads it from the token endpoint over TLS).
		answer["id_token"] = idToken(map[string]any{"iss": s.Issuer, "aud": c.clientID, "sub": "user", "nonce": c.nonce, "exp": time.Now().Add(time.Hour).Unix()})
	}
	return answer, ""
}

func (s *Server) refreshGrant(form url.Values, m Mode) (map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := form.Get("refresh_token")
	st, ok := s.refresh[rt]
	if !ok || s.revoked[st.family] || st.clientID != form.Get("client_id") {
		return nil, "invalid_grant"
	}
	if st.spent {
		// A spent token came back: someone holds a copy. Revoke the grant.
		s.revoked[st.family] = true
		return nil, "invalid_grant"
	}
	keep := ""
	if m.NoRotation {
		keep = rt
	} else {
		st.spent = true
	}
	return s.issue(st.family, st.clientID, st.scope, keep, m), ""
}

// issue mints an access token and a refresh token (keep, when it stays
// valid) for the grant family; s.mu is held.
func (s *Server) issue(family int, clientID, scope, keep string, m Mode) map[string]any {
	at := "at-" + randomString()
	if n := m.TokenPadding - len(at); n > 0 {
		at += strings.Repeat("x", n)
	}
	rt := keep
	if rt == "" {
		rt = "rt-" + randomString()
		s.refresh[rt] = &refreshState{family: family, clientID: clientID, scope: scope}
	}
	s.access[at] = true
	answer := map[string]any{"access_token": at, "token_type": "Bearer", "refresh_token": rt}
	switch {
	case m.AccessTTL == 0:
		answer["expires_in"] = 3600
	case m.AccessTTL > 0:
		answer["expires_in"] = int(m.AccessTTL / time.Second)
	}
	if scope != "" {
		answer["scope"] = scope
	}
	return answer
}

func idToken(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Browse acts as the user's browser on an authorize URL: it follows the
// redirects (loopback only) to the client's redirect URI and fetches it,
// as a BROWSER command would. It returns the final URL.
func Browse(authorizeURL string) (*url.URL, error) {
	c := &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if ip := net.ParseIP(req.URL.Hostname()); (ip == nil || !ip.IsLoopback()) && req.URL.Hostname() != "localhost" {
				return fmt.Errorf("hostile: refusing to leave loopback for %s", req.URL.Host)
			}
			if len(via) > 10 {
				return fmt.Errorf("hostile: too many redirects")
			}
			return nil
		},
	}
	resp, err := c.Get(authorizeURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Request.URL, nil
}
