// Package testidp runs a real OpenID Connect provider on loopback for tests:
// the zitadel/oidc example OP (discovery, /auth with a login form,
// /oauth/token with PKCE and rotating refresh tokens, /revoke), with public
// native clients registered per instance, optional short access-token
// lifetimes, a count of token-endpoint requests per grant type, and a
// scripted user agent that signs in through the login form.
//
// It is test support: it listens on 127.0.0.1 only and keeps everything in
// memory.
package testidp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The user the provider knows, and its password.
const (
	Username = "test-user@127.0.0.1"
	Password = "verysecure"
)

// Client is a public native client: PKCE, no secret, refresh tokens.
// Loopback redirect URIs match on any port (RFC 8252 §7.3), and the
// provider treats localhost and 127.0.0.1 alike, so registering
// http://127.0.0.1/callback admits http://127.0.0.1:PORT/callback.
type Client struct {
	ID           string
	RedirectURIs []string
}

// Options configure a provider.
type Options struct {
	Clients []Client
	// AccessTTL shortens the access-token lifetime; 0 keeps the provider's
	// default of 5 minutes.
	AccessTTL time.Duration
	// Addr is the listen address; empty means 127.0.0.1:0. It must be a
	// loopback address.
	Addr string
	// Logger receives the provider's request log. The example provider
	// makes a non-nil logger the process-wide default (slog.SetDefault),
	// so nil, which leaves the default alone, is what tests want.
	Logger *slog.Logger
}

// Server is a running provider.
type Server struct {
	// Issuer is http://127.0.0.1:PORT.
	Issuer string

	srv    *httptest.Server
	mu     sync.Mutex
	counts map[string]int
	total  int
	hook   func(w http.ResponseWriter, r *http.Request) bool
}

// Start starts a provider on a loopback port.
func Start(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("testidp: bad address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("testidp: address %q is not a loopback IP", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testidp: %w", err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Listener.Close()
	hs.Listener = ln
	s := &Server{
		Issuer: "http://" + ln.Addr().String(),
		srv:    hs,
		counts: map[string]int{},
	}
	clients := map[string]*storage.Client{}
	for _, c := range opts.Clients {
		if c.ID == "" {
			ln.Close()
			return nil, errors.New("testidp: a client needs an ID")
		}
		uris := c.RedirectURIs
		if len(uris) == 0 {
			uris = []string{"http://127.0.0.1/callback"}
		}
		clients[c.ID] = storage.NativeClient(c.ID, uris...)
	}
	st := storage.NewStorageWithClients(storage.NewUserStore(s.Issuer), clients)
	var opStorage exampleop.Storage = st
	if opts.AccessTTL > 0 {
		opStorage = &shortLived{Storage: st, ttl: opts.AccessTTL}
	}
	// false: keep PKCE enforced (true would wrap the legacy server).
	handler := exampleop.SetupServer(s.Issuer, opStorage, opts.Logger, false)
	hs.Config.Handler = s.wrap(handler)
	hs.Start()
	return s, nil
}

// Close stops the provider and closes its connections.
func (s *Server) Close() { s.srv.Close() }

// Requests counts the token-endpoint requests seen with this grant_type
// (authorization_code, refresh_token), whatever their outcome.
func (s *Server) Requests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[grantType]
}

// TotalRequests counts every HTTP request the provider has received
// (discovery, login pages, token, revocation…), except /_test/ ones.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Stats returns every token-endpoint request count by grant type, and the
// total number of requests under "requests".
func (s *Server) Stats() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{"authorization_code": 0, "refresh_token": 0, "requests": s.total}
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Intercept installs f in front of the provider: when f returns true it has
// answered the request itself. Tests use it to inject faults (HTTP 500,
// garbage, delays). Pass nil to remove it.
func (s *Server) Intercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

func (s *Server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_test/") {
			s.mu.Lock()
			s.total++
			s.mu.Unlock()
		}
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, "cannot read body", http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if form, err := url.ParseQuery(string(body)); err == nil {
				s.mu.Lock()
				s.counts[form.Get("grant_type")]++
				s.mu.Unlock()
			}
		}
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Login acts as the user's browser: it follows authorizeURL, signs in
// through the login form as [Username], and returns the URL the provider
// finally redirects to (the client's redirect URI with code and state, or
// with an error) without fetching it.
func (s *Server) Login(authorizeURL string) (*url.URL, error) {
	return LoginWith(context.Background(), s.Issuer, authorizeURL)
}

// LoginWith is [Server.Login] for a provider known only by its issuer, as
// in a helper process that drives a provider started elsewhere.
func LoginWith(ctx context.Context, issuer, authorizeURL string) (*url.URL, error) {
	iss, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("testidp: bad issuer: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	next, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, fmt.Errorf("testidp: bad authorize URL: %w", err)
	}
	method, form := http.MethodGet, url.Values(nil)
	for range 10 {
		if next.Host != iss.Host {
			return next, nil
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, next.String(), body)
		if err != nil {
			return nil, fmt.Errorf("testidp: %w", err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("testidp: %w", err)
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("testidp: redirect without Location from %s", next.Path)
			}
			next, method, form = loc, http.MethodGet, nil
		case resp.StatusCode == http.StatusOK && next.Path == "/login/username":
			if method == http.MethodPost {
				return nil, fmt.Errorf("testidp: login form rejected the credentials")
			}
			form = url.Values{
				"id":       {next.Query().Get("authRequestID")},
				"username": {Username},
				"password": {Password},
			}
			method = http.MethodPost
		default:
			return nil, fmt.Errorf("testidp: %s %s answered HTTP %d: %s", method, next.Path, resp.StatusCode, firstLine(page))
		}
	}
	return nil, errors.New("testidp: too many redirects")
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// shortLived shortens access-token lifetimes as the token endpoint reports
// them (expires_in). The provider's own records keep 5 minutes, which only
// matters to userinfo and introspection, which tests do not rely on.
type shortLived struct {
	*storage.Storage
	ttl time.Duration
}

func (s *shortLived) clamp(exp time.Time) time.Time {
	if limit := time.Now().Add(s.ttl); exp.After(limit) {
		return limit
	}
	return exp
}

func (s *shortLived) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, r)
	return id, s.clamp(exp), err
}

func (s *shortLived) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	id, rt, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, r, current)
	return id, rt, s.clamp(exp), err
}
