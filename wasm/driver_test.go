//go:build js && wasm

package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// rejection waits for p to settle and returns the value it rejected with
// (the Error and its code), failing the test if it resolved.
func rejection(t *testing.T, p js.Value) js.Value {
	t.Helper()
	ch := make(chan js.Value, 1)
	onOK := js.FuncOf(func(js.Value, []js.Value) any { ch <- js.Null(); return nil })
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- arg0(args); return nil })
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	select {
	case v := <-ch:
		if v.IsNull() {
			t.Fatal("the promise resolved; want a rejection")
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("the promise did not settle within 5s")
		return js.Undefined()
	}
}

// The browser's fetch is asked not to follow redirects, and the response
// it gives for one it stopped at (type "opaqueredirect", status 0) reaches
// the core as a 3xx, as the native client's unfollowed redirect does.
func TestBrowserFetch_NeverFollowsARedirect(t *testing.T) {
	is := is.New(t)
	calls := jsGlobal.Get("Array").New()
	fake := jsGlobal.Get("Function").New("calls", `return function (url, init) {
		calls.push({ url: String(url), redirect: init.redirect, method: init.method });
		// What fetch resolves to when it stops at a redirect.
		return Promise.resolve({ type: 'opaqueredirect', status: 0, headers: new Headers(),
			arrayBuffer: () => Promise.reject(new TypeError('an opaque response has no body')) });
	};`).Invoke(calls)
	orig := jsGlobal.Get("fetch")
	jsGlobal.Set("fetch", fake)
	defer jsGlobal.Set("fetch", orig)

	f := browserFetch(core.Request{Method: "POST", URL: "http://127.0.0.1:9/token",
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Form: url.Values{"code": {"c"}}})
	is.NoErr(f.Err)
	is.Equal(calls.Length(), 1)
	is.Equal(calls.Index(0).Get("redirect").String(), "manual") // never "follow"
	is.Equal(f.Response.Status, opaqueRedirectStatus)
	is.True(f.Response.Status >= 300 && f.Response.Status < 400)
	is.Equal(len(f.Response.Body), 0)
}

// M2: a token endpoint that answers the code exchange with a 307 gets one
// request, nothing is sent to the redirect target, nothing is stored, and
// the page's promise rejects with unexpected_redirect.
func TestHandleRedirect_TokenEndpointRedirectIsUnexpectedRedirect(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	elsewhere := "http://127.0.0.1:9/collect"
	td.srv.mu.Lock()
	td.srv.redirectToken = elsewhere
	td.srv.mu.Unlock()

	cb := callbackURL(url.Values{"code": {td.srv.code}, "state": {state}})
	e := rejection(t, td.api().Call("handleRedirect", cb))
	is.Equal(e.Get("code").String(), "unexpected_redirect")
	msg := e.Get("message").String()
	is.True(strings.Contains(msg, td.srv.issuer+"/token answered with a redirect")) // says what happened
	is.True(!strings.Contains(msg, td.srv.code))                                    // and nothing secret

	log := td.srv.requestLog()
	is.Equal(slices.Index(log, "POST "+td.srv.issuer+"/token") >= 0, true)
	for _, r := range log {
		is.True(!strings.Contains(r, elsewhere)) // the redirect target never hears of it
	}
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil)
}

// The same for a refresh: the refresh token is not re-sent anywhere, and it
// stays stored (a redirect is not the server rejecting it), as natively.
func TestToken_TokenEndpointRedirectIsUnexpectedRedirect(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	td.expire(t)
	td.srv.mu.Lock()
	td.srv.redirectToken = "http://127.0.0.1:9/collect"
	td.srv.mu.Unlock()

	_, err := td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "unexpected_redirect")
	is.True(!strings.Contains(err.Error(), "rt-1"))
	l := td.tokens.load([]string{td.key()})
	is.Equal(l.Entry.RefreshToken, "rt-1")
}

// Discovery treats a redirecting candidate as "no metadata here" and tries
// the next, as the native driver does (a redirect is not a network error,
// which would end discovery at once).
func TestLogin_DiscoveryCandidateThatRedirectsIsSkipped(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	iss := td.srv.issuer
	td.fetch = func(r core.Request) core.Fetched {
		switch r.URL {
		case iss + "/.well-known/openid-configuration":
			return core.Fetched{Response: core.Response{Status: opaqueRedirectStatus}, Now: time.Now()}
		case iss + "/.well-known/oauth-authorization-server":
			return td.srv.json(200, map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token"})
		}
		return td.srv.fetch(r)
	}
	_, err := td.driver.login(loginOptions{targetOptions: td.target(), redirectURI: pageURL(), returnTo: pageURL()})
	is.NoErr(err)
	u, err := url.Parse(td.lastNavigation())
	is.NoErr(err)
	is.Equal(u.Scheme+"://"+u.Host+u.Path, iss+"/authorize")
}

// Without scopes, a login asks for the host's default ones (core.DefaultScopes):
// all-apis offline_access on Databricks, openid offline_access elsewhere.
func TestLogin_WithoutScopesAsksForTheHostsDefaultScopes(t *testing.T) {
	const dbx = "https://adb-1.2.azuredatabricks.net"
	metadata := func(td *testDriver, r core.Request) core.Fetched {
		if r.Method == "GET" && r.URL == dbx+"/oidc/.well-known/oauth-authorization-server" {
			return td.srv.json(200, map[string]any{"issuer": dbx + "/oidc",
				"authorization_endpoint": dbx + "/oidc/v1/authorize", "token_endpoint": dbx + "/oidc/v1/token"})
		}
		return td.srv.fetch(r)
	}
	for name, c := range map[string]struct {
		host   func(*testDriver) string
		scopes any
		want   string
	}{
		"Databricks":         {func(*testDriver) string { return dbx }, nil, "all-apis offline_access"},
		"DatabricksEmpty":    {func(*testDriver) string { return dbx }, "", "all-apis offline_access"},
		"OpenIDProvider":     {func(td *testDriver) string { return td.srv.issuer }, nil, "openid offline_access"},
		"GivenScopesAsGiven": {func(*testDriver) string { return dbx }, []any{"sql", "offline_access"}, "sql offline_access"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			td := newTestDriver(t)
			td.fetch = func(r core.Request) core.Fetched { return metadata(td, r) }
			opts := map[string]any{"host": c.host(td), "clientId": "databricks-cli"}
			if c.scopes != nil {
				opts["scopes"] = c.scopes
			}
			_, err := await(td.api().Call("login", opts)) // through the page's API: parsing included
			is.NoErr(err)
			u, err := url.Parse(td.lastNavigation())
			is.NoErr(err)
			is.Equal(u.Query().Get("scope"), c.want)
		})
	}
}

// waitForPendingLock waits until someone is queued for the Web Lock name.
func waitForPendingLock(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		q, err := await(jsGlobal.Get("navigator").Get("locks").Call("query"))
		if err != nil {
			t.Fatal(err)
		}
		var snap struct{ Pending []struct{ Name string } }
		if err := json.Unmarshal([]byte(jsGlobal.Get("JSON").Call("stringify", q).String()), &snap); err != nil {
			t.Fatal(err)
		}
		for _, p := range snap.Pending {
			if p.Name == name {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nobody waited for the lock %q within 3s", name)
}

// L2: Locked carries the driver's time at the grant. Another tab holds
// the lock and saves a token valid for an hour; the lock comes two hours
// later (the driver's clock jumps): that token has expired by then, so the
// caller refreshes instead of getting it.
func TestToken_JudgesTheReloadedTokenWhenTheLockIsGranted(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	td.expire(t)
	var offset atomic.Int64
	td.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	release, err := acquireLock(lockPrefix+td.key(), 5*time.Second) // the other tab
	is.NoErr(err)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := td.token(tokenOptions{targetOptions: td.target()})
		done <- result{v, err}
	}()
	waitForPendingLock(t, lockPrefix+td.key())
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	e := *l.Entry
	e.AccessToken, e.ObtainedAt, e.Expiry = "at-other-tab", time.Now(), time.Now().Add(time.Hour)
	is.NoErr(td.tokens.save(td.key(), e))
	offset.Store(int64(2 * time.Hour))
	release()

	r := <-done
	is.NoErr(r.err)
	is.Equal(r.v.(map[string]any)["access_token"], "at-2") // refreshed, not the other tab's expired one
	_, refreshes := td.srv.counts()
	is.Equal(refreshes, 1)
}

func TestWebCrypto_FillsEveryByteAcrossTheGetRandomValuesLimit(t *testing.T) {
	is := is.New(t)
	const size = 2*maxRandomValues + 100 // three calls, the last one short
	a, b := make([]byte, size), make([]byte, size)
	n, err := webCrypto{}.Read(a)
	is.NoErr(err)
	is.Equal(n, size)
	_, err = webCrypto{}.Read(b)
	is.NoErr(err)
	is.True(!bytes.Equal(a, b)) // two reads differ
	// No 1 KiB stretch is left zero: every chunk was written, the short tail too.
	zero := make([]byte, 1024)
	for off := 0; off+len(zero) <= size; off += len(zero) / 2 {
		is.True(!bytes.Equal(a[off:off+len(zero)], zero))
	}
	is.True(!bytes.Equal(a[size-100:], make([]byte, 100)))
}

// A Databricks account-level login: accountId makes discovery ask the
// account's issuer, HOST/oidc/accounts/ID, and the login is stored under it,
// so token() with the same accountId finds it and one without does not.
func TestLogin_AccountIDLogsInToTheDatabricksAccount(t *testing.T) {
	is := is.New(t)
	const host = "https://accounts.cloud.databricks.com"
	const account = "0d3c7e2a-1111-4222-8333-444455556666"
	iss := host + "/oidc/accounts/" + account
	td := newTestDriver(t)
	var asked []string
	td.fetch = func(r core.Request) core.Fetched {
		asked = append(asked, r.Method+" "+r.URL)
		switch {
		case r.Method == "GET" && r.URL == iss+"/.well-known/oauth-authorization-server":
			return td.srv.json(200, map[string]any{"issuer": iss, "authorization_endpoint": iss + "/v1/authorize", "token_endpoint": iss + "/v1/token"})
		case r.Method == "POST" && r.URL == iss+"/v1/token":
			return td.srv.json(200, map[string]any{"access_token": "account-token", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r"})
		}
		return core.Fetched{Response: core.Response{Status: 404}, Now: time.Now()}
	}
	api := td.api()
	opts := map[string]any{"host": host, "clientId": "databricks-cli", "accountId": account}
	_, err := await(api.Call("login", opts))
	is.NoErr(err)
	u, err := url.Parse(td.lastNavigation())
	is.NoErr(err)
	is.Equal(u.Scheme+"://"+u.Host+u.Path, iss+"/v1/authorize")
	is.Equal(u.Query().Get("scope"), "all-apis offline_access")
	is.True(slices.Contains(asked, "GET "+iss+"/.well-known/oauth-authorization-server"))

	_, err = td.handleRedirect(callbackURL(url.Values{"code": {"c"}, "state": {u.Query().Get("state")}}))
	is.NoErr(err)
	tok, err := await(api.Call("token", opts))
	is.NoErr(err)
	is.Equal(tok.Get("access_token").String(), "account-token")
	je := rejection(t, api.Call("token", map[string]any{"host": host, "clientId": "databricks-cli"}))
	is.Equal(je.Get("code").String(), "not_logged_in") // the accounts host without the account is another login
}

// warnOnce is a machine that says msg and ends.
type warnOnce struct{ msg string }

func (w warnOnce) Step(core.Event) []core.Effect {
	return []core.Effect{core.Warn{Message: w.msg}, core.Done{}}
}

// S37: a core.Warn may carry server text (an endpoint, a refusal): the
// console gets it through core.Sanitize, as the CLI's stderr does.
func TestDriver_WarnReachesTheConsoleSanitised(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	warned := catchWarnings(t)
	td.driver.run(warnOnce{msg: "could not reach http://127.0.0.1:1/re\u202evoke\x1b[31m\u2028x"}, core.Start{Now: time.Now()})
	got := *warned
	is.Equal(len(got), 1)
	is.Equal(got[0], `dualauth: could not reach http://127.0.0.1:1/re\u202evoke\x1b[31m\u2028x`)
}
