//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
)

// These tests run in headless Chromium (scripts/wasm-chromium-exec.sh):
// IndexedDB, localStorage, navigator.locks and fetch are the browser's own.
// Only the authorization server is a fake, answering the core's requests as
// data, so that a test can count and inspect them.

var testSeq atomic.Int64

// fakeServer is an authorization server as a function: discovery, the code
// exchange (one code, usable once) and rotating refresh tokens (a reused
// one is invalid_grant, as a strict server answers).
type fakeServer struct {
	issuer string
	delay  time.Duration

	mu        sync.Mutex
	code      string
	refresh   string
	issued    int
	exchanges int
	refreshes int
	revokes   int
	onToken   func() // called at each token request, before it is answered
	// redirectToken, when set, is where the token endpoint redirects
	// every request to (307, which keeps method and body).
	redirectToken string
	requests      []string // "METHOD URL" of every request, in order
	// registration enables an RFC 7591 endpoint at /reg; forms are the
	// token requests' forms, in order.
	registration bool
	registered   []string // JSON bodies of the registrations
	forms        []url.Values
	// resourceOf, when set, makes ISSUER/api a protected resource (RFC
	// 9728) of this server, which then publishes its OpenID document at
	// the RFC 8414 address too, as oidc-provider does.
	resourceOf bool
}

func newFakeServer() *fakeServer {
	// A loopback issuer nobody listens on: the fake answers for it.
	return &fakeServer{issuer: fmt.Sprintf("http://127.0.0.1:%d", 20000+testSeq.Add(1)), code: "the-code"}
}

func (f *fakeServer) json(status int, v any) core.Fetched {
	b, _ := json.Marshal(v)
	return core.Fetched{Response: core.Response{Status: status, ContentType: "application/json", Body: b}, Now: time.Now()}
}

func (f *fakeServer) tokens() map[string]any {
	f.issued++
	f.refresh = fmt.Sprintf("rt-%d", f.issued)
	return map[string]any{"access_token": fmt.Sprintf("at-%d", f.issued), "token_type": "Bearer",
		"refresh_token": f.refresh, "expires_in": 3600}
}

func (f *fakeServer) fetch(r core.Request) core.Fetched {
	if f.delay > 0 {
		time.Sleep(f.delay) // lets concurrent callers pile up on the lock
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL)
	switch {
	case r.Method == "POST" && r.URL == f.issuer+"/token" && f.redirectToken != "":
		// What the native client returns for a redirect it does not
		// follow; Location is not part of a core.Response.
		return core.Fetched{Response: core.Response{Status: 307, ContentType: "text/html", Body: []byte("<a href=\"" + f.redirectToken + "\">moved</a>")}, Now: time.Now()}
	case r.Method == "GET" && r.URL == f.issuer+"/.well-known/oauth-protected-resource/api" && f.resourceOf:
		return f.json(200, map[string]any{"resource": f.issuer + "/api", "authorization_servers": []string{f.issuer}, "scopes_supported": []string{"api:read"}})
	case r.Method == "GET" && r.URL == f.issuer+"/.well-known/openid-configuration",
		r.Method == "GET" && r.URL == f.issuer+"/.well-known/oauth-authorization-server" && f.resourceOf:
		m := map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize",
			"token_endpoint": f.issuer + "/token", "revocation_endpoint": f.issuer + "/revoke",
		}
		if f.registration {
			m["registration_endpoint"] = f.issuer + "/reg"
		}
		if f.resourceOf {
			m["code_challenge_methods_supported"] = []string{"S256"}
			m["scopes_supported"] = []string{"openid", "offline_access"}
			m["id_token_signing_alg_values_supported"] = []string{"RS256"}
		}
		return f.json(200, m)
	case r.Method == "POST" && r.URL == f.issuer+"/reg" && f.registration:
		f.registered = append(f.registered, string(r.JSON))
		return f.json(201, map[string]any{"client_id": fmt.Sprintf("web-%d", len(f.registered)), "token_endpoint_auth_method": "none"})
	case r.Method == "POST" && r.URL == f.issuer+"/token":
		f.forms = append(f.forms, r.Form)
		if f.onToken != nil {
			f.onToken()
		}
		switch r.Form.Get("grant_type") {
		case "authorization_code":
			f.exchanges++
			if r.Form.Get("code") != f.code || f.code == "" {
				return f.json(400, map[string]string{"error": "invalid_grant"})
			}
			f.code = "" // single use
			return f.json(200, f.tokens())
		case "refresh_token":
			f.refreshes++
			if r.Form.Get("refresh_token") != f.refresh {
				f.refresh = "" // reuse revokes the grant
				return f.json(400, map[string]string{"error": "invalid_grant"})
			}
			return f.json(200, f.tokens())
		}
	case r.Method == "POST" && r.URL == f.issuer+"/revoke":
		f.revokes++
		return core.Fetched{Response: core.Response{Status: 200}, Now: time.Now()}
	}
	return f.json(404, map[string]string{"error": "not_found"})
}

func (f *fakeServer) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeServer) counts() (exchanges, refreshes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges, f.refreshes
}

// testDriver is a driver on the real browser storage and locks, with its
// own IndexedDB database, a fake server and a recorded navigation.
type testDriver struct {
	*driver
	srv *fakeServer

	mu        sync.Mutex
	navigated []string
}

func newTestDriver(t *testing.T) *testDriver {
	t.Helper()
	clearLocalStorage()
	srv := newFakeServer()
	td := &testDriver{srv: srv}
	name := fmt.Sprintf("dualauth-test-%d", testSeq.Add(1))
	td.driver = &driver{
		fetch:   srv.fetch,
		tokens:  &idbStore{name: name},
		changes: &listeners{},
		navigate: func(u string) {
			td.mu.Lock()
			td.navigated = append(td.navigated, u)
			td.mu.Unlock()
		},
	}
	t.Cleanup(func() {
		td.tokens.mu.Lock()
		if td.tokens.db.Truthy() {
			td.tokens.db.Call("close")
		}
		td.tokens.mu.Unlock()
		jsGlobal.Get("indexedDB").Call("deleteDatabase", name)
		clearLocalStorage()
	})
	return td
}

func (td *testDriver) lastNavigation() string {
	td.mu.Lock()
	defer td.mu.Unlock()
	if len(td.navigated) == 0 {
		return ""
	}
	return td.navigated[len(td.navigated)-1]
}

func (td *testDriver) target() targetOptions {
	return targetOptions{host: td.srv.issuer, clientID: "console"}
}

func (td *testDriver) key() string { return core.Key(td.srv.issuer, "console") }

// login runs a login up to the redirect and returns the state the
// authorization request carries.
func (td *testDriver) startLogin(t *testing.T) string {
	t.Helper()
	_, err := td.driver.login(loginOptions{targetOptions: td.target(), scopes: []string{"offline_access"},
		redirectURI: pageURL(), returnTo: pageURL()})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	u, err := url.Parse(td.lastNavigation())
	if err != nil || u.Query().Get("state") == "" {
		t.Fatalf("login did not navigate to an authorization request")
	}
	return u.Query().Get("state")
}

// signIn logs in all the way: login, then the callback with the code.
func (td *testDriver) signIn(t *testing.T) {
	t.Helper()
	state := td.startLogin(t)
	if _, err := td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {state}})); err != nil {
		t.Fatalf("callback: %v", err)
	}
}

// pageURL is the test page's URL without query: the redirect URI.
func pageURL() string {
	loc := jsGlobal.Get("location")
	return loc.Get("origin").String() + loc.Get("pathname").String()
}

func callbackURL(q url.Values) string { return pageURL() + "?" + q.Encode() }

func clearLocalStorage() {
	var ls localStore
	for _, p := range []string{sessionPrefix, pendingPrefix} {
		for _, k := range ls.keys(p) {
			ls.remove(k)
		}
	}
}

// changeRecorder is an onChange callback that records what it is told.
type changeRecorder struct {
	fn js.Func
	ch chan map[string]any
}

func recordChanges(t *testing.T, l *listeners) *changeRecorder {
	r := &changeRecorder{ch: make(chan map[string]any, 16)}
	r.fn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := arg0(args)
		c := map[string]any{"key": v.Get("key").String(), "signedIn": v.Get("signedIn").Bool()}
		for _, k := range []string{"issuer", "host", "clientId", "scopes"} {
			if s := v.Get(k); s.Type() == js.TypeString {
				c[k] = s.String()
			}
		}
		r.ch <- c
		return nil
	})
	remove := l.add(r.fn.Value)
	t.Cleanup(func() { remove(); r.fn.Release() })
	return r
}

func (r *changeRecorder) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(3 * time.Second):
		t.Fatalf("no change event within 3s")
		return nil
	}
}

func localStorageDump() string {
	var ls localStore
	var b strings.Builder
	for _, k := range ls.keys("") {
		v, _ := ls.get(k)
		b.WriteString(k + "=" + v + "\n")
	}
	return b.String()
}

// catchWarnings records what the driver says with console.warn until the
// test ends (then console.warn is put back).
func catchWarnings(t *testing.T) *[]string {
	t.Helper()
	var got []string
	console := jsGlobal.Get("console")
	orig := console.Get("warn")
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any { got = append(got, arg0(args).String()); return nil })
	console.Set("warn", catch)
	t.Cleanup(func() { console.Set("warn", orig); catch.Release() })
	return &got
}
