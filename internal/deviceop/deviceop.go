// Package deviceop runs a real authorization server with the device
// authorization grant (RFC 8628) for tests: oidc-provider 9 (Node), through
// native/testdata/device-op.mjs, on 127.0.0.1 only. It starts the server as
// a child process and stops it by PID; the child also exits when its stdin
// pipe closes, so it never outlives a test binary that dies.
//
// A scripted user agent approves or denies a pending device login through
// the provider's own pages (confirm form, dev login form, consent), as a
// person would on another device.
//
// It is test support; it needs node and the repository's node_modules
// (`npm ci`, or scripts/ensure-tools.sh).
package deviceop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a server. Zero durations keep the script's defaults.
type Options struct {
	// ClientID of the one public client (grant types device_code and
	// refresh_token, no secret); empty means "dualauth-device".
	ClientID string
	// DeviceTTL is the device code lifetime (default 10 minutes).
	DeviceTTL time.Duration
	// AccessTTL is the access token lifetime (default 1 hour).
	AccessTTL time.Duration
	// Interval, when set, is added to device authorization responses as
	// `interval` (whole seconds). oidc-provider sends none by itself.
	Interval time.Duration
	// M2M, when set, enables the grants without a person (see
	// device-op.mjs): client credentials for Clients, and a token exchange
	// that accepts subject tokens signed by a key of SubjectJWKS.
	M2M *M2M
	// ByURL enables dynamic client registration and resource indicators
	// (see device-op.mjs), for logins by URL alone.
	ByURL bool
	// DPoP enables DPoP (RFC 9449) with server nonces required, and
	// registers the device client with dpop_bound_access_tokens.
	DPoP bool
}

// M2M configures the grants without a person.
type M2M struct {
	// Clients are oidc-provider client metadata, e.g. {"client_id": "svc",
	// "client_secret": "…", "token_endpoint_auth_method":
	// "client_secret_post", "grant_types": ["client_credentials"],
	// "redirect_uris": [], "response_types": []}.
	Clients []map[string]any `json:"clients"`
	// PostOnly are clients refused with client_secret_basic, as servers
	// that register one method refuse the other (oidc-provider itself
	// takes either).
	PostOnly []string `json:"postOnly,omitempty"`
	Subject  struct {
		JWKS     map[string]any `json:"jwks"`
		Issuer   string         `json:"issuer"`
		Audience string         `json:"audience"`
	} `json:"subject"`
}

// Request is one request the server saw at the device authorization or
// token endpoint: parameter names only, never values.
type Request struct {
	Path          string   `json:"path"`
	Status        int      `json:"status"`
	GrantType     string   `json:"grant_type"`
	Params        []string `json:"params"`
	Authorization bool     `json:"authorization"`
	Error         string   `json:"error"`
}

// Server is a running oidc-provider.
type Server struct {
	Issuer   string
	ClientID string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	mu     sync.Mutex
	reqs   []Request
	marks  map[string]chan struct{}
	nmark  int
	stderr strings.Builder
	once   sync.Once
}

// RepoRoot is the repository's root directory (where node_modules is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts the server and waits until it serves.
func Start(opts Options) (*Server, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("deviceop: node is not installed (Node 20+ is needed for the device-flow tests)")
	}
	root := RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "node_modules", "oidc-provider", "package.json")); err != nil {
		return nil, errors.New("deviceop: node_modules/oidc-provider is missing: run `npm ci` in the repository root (or `make tools`)")
	}
	if opts.ClientID == "" {
		opts.ClientID = "dualauth-device"
	}
	args := []string{filepath.Join(root, "native", "testdata", "device-op.mjs"), "--client-id", opts.ClientID}
	for _, o := range []struct {
		flag string
		d    time.Duration
	}{{"--device-ttl", opts.DeviceTTL}, {"--access-ttl", opts.AccessTTL}, {"--interval", opts.Interval}} {
		if o.d > 0 {
			args = append(args, o.flag, strconv.FormatFloat(o.d.Seconds(), 'f', -1, 64))
		}
	}
	s := &Server{ClientID: opts.ClientID, exited: make(chan struct{}), marks: map[string]chan struct{}{}}
	s.cmd = exec.Command(node, args...)
	s.cmd.Dir = root
	s.cmd.Env = append(os.Environ(), "NODE_ENV=test")
	if opts.M2M != nil {
		b, err := json.Marshal(opts.M2M)
		if err != nil {
			return nil, err
		}
		s.cmd.Env = append(s.cmd.Env, "DEVICEOP_M2M="+string(b))
	}
	if opts.ByURL {
		s.cmd.Env = append(s.cmd.Env, "DEVICEOP_URL=1")
	}
	if opts.DPoP {
		s.cmd.Env = append(s.cmd.Env, "DEVICEOP_DPOP=1")
	}
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("deviceop: starting node: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	issuer := make(chan string, 1)
	go s.read(out, issuer)
	select {
	case iss := <-issuer:
		s.Issuer = iss
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("deviceop: the server exited before serving: %s", s.Stderr())
	case <-time.After(15 * time.Second):
		s.Close()
		return nil, fmt.Errorf("deviceop: the server did not start in 15 s: %s", s.Stderr())
	}
}

func (s *Server) read(r io.Reader, issuer chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var line struct {
			Issuer string `json:"issuer"`
			Event  string `json:"event"`
			ID     string `json:"id"`
			Request
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch {
		case line.Issuer != "":
			issuer <- line.Issuer
		case line.Event == "request":
			s.mu.Lock()
			s.reqs = append(s.reqs, line.Request)
			s.mu.Unlock()
		case line.Event == "mark":
			s.mu.Lock()
			if c, ok := s.marks[line.ID]; ok {
				close(c)
				delete(s.marks, line.ID)
			}
			s.mu.Unlock()
		}
	}
}

// Requests returns the device-authorization and token requests answered
// so far. The server logs them on its stdout, which is read concurrently:
// a mark request first makes sure every earlier line has been read.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	s.nmark++
	id := strconv.Itoa(s.nmark)
	seen := make(chan struct{})
	s.marks[id] = seen
	s.mu.Unlock()
	if resp, err := http.Get(s.Issuer + "/_test/mark?id=" + id); err == nil {
		resp.Body.Close()
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.marks, id)
	return append([]Request(nil), s.reqs...)
}

// ForgetClient deletes a dynamically registered client (ByURL): the
// server refuses it from then on, as one that lost its registrations would.
func (s *Server) ForgetClient(id string) error {
	resp, err := http.Post(s.Issuer+"/_test/forget-client?id="+url.QueryEscape(id), "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("deviceop: forgetting client %s answered HTTP %d", id, resp.StatusCode)
	}
	return nil
}

// Count counts the token requests of a grant type (the full URN for the
// device code).
func (s *Server) Count(grantType string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "/token" && r.GrantType == grantType {
			n++
		}
	}
	return n
}

// Stderr is what the server wrote on stderr (its warnings, errors).
func (s *Server) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// Close stops the server by its PID: SIGTERM, then SIGKILL after 3 s.
func (s *Server) Close() {
	s.once.Do(func() {
		s.stdin.Close()
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(3 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Outcome of a scripted visit to the verification URI.
type Outcome string

const (
	Approved Outcome = "approved"
	Denied   Outcome = "denied"
)

// Approve signs in at verificationURIComplete and consents, as the user
// would on their phone: confirm form → dev login form → consent → "Sign-in
// Success".
func (s *Server) Approve(ctx context.Context, verificationURIComplete string) error {
	got, err := s.visit(ctx, verificationURIComplete, false)
	if err == nil && got != Approved {
		err = fmt.Errorf("deviceop: approving ended with %s", got)
	}
	return err
}

// Deny answers the confirm form with abort=yes: the login is denied
// (access_denied on the next poll).
func (s *Server) Deny(ctx context.Context, verificationURIComplete string) error {
	got, err := s.visit(ctx, verificationURIComplete, true)
	if err == nil && got != Denied {
		err = fmt.Errorf("deviceop: denying ended with %s", got)
	}
	return err
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?is)([a-z_-]+)\s*=\s*"([^"]*)"`)
	titleRE = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return m
}

// visit walks the provider's pages: each page either ends the walk or has
// one form, which is filled (credentials on the login form, abort=yes on
// the confirm form when denying) and posted.
func (s *Server) visit(ctx context.Context, start string, deny bool) (Outcome, error) {
	iss, err := url.Parse(s.Issuer)
	if err != nil {
		return "", err
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if r.URL.Host != iss.Host {
			return fmt.Errorf("deviceop: redirected off the server to %s", r.URL.Host)
		}
		if len(via) > 10 {
			return errors.New("deviceop: too many redirects")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return "", err
	}
	aborted := false
	for range 12 {
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		page := string(b)
		title := ""
		if m := titleRE.FindStringSubmatch(page); m != nil {
			title = strings.TrimSpace(m[1])
		}
		switch {
		case resp.StatusCode != http.StatusOK:
			return "", fmt.Errorf("deviceop: %s %s answered HTTP %d (%s)", req.Method, req.URL.Path, resp.StatusCode, title)
		case title == "Sign-in Success":
			return Approved, nil
		case aborted && strings.Contains(page, "interrupted"):
			return Denied, nil
		}
		f := formRE.FindStringSubmatch(page)
		if f == nil {
			return "", fmt.Errorf("deviceop: page %q at %s has no form", title, req.URL.Path)
		}
		fa := attrs(f[1])
		action, err := req.URL.Parse(fa["action"])
		if err != nil {
			return "", err
		}
		form := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(f[2], -1) {
			a := attrs(in[1])
			if a["name"] != "" {
				form.Set(a["name"], a["value"])
			}
		}
		if _, ok := form["login"]; ok {
			form.Set("login", "device-user")
			form.Set("password", "any")
		}
		if deny && title == "Device Login Confirmation" {
			form.Set("abort", "yes")
			aborted = true
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return "", errors.New("deviceop: too many pages")
}
