package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// fakeServer is an authorization server as a pure function of the request:
// discovery, authorize (as the user's browser would see it), token endpoint
// with PKCE and rotating refresh tokens. No sockets.
type fakeServer struct {
	issuer   string
	openID   bool // serve openid-configuration instead of the Databricks path
	meta     map[string]any
	codes    map[string]fakeGrant // code → grant
	refresh  map[string]bool      // live refresh tokens
	n        int
	sendIss  bool
	tokenTTL int
	requests []Request // every request seen
	grants   fakeGrants
	// idIss, when set, is the iss of the ID tokens issued (another
	// server's, in a mix-up); "-" issues none.
	idIss string
}

type fakeGrant struct {
	challenge, redirect, nonce, clientID string
}

func newFakeServer(issuer string) *fakeServer {
	return &fakeServer{
		issuer:   issuer,
		codes:    map[string]fakeGrant{},
		refresh:  map[string]bool{},
		tokenTTL: 3600,
		meta: map[string]any{
			"issuer":                           issuer,
			"authorization_endpoint":           issuer + "/v1/authorize",
			"token_endpoint":                   issuer + "/v1/token",
			"revocation_endpoint":              issuer + "/v1/revoke",
			"code_challenge_methods_supported": []string{"S256"},
		},
	}
}

func jsonResponse(status int, v any) Response {
	b, _ := json.Marshal(v)
	return Response{Status: status, ContentType: "application/json", Body: b}
}

func (s *fakeServer) serve(r Request) Response {
	s.requests = append(s.requests, r)
	switch {
	case r.Method == "GET" && r.URL == s.issuer+"/.well-known/oauth-authorization-server" && !s.openID,
		r.Method == "GET" && r.URL == s.issuer+"/.well-known/openid-configuration" && s.openID:
		return jsonResponse(200, s.meta)
	case r.Method == "POST" && r.URL == s.meta["token_endpoint"] && isGrant(r.Form.Get("grant_type")):
		return s.grantToken(r)
	case r.Method == "POST" && r.URL == s.meta["token_endpoint"]:
		return s.token(r.Form)
	case r.Method == "POST" && r.URL == s.meta["revocation_endpoint"]:
		delete(s.refresh, r.Form.Get("token"))
		return Response{Status: 200}
	}
	return Response{Status: 404, ContentType: "text/html", Body: []byte("<h1>not found</h1>")}
}

// authorize plays the user signing in: it returns the callback query the
// browser would bring back to the redirect URI.
func (s *fakeServer) authorize(authURL string) url.Values {
	u, _ := url.Parse(authURL)
	q := u.Query()
	s.n++
	code := fmt.Sprintf("code-%d", s.n)
	s.codes[code] = fakeGrant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"), clientID: q.Get("client_id")}
	out := url.Values{"code": {code}, "state": {q.Get("state")}}
	if s.sendIss {
		out.Set("iss", s.issuer)
	}
	return out
}

func (s *fakeServer) token(f url.Values) Response {
	bad := func(code string) Response { return jsonResponse(400, map[string]string{"error": code}) }
	switch f.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code"))
		if !ok {
			return bad("invalid_grant")
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || f.Get("redirect_uri") != g.redirect {
			return bad("invalid_grant")
		}
		return s.issue(g.nonce, g.clientID)
	case "refresh_token":
		if !s.refresh[f.Get("refresh_token")] {
			return bad("invalid_grant")
		}
		delete(s.refresh, f.Get("refresh_token")) // rotation: single use
		return s.issue("", f.Get("client_id"))
	}
	return bad("unsupported_grant_type")
}

func (s *fakeServer) issue(nonce, clientID string) Response {
	s.n++
	rt := fmt.Sprintf("refresh-%d", s.n)
	s.refresh[rt] = true
	body := map[string]any{
		"access_token":  fmt.Sprintf("access-%d", s.n),
		"token_type":    "Bearer",
		"expires_in":    s.tokenTTL,
		"refresh_token": rt,
	}
	iss := s.issuer
	if s.idIss != "" {
		iss = s.idIss
	}
	if nonce != "" && iss != "-" {
		body["id_token"] = fakeJWT(map[string]any{"iss": iss, "aud": clientID, "nonce": nonce, "sub": "u1"})
	}
	return jsonResponse(200, body)
}

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + "." + enc([]byte("sig"))
}

// world is a driver for tests: a cache map, a lock flag, the fake server,
// a fixed clock and counting entropy. It records a transcript.
type world struct {
	t        *testing.T
	srv      *fakeServer
	cache    map[string]Entry
	locked   bool
	now      time.Time
	pending  *Pending
	authURL  string
	log      []string
	warnings []string
	dropped  []string // the DPoP keys the machines said no login uses
	// hooks to inject faults; nil means "behave"
	onFetch func(Request) (Response, error)
	onLock  func() error
	onSave  func() error
	// onReserve fails the space reservation before a refresh (a full disk).
	onReserve func() error
	// subjectTokens answer ReadSubjectToken by source; onSign replaces
	// the fake signature.
	subjectTokens map[string]string
	onSign        func(Sign) Signed
	rnd           counter // entropy of the token machine, never repeating
	keyN          int     // DPoP keys created
	// resource answers FetchResource (resource_test.go).
	resource func(r Request, body bool) Response
	// unreadable are stored entries that cannot be read: Load answers
	// ErrUnreadableEntry with their key.
	unreadable map[string]bool
	// onListen answers Listen (nil: the listener moves); clients records
	// each ClientChosen as "ID, FROM".
	onListen func(uri string) error
	clients  []string
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newWorld(t *testing.T, srv *fakeServer) *world {
	return &world{t: t, srv: srv, cache: map[string]Entry{}, now: t0}
}

// counter is deterministic entropy: 0, 1, 2, …
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func (w *world) logf(format string, args ...any) { w.log = append(w.log, fmt.Sprintf(format, args...)) }

// perform answers effects the way a native or browser driver would.
func (w *world) perform(e Effect) Event {
	switch e := e.(type) {
	case Fetch:
		auth := ""
		if h := e.Request.Header["Authorization"]; h != "" {
			auth, _, _ = strings.Cut(h, " ")
			auth = " +" + auth // the scheme only
		}
		if e.Request.Header["DPoP"] != "" {
			auth += " +proof"
		}
		w.logf("%s", strings.TrimSpace(fmt.Sprintf("Fetch %s %s %s", e.Request.Method, e.Request.URL, formKeys(e.Request.Form)))+auth)
		var resp Response
		var err error
		if w.onFetch != nil {
			resp, err = w.onFetch(e.Request)
		} else {
			resp = w.srv.serve(e.Request)
		}
		if err != nil {
			w.logf("  → error %v", err)
			return Fetched{Err: err, Now: w.now}
		}
		w.logf("  → HTTP %d", resp.Status)
		return Fetched{Response: resp, Now: w.now}
	case FetchResource:
		return w.fetchResource(e)
	case Load:
		for _, k := range e.Keys {
			if w.unreadable[k] {
				w.logf("Load %q → unreadable", e.Keys)
				return Loaded{Key: k, Err: fmt.Errorf("%w: not JSON", ErrUnreadableEntry)}
			}
			if ent, ok := w.cache[k]; ok {
				w.logf("Load %q → found", e.Keys)
				return Loaded{Key: k, Entry: &ent}
			}
		}
		w.logf("Load %q → none", e.Keys)
		return Loaded{}
	case Lock:
		w.logf("Lock %q", e.Key)
		if w.onLock != nil {
			if err := w.onLock(); err != nil {
				return Locked{Err: err, Now: w.now}
			}
		}
		is.New(w.t).True(!w.locked) // no double lock
		w.locked = true
		return Locked{Now: w.now}
	case Unlock:
		w.logf("Unlock %q", e.Key)
		is.New(w.t).True(w.locked) // unlock only what is locked
		w.locked = false
		return nil
	case Save:
		w.logf("Save %q access=%s refresh=%s", e.Key, e.Entry.AccessToken, e.Entry.RefreshToken)
		is.New(w.t).True(w.locked) // contract: Save only under the lock
		if w.onSave != nil {
			if err := w.onSave(); err != nil {
				return Saved{Err: err}
			}
		}
		w.cache[e.Key] = e.Entry
		return Saved{}
	case Reserve:
		w.logf("Reserve %q", e.Key)
		is.New(w.t).True(w.locked) // contract: Reserve only under the lock
		if w.onReserve != nil {
			if err := w.onReserve(); err != nil {
				return Saved{Err: err}
			}
		}
		return Saved{}
	case Delete:
		w.logf("Delete %q", e.Key)
		is.New(w.t).True(w.locked)
		delete(w.cache, e.Key)
		delete(w.unreadable, e.Key)
		return Saved{}
	case SavePending:
		w.logf("SavePending issuer=%s redirect=%s", e.Pending.Metadata.Issuer, e.Pending.RedirectURI)
		p := e.Pending
		w.pending = &p
		return Saved{}
	case Authorize:
		is.New(w.t).True(w.pending != nil) // contract: SavePending before Authorize
		w.authURL = e.URL
		u, _ := url.Parse(e.URL)
		w.logf("Authorize %s%s", u.Host, u.Path)
		q := w.srv.authorize(e.URL)
		w.logf("Callback %s", strings.Join(sortedKeys(q), ","))
		return Callback{Query: q, Now: w.now}
	case Sign:
		w.logf("Sign %s key=%s", e.Alg, e.Key)
		if w.onSign != nil {
			return w.onSign(e)
		}
		return Signed{Signature: fakeSignature(e.Key, e.Input)}
	case CreateKey:
		w.keyN++
		name := fmt.Sprintf("dpop:%d", w.keyN)
		w.logf("CreateKey %s for %q → %s", e.Alg, e.For, name)
		return KeyCreated{Key: name, JWK: fakeJWK(name)}
	case ReadSubjectToken:
		tok, ok := w.subjectTokens[e.Source]
		if !ok {
			w.logf("ReadSubjectToken %s → error", e.Source)
			return SubjectTokenRead{Err: errors.New("no such source")}
		}
		w.logf("ReadSubjectToken %s → ok", e.Source)
		return SubjectTokenRead{Token: tok}
	case DropKey:
		w.logf("DropKey %s", e.Key)
		w.dropped = append(w.dropped, e.Key)
		return nil
	case Warn:
		w.logf("Warn")
		w.warnings = append(w.warnings, e.Message)
		return nil
	case Listen:
		w.logf("Listen %s", e.RedirectURI)
		var err error
		if w.onListen != nil {
			err = w.onListen(e.RedirectURI)
		}
		return Listening{Err: err}
	case ClientChosen:
		w.logf("ClientChosen %s", e.ClientID)
		w.clients = append(w.clients, e.ClientID+", "+e.From)
		return nil
	case Reject:
		w.t.Fatalf("unexpected Reject: %v", e.Err)
	}
	w.t.Fatalf("unexpected effect %T", e)
	return nil
}

func formKeys(f url.Values) string {
	if f == nil {
		return ""
	}
	return "[" + strings.Join(sortedKeys(f), " ") + "]"
}

func sortedKeys(v url.Values) []string { return slices.Sorted(maps.Keys(v)) }

func (w *world) login(cfg LoginConfig) Done {
	w.logf("# login %s", cfg.Target.Host)
	d := Drive(NewLogin(cfg), Start{Now: w.now, Rand: &counter{}}, w.perform)
	w.logDone(d)
	return d
}

func (w *world) token(cfg RefreshConfig) Done {
	w.logf("# token %s", cfg.Target.Host)
	d := Drive(NewRefresh(cfg), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	w.logDone(d)
	return d
}

func (w *world) logDone(d Done) {
	switch {
	case d.Err != nil:
		w.logf("Done error: %v", d.Err)
	default:
		w.logf("Done token=%s expiry=%s", d.Token.AccessToken, d.Token.Expiry.Format(time.RFC3339))
	}
	is.New(w.t).True(!w.locked) // every flow ends unlocked
}

func (w *world) transcript() string {
	var b bytes.Buffer
	for _, l := range w.log {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

const (
	dbxHost   = "https://adb-123.4.azuredatabricks.net"
	dbxIssuer = dbxHost + "/oidc"
)

func dbxLogin() LoginConfig {
	return LoginConfig{
		Target:      Target{Host: dbxHost},
		Client:      Client{ID: "databricks-cli"},
		Scopes:      []string{"all-apis", "offline_access"},
		RedirectURI: "http://localhost:8020",
	}
}

func dbxToken() RefreshConfig {
	return RefreshConfig{Target: Target{Host: dbxHost}, Client: Client{ID: "databricks-cli"}}
}
