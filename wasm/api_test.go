//go:build js && wasm

package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

func TestLogin_SavesThePendingLoginBeforeItRedirects(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	var pendingAtRedirect bool
	td.navigate = func(u string) {
		q, _ := url.Parse(u)
		_, pendingAtRedirect = localStore{}.get(pendingKey(q.Query().Get("state")))
		td.navigated = append(td.navigated, u)
	}
	td.startLogin(t)
	is.True(pendingAtRedirect)
	u, err := url.Parse(td.lastNavigation())
	is.NoErr(err)
	is.Equal(u.Scheme+"://"+u.Host+u.Path, td.srv.issuer+"/authorize")
	is.Equal(u.Query().Get("code_challenge_method"), "S256")
	is.Equal(u.Query().Get("redirect_uri"), pageURL())
}

func TestHandleRedirect_ExchangesTheCodeStoresTheTokenAndTellsListeners(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	changes := recordChanges(t, td.changes)
	state := td.startLogin(t)

	res, err := td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {state}}))
	is.NoErr(err)
	is.Equal(res.(map[string]any)["status"], "signed-in")
	is.Equal(res.(map[string]any)["returnTo"], pageURL())
	ex, _ := td.srv.counts()
	is.Equal(ex, 1)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry.AccessToken, "at-1")
	is.Equal(l.Entry.RefreshToken, "rt-1")
	c := changes.next(t)
	is.Equal(c["key"], td.key())
	is.Equal(c["signedIn"], true)
}

func TestHandleRedirect_PageWithoutCallbackIsStatusNone(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	res, err := td.handleRedirect(pageURL() + "?host=x&client_id=y")
	is.NoErr(err)
	is.Equal(res.(map[string]any)["status"], "none")
}

// S29: the same callback URL twice: the second finds no pending login and
// never reaches the token endpoint.
func TestHandleRedirect_ReplayedCallbackIsRejectedWithStateMismatch(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	cb := callbackURL(url.Values{"code": {td.srv.code}, "state": {state}})
	_, err := td.handleRedirect(cb)
	is.NoErr(err)

	_, err = td.handleRedirect(cb)
	is.Equal(errorCode(err), "state_mismatch")
	ex, _ := td.srv.counts()
	is.Equal(ex, 1)
}

// S29 across tabs: another tab that read the pending login from
// localStorage before this one removed it (a stale read, which Chromium
// gives) must not exchange the code a second time.
func TestHandleRedirect_SameCallbackInAnotherTabIsStateMismatch(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	var ls localStore
	stale, ok := ls.get(pendingKey(state)) // what the other tab will read
	is.True(ok)
	cb := callbackURL(url.Values{"code": {td.srv.code}, "state": {state}})
	_, err := td.handleRedirect(cb)
	is.NoErr(err)

	is.NoErr(ls.set(pendingKey(state), stale)) // the other tab's stale view
	_, err = td.handleRedirect(cb)
	is.Equal(errorCode(err), "state_mismatch")
	ex, _ := td.srv.counts()
	is.Equal(ex, 1) // one code exchange
	_, ok = ls.get(pendingKey(state))
	is.True(!ok) // and the stale copy is gone too
}

func TestHandleRedirect_UnknownOrMissingStateIsStateMismatch(t *testing.T) {
	td := newTestDriver(t)
	td.startLogin(t)
	for name, q := range map[string]url.Values{
		"UnknownState":      {"code": {"c"}, "state": {"not-the-state"}},
		"MissingState":      {"code": {"c"}},
		"ErrorWithoutState": {"error": {"access_denied"}},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := td.handleRedirect(callbackURL(q))
			is.Equal(errorCode(err), "state_mismatch")
		})
	}
	ex, _ := td.srv.counts()
	if ex != 0 {
		t.Fatalf("the token endpoint was called %d times", ex)
	}
}

func TestHandleRedirect_ErrorCallbackRejectsWithTheServersCodeAndDescription(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	desc := `<img src=x onerror="alert(1)">`
	_, err := td.handleRedirect(callbackURL(url.Values{"error": {"access_denied"}, "error_description": {desc}, "state": {state}}))
	is.Equal(errorCode(err), "access_denied")
	je := toJSError(err)
	is.Equal(je.Get("code").String(), "access_denied")
	is.Equal(je.Get("description").String(), desc) // handed over as data; the page renders it as text
	ex, _ := td.srv.counts()
	is.Equal(ex, 0)
}

// S28: code and state leave the address bar before the exchange starts.
func TestHandleRedirect_RemovesCodeAndStateFromTheAddressBarFirst(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	hist := jsGlobal.Get("history")
	original := jsGlobal.Get("location").Get("href").String()
	defer hist.Call("replaceState", hist.Get("state"), "", original)

	state := td.startLogin(t)
	var hrefAtExchange string
	td.srv.onToken = func() { hrefAtExchange = jsGlobal.Get("location").Get("href").String() }
	cb := pageURL() + "?keep=1&" + url.Values{"code": {td.srv.code}, "state": {state}}.Encode() + "#frag"
	hist.Call("replaceState", hist.Get("state"), "", cb)

	_, err := td.handleRedirect(cb)
	is.NoErr(err)
	is.True(hrefAtExchange != "")
	is.True(!strings.Contains(hrefAtExchange, "code="))  // gone before the token request
	is.True(!strings.Contains(hrefAtExchange, "state=")) // ...and the state too
	is.True(strings.Contains(hrefAtExchange, "keep=1"))  // other parameters stay
	is.True(strings.HasSuffix(hrefAtExchange, "#frag"))
}

func TestScrubbed_RemovesEveryAuthorizationResponseParameter(t *testing.T) {
	is := is.New(t)
	out, ok := scrubbed("http://127.0.0.1:1/p?a=1&code=c&state=s&iss=i&error=e&error_description=d&error_uri=u&session_state=x#h")
	is.True(ok)
	is.Equal(out, "http://127.0.0.1:1/p?a=1#h")
	_, ok = scrubbed("http://127.0.0.1:1/p?a=1")
	is.True(!ok)
}

func TestSameOrigin_RefusesReturnToElsewhere(t *testing.T) {
	is := is.New(t)
	page := "http://127.0.0.1:1/app?x=1"
	got, err := sameOrigin("/other?y=2", page)
	is.NoErr(err)
	is.Equal(got, "http://127.0.0.1:1/other?y=2")
	for _, bad := range []string{"https://evil.example/", "//evil.example/x", "http://127.0.0.1:2/", "javascript:alert(1)"} {
		_, err := sameOrigin(bad, page)
		is.Equal(errorCode(err), "invalid_argument") // not an open redirect
	}
}

func TestToken_WithoutLoginIsNotLoggedIn(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	_, err := td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "not_logged_in")
	je := toJSError(err)
	is.Equal(je.Get("code").String(), "not_logged_in")
	is.Equal(je.Get("message").String(), "not logged in to "+td.srv.issuer) // no CLI advice on a web page
}

func TestToken_ValidTokenNeedsNoRequest(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	v, err := td.token(tokenOptions{targetOptions: td.target()})
	is.NoErr(err)
	is.Equal(v.(map[string]any)["access_token"], "at-1")
	_, refreshes := td.srv.counts()
	is.Equal(refreshes, 0)
}

// expire moves the stored token's expiry into the past.
func (td *testDriver) expire(t *testing.T) {
	t.Helper()
	l := td.tokens.load([]string{td.key()})
	if l.Err != nil || l.Entry == nil {
		t.Fatalf("no stored login to expire")
	}
	e := *l.Entry
	e.ObtainedAt = time.Now().Add(-2 * time.Hour)
	e.Expiry = time.Now().Add(-time.Hour)
	if err := td.tokens.save(td.key(), e); err != nil {
		t.Fatal(err)
	}
}

// S20 (wasm): N concurrent callers on an expired token, one lock
// (navigator.locks) around re-read (IndexedDB) → refresh → save: exactly one
// refresh request, and every caller gets the new token. The fake server
// rejects a reused refresh token, so a second refresh would also fail.
func TestToken_ConcurrentCallsOnAnExpiredTokenRefreshOnce(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	td.srv.delay = 30 * time.Millisecond
	for round := 1; round <= 3; round++ {
		td.expire(t)
		_, before := td.srv.counts()
		const n = 6
		var wg sync.WaitGroup
		got := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				v, err := td.token(tokenOptions{targetOptions: td.target()})
				errs[i] = err
				if err == nil {
					got[i] = v.(map[string]any)["access_token"].(string)
				}
			})
		}
		wg.Wait()
		for i := range n {
			is.NoErr(errs[i])
			is.Equal(got[i], got[0])
		}
		_, after := td.srv.counts()
		is.Equal(after-before, 1)                       // one refresh per round
		is.Equal(got[0], fmt.Sprintf("at-%d", round+1)) // the refreshed token
	}
}

func TestToken_ForceRefreshRefreshesAValidToken(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	v, err := td.token(tokenOptions{targetOptions: td.target(), force: true})
	is.NoErr(err)
	is.Equal(v.(map[string]any)["access_token"], "at-2")
	l := td.tokens.load([]string{td.key()})
	is.Equal(l.Entry.RefreshToken, "rt-2") // rotated token kept
}

// S38 in the browser: an IndexedDB that refuses writes refuses them before
// the refresh token is spent — no refresh request, the stored refresh token
// still the one the server holds — and the next token() after the store
// recovers refreshes with it.
func TestToken_StorageThatRefusesWritesSpendsNoRefreshToken(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	td.expire(t)
	proto := jsGlobal.Get("IDBObjectStore").Get("prototype")
	put := proto.Get("put")
	proto.Set("put", jsGlobal.Get("Function").New(`throw new DOMException("the quota is used up", "QuotaExceededError")`))
	_, err := td.token(tokenOptions{targetOptions: td.target()})
	proto.Set("put", put)
	is.Equal(errorCode(err), "storage_unavailable")
	_, refreshes := td.srv.counts()
	is.Equal(refreshes, 0) // nothing spent
	l := td.tokens.load([]string{td.key()})
	is.Equal(l.Entry.RefreshToken, "rt-1")

	v, err := td.token(tokenOptions{targetOptions: td.target()})
	is.NoErr(err)
	is.Equal(v.(map[string]any)["access_token"], "at-2")
	l = td.tokens.load([]string{td.key()})
	is.Equal(l.Entry.RefreshToken, "rt-2")
}

func TestToken_RejectedRefreshTokenMeansLogInAgain(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	td.expire(t)
	td.srv.mu.Lock()
	td.srv.refresh = "revoked-elsewhere"
	td.srv.mu.Unlock()
	_, err := td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "not_logged_in")
	// The core's message tells a CLI user to run `auth login`; a page gets
	// its own wording.
	is.True(strings.Contains(err.Error(), "auth login"))
	je := toJSError(err)
	is.Equal(je.Get("code").String(), "not_logged_in")
	msg := je.Get("message").String()
	is.True(!strings.Contains(msg, "auth login") && !strings.Contains(msg, "`"))
	is.True(strings.HasSuffix(msg, "log in again"))
	l := td.tokens.load([]string{td.key()})
	is.Equal(l.Entry.RefreshToken, "") // dropped, never sent again
}

func TestLogout_RemovesTheLoginAndTellsListeners(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	changes := recordChanges(t, td.changes)
	_, err := td.logout(td.target())
	is.NoErr(err)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil)
	_, mirrored := localStore{}.get(sessionPrefix + td.key())
	is.True(!mirrored)
	c := changes.next(t)
	is.Equal(c["signedIn"], false)
	_, err = td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "not_logged_in")
	_, err = td.logout(td.target()) // logging out twice is fine
	is.NoErr(err)
}

// S30: a change another document (tab) makes to the mirror reaches this
// tab's listeners as a storage event: a login, then a logout.
func TestOnChange_StorageEventsFromAnotherDocumentReachListeners(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	changes := recordChanges(t, td.changes)
	onStorage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		td.onStorage(arg0(args))
		return nil
	})
	jsGlobal.Call("addEventListener", "storage", onStorage)
	defer func() {
		jsGlobal.Call("removeEventListener", "storage", onStorage)
		onStorage.Release()
	}()
	doc := jsGlobal.Get("document")
	frame := doc.Call("createElement", "iframe") // same origin, another document
	doc.Get("body").Call("appendChild", frame)
	defer frame.Call("remove")
	other := frame.Get("contentWindow").Get("localStorage")

	key := "http://127.0.0.1:9 other-tab"
	other.Call("setItem", sessionPrefix+key, `{"key":"`+key+`","client_id":"other-tab"}`)
	c := changes.next(t)
	is.Equal(c["key"], key)
	is.Equal(c["signedIn"], true)
	other.Call("removeItem", sessionPrefix+key)
	c = changes.next(t)
	is.Equal(c["key"], key)
	is.Equal(c["signedIn"], false)
	other.Call("setItem", "unrelated", "x") // not ours: no event
	other.Call("removeItem", "unrelated")
	select {
	case c := <-changes.ch:
		t.Fatalf("unexpected change %v", c)
	case <-time.After(150 * time.Millisecond):
	}
}

func TestListeners_ExceptionInACallbackDoesNotReachGo(t *testing.T) {
	is := is.New(t)
	var l listeners
	thrower := jsGlobal.Get("Function").New("throw new Error('page bug')")
	l.add(thrower)
	changes := recordChanges(t, &l)
	l.emit((*sessionInfo)(nil).js("k"))
	c := changes.next(t) // the other listener still runs
	is.Equal(c["key"], "k")
}

func TestBrowserFetch_ReadsStatusTypeAndBody(t *testing.T) {
	is := is.New(t)
	f := browserFetch(core.Request{Method: "GET", URL: jsGlobal.Get("location").Get("href").String()})
	is.NoErr(f.Err)
	is.Equal(f.Response.Status, 200)
	is.True(strings.HasPrefix(f.Response.ContentType, "text/html"))
	is.True(len(f.Response.Body) > 0)
}

func TestBrowserFetch_RefusedConnectionIsANetworkError(t *testing.T) {
	is := is.New(t)
	f := browserFetch(core.Request{Method: "POST", URL: "http://127.0.0.1:9/token",
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Form: url.Values{"refresh_token": {"rt-secret"}}})
	is.True(f.Err != nil)
	is.Equal(errorCode(f.Err), "network_error")
	is.True(!strings.Contains(f.Err.Error(), "rt-secret"))
}

func TestErrorCode_IsStableForEveryKindOfFailure(t *testing.T) {
	for want, err := range map[string]error{
		"not_logged_in":           &core.LoginRequiredError{Host: "h", Cause: core.ErrInvalidGrant},
		"access_denied":           fmt.Errorf("x: %w", &core.OAuthError{Code: "access_denied"}),
		"state_mismatch":          core.ErrStateMismatch,
		"login_expired":           core.ErrPendingExpired,
		"issuer_mismatch":         core.ErrIssuerMismatch,
		"missing_issuer":          core.ErrMissingIssuer,
		"nonce_mismatch":          core.ErrNonceMismatch,
		"insecure_url":            core.ErrInsecureURL,
		"dpop_unsupported":        fmt.Errorf("%w: no algorithms", core.ErrDPoPUnsupported),
		"wrong_origin":            fmt.Errorf("x: %w", core.ErrWrongOrigin),
		"stored_login_unreadable": &core.LoginRequiredError{Host: "h", Cause: unreadable("k")},
		"discovery_failed":        core.ErrDiscovery,
		"lock_timeout":            fmt.Errorf("waiting: %w", errLockTimeout),
		"network_error":           &codedError{err: errors.New("token request failed"), is: errNetwork},
		"unexpected_redirect":     &codedError{err: errors.New("redirected"), is: errRedirect, cause: errors.New("token endpoint answered HTTP 302")},
		"internal_error":          errors.New("something else"),
		// Refusals the documentation names get codes of their own.
		"mix_up":             fmt.Errorf("metadata: %w: sign in elsewhere", core.ErrMixUp),
		"token_charset":      fmt.Errorf("token: %w", &core.TokenCharsetError{Field: "access_token"}),
		"resource_mismatch":  fmt.Errorf("%w: it says x", core.ErrResourceMismatch),
		"client_forgotten":   fmt.Errorf("%w (c): %w", core.ErrClientForgotten, &core.OAuthError{Code: "invalid_client"}),
		"response_too_large": fmt.Errorf("metadata: %w", core.ErrTooLarge),
		"no_client":          fmt.Errorf("login: %w", core.ErrNoClient),
		"invalid_argument":   fmt.Errorf("%w: %w", errBadArgument, core.ErrLoopbackScheme),
		// A server's error code reaches the page only in RFC 6749's
		// error charset (S37).
		"server_error": &core.OAuthError{Code: "bad\x1b[31mcode\u202e"},
	} {
		t.Run(want, func(t *testing.T) {
			is := is.New(t)
			is.Equal(errorCode(err), want)
		})
	}
}

// S27: a callback for a login older than core.PendingTTL is refused before
// any token request.
func TestHandleRedirect_CallbackForAnExpiredLoginIsLoginExpired(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	p := core.Pending{State: "old-state", Verifier: "v", ClientID: "console", RedirectURI: pageURL(),
		CreatedAt: time.Now().Add(-core.PendingTTL - time.Second),
		Metadata:  core.Metadata{Issuer: td.srv.issuer, TokenEndpoint: td.srv.issuer + "/token"}}
	is.NoErr(localStore{}.savePending(p))
	_, err := td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {"old-state"}}))
	is.Equal(errorCode(err), "login_expired")
	ex, _ := td.srv.counts()
	is.Equal(ex, 0)
}

func TestHandleRedirect_ReturnsToAnotherPageOfTheOriginByNavigating(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	other := jsGlobal.Get("location").Get("origin").String() + "/elsewhere?tab=2"
	_, err := td.driver.login(loginOptions{targetOptions: td.target(), scopes: []string{"offline_access"},
		redirectURI: pageURL(), returnTo: other})
	is.NoErr(err)
	state, _ := url.Parse(td.lastNavigation())
	res, err := td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {state.Query().Get("state")}}))
	is.NoErr(err)
	is.Equal(res.(map[string]any)["returnTo"], other)
	is.Equal(td.lastNavigation(), other)
}

func TestAPI_OddArgumentsRejectWithInvalidArgument(t *testing.T) {
	td := newTestDriver(t)
	api := td.api()
	for name, arg := range map[string]any{
		"NoOptions":   js.Undefined(),
		"MissingHost": map[string]any{"clientId": "c"},
		"NumberHost":  map[string]any{"host": 1, "clientId": "c"},
		"NotAnObject": "http://127.0.0.1:1",
		"BadScopes":   map[string]any{"host": td.srv.issuer, "clientId": "c", "scopes": 7},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			_, err := await(api.Call("login", arg))
			is.True(err != nil)
			_, err = await(api.Call("token", arg))
			is.True(err != nil)
		})
	}
	// The rejection is an Error with the stable code.
	codeCh := make(chan string, 1)
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any { codeCh <- args[0].Get("code").String(); return nil })
	defer onErr.Release()
	api.Call("token", js.Undefined()).Call("catch", onErr)
	select {
	case c := <-codeCh:
		if c != "invalid_argument" {
			t.Fatalf("code %q", c)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no rejection")
	}
}

func TestAsyncFunc_PanicInGoRejectsInsteadOfKillingTheProgram(t *testing.T) {
	is := is.New(t)
	f := asyncFunc(func([]js.Value) (int, error) { return 0, nil }, func(int) (any, error) {
		var v js.Value
		return v.Get("x"), nil // Get on undefined panics with a *js.ValueError
	})
	defer f.Release()
	_, err := await(f.Invoke())
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "internal error in dualauth"))
	_, err = await(f.Invoke()) // and the program is still alive
	is.True(err != nil)
}

// Grants without a person need a secret, a key or a workload's token: a
// page has none to keep, so the browser API refuses them by name.
func TestLogin_RefusesGrantsWithoutAPerson(t *testing.T) {
	td := newTestDriver(t)
	api := td.api()
	for _, k := range []string{"clientSecret", "clientKey", "subjectToken"} {
		t.Run(k, func(t *testing.T) {
			is := is.New(t)
			_, err := await(api.Call("login", map[string]any{"host": td.srv.issuer, "clientId": "c", k: "x"}))
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), "not offered in the browser"))
			is.Equal(td.lastNavigation(), "") // nowhere
		})
	}
}

// S35: a DPoP key is made before the user is sent to sign in; a callback
// that fails drops it, since no login holds it.
func TestHandleRedirect_AFailedCallbackDropsTheKeyMadeForTheLogin(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	var ls localStore
	p, ok := ls.takePending(state)
	is.True(ok)
	p.Key = &core.DPoPKey{Key: dpopKeyPrefix + "made-for-this-login"}
	is.NoErr(ls.savePending(*p))
	is.NoErr(td.tokens.putValue(p.Key.Key, js.ValueOf("private key")))

	_, err := td.handleRedirect(callbackURL(url.Values{"error": {"access_denied"}, "state": {state}}))
	is.Equal(errorCode(err), "access_denied")
	v, err := td.tokens.getValue(p.Key.Key)
	is.NoErr(err)
	is.True(v.IsUndefined())
}

// S36: logging out removes the login's DPoP key from IndexedDB.
func TestLogout_RemovesTheLoginsDPoPKey(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	e := *l.Entry
	e.DPoP = &core.DPoPKey{Key: dpopKeyPrefix + "of-this-login"}
	is.NoErr(td.tokens.save(td.key(), e))
	is.NoErr(td.tokens.putValue(e.DPoP.Key, js.ValueOf("private key")))

	_, err := td.logout(td.target())
	is.NoErr(err)
	v, err := td.tokens.getValue(e.DPoP.Key)
	is.NoErr(err)
	is.True(v.IsUndefined())
}

// Issue 23: a stored login that cannot be read blocks nothing. token() and
// session() say so with their own code and the way out; logout() removes
// it, with its DPoP key and a login to the same target still waiting for
// its callback; then the target is simply logged out.
func TestLogout_RemovesAnUnreadableLoginItsKeyAndItsPendingLogin(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	changes := recordChanges(t, td.changes)
	keyName := dpopKeyPrefix + "AbC-_09"
	_, err := td.tokens.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", `{"access_token":"secret-at","dpop_key":{"key":"`+keyName+`"`, td.key())}
	})
	is.NoErr(err)
	is.NoErr(td.tokens.putValue(keyName, js.ValueOf("private key")))
	pending := core.Pending{State: "waiting", Verifier: "v", CreatedAt: time.Now(), ClientID: "console",
		Target: core.Target{Host: td.srv.issuer}, Key: &core.DPoPKey{Key: dpopKeyPrefix + "pending"}}
	is.NoErr(localStore{}.savePending(pending))
	is.NoErr(td.tokens.putValue(pending.Key.Key, js.ValueOf("private key")))
	other := core.Pending{State: "other", Verifier: "v", CreatedAt: time.Now(), ClientID: "another", Target: core.Target{Host: td.srv.issuer}}
	is.NoErr(localStore{}.savePending(other))

	_, err = td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "stored_login_unreadable")
	msg := toJSError(err).Get("message").String()
	is.True(strings.Contains(msg, "logout()"))
	is.True(!strings.Contains(msg, "secret-at"))
	_, err = td.session(td.target())
	is.Equal(errorCode(err), "stored_login_unreadable")

	_, err = td.logout(td.target())
	is.NoErr(err)
	raw, err := td.tokens.tx("readonly", func(st js.Value) []js.Value { return []js.Value{st.Call("get", td.key())} })
	is.NoErr(err)
	is.True(raw[0].IsUndefined()) // the damaged value is gone from IndexedDB
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil) // the entry is gone
	for _, k := range []string{keyName, pending.Key.Key} {
		v, err := td.tokens.getValue(k)
		is.NoErr(err)
		is.True(v.IsUndefined()) // and both keys
	}
	_, ok := localStore{}.get(pendingKey(pending.State))
	is.True(!ok) // and the login waiting for its callback
	_, ok = localStore{}.get(pendingKey(other.State))
	is.True(ok) // another client's is not touched
	is.Equal(changes.next(t)["signedIn"], false)
	_, err = td.token(tokenOptions{targetOptions: td.target()})
	is.Equal(errorCode(err), "not_logged_in")
	s, err := td.session(td.target())
	is.NoErr(err)
	is.Equal(s.(map[string]any)["signedIn"], false)
}

// A damaged value cannot say which key is its own: logout drops only the
// DPoP keys it names that no readable login and no pending login uses
// (core.UnusedKeys), so a damaged value naming another live login's key,
// or a waiting login's, does not delete that key.
func TestLogout_AnUnreadableLoginNamingAnotherLoginsKeyLeavesThatKey(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	live := *l.Entry // another client's login, readable, with a DPoP key
	live.ClientID = "another"
	live.DPoP = &core.DPoPKey{Key: dpopKeyPrefix + "live"}
	is.NoErr(td.tokens.save(core.Key(td.srv.issuer, "another"), live))
	waiting := core.Pending{State: "waiting-other", Verifier: "v", CreatedAt: time.Now(), ClientID: "another",
		Target: core.Target{Host: td.srv.issuer}, Key: &core.DPoPKey{Key: dpopKeyPrefix + "waiting"}}
	is.NoErr(localStore{}.savePending(waiting))
	own := dpopKeyPrefix + "own"
	for _, k := range []string{own, live.DPoP.Key, waiting.Key.Key} {
		is.NoErr(td.tokens.putValue(k, js.ValueOf("private key")))
	}
	_, err := td.tokens.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", `{"dpop_key":{"key":"`+own+`"},"x":"`+live.DPoP.Key+` `+waiting.Key.Key+`"`, td.key())}
	})
	is.NoErr(err)

	_, err = td.logout(td.target())
	is.NoErr(err)
	gone, err := td.tokens.getValue(own)
	is.NoErr(err)
	is.True(gone.IsUndefined()) // the damaged login's own key goes
	for _, k := range []string{live.DPoP.Key, waiting.Key.Key} {
		v, err := td.tokens.getValue(k)
		is.NoErr(err)
		is.True(!v.IsUndefined()) // the live and the waiting login's keys stay
	}
	l = td.tokens.load([]string{core.Key(td.srv.issuer, "another")})
	is.NoErr(l.Err)
	is.True(l.Entry != nil) // and so does the other login

	// When the logins cannot be read to see which keys they use, no key
	// goes: a key left behind is harmless, a live one deleted is not.
	is.NoErr(td.tokens.putValue(own, js.ValueOf("private key")))
	_, err = td.tokens.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", `{"dpop_key":{"key":"`+own+`"},"x":"`+live.DPoP.Key+`"`, td.key())}
	})
	is.NoErr(err)
	proto := jsGlobal.Get("IDBObjectStore").Get("prototype")
	getAll := proto.Get("getAll")
	proto.Set("getAll", jsGlobal.Get("Function").New(`throw new DOMException("the read failed", "UnknownError")`))
	_, err = td.logout(td.target())
	proto.Set("getAll", getAll)
	is.NoErr(err)
	for _, k := range []string{own, live.DPoP.Key} {
		v, err := td.tokens.getValue(k)
		is.NoErr(err)
		is.True(!v.IsUndefined())
	}
}

// S37 in the browser: server text in an error (error_description) and the
// ID token's claims reach the page through core.Sanitize — no control
// character, ESC or bidi override, in the message, the description or a
// claim (names included). Markup stays text for the page to show as text.
func TestServerTextReachesThePageSanitised(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	state := td.startLogin(t)
	desc := "denied\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \u202efdp.exe\r\nforged line\x00<b>x</b>"
	_, err := td.handleRedirect(callbackURL(url.Values{"error": {"access_denied"}, "error_description": {desc}, "state": {state}}))
	is.Equal(errorCode(err), "access_denied")
	je := toJSError(err)
	for _, field := range []string{"message", "description"} {
		v := je.Get(field).String()
		is.True(strings.Contains(v, "<b>x</b>")) // text, kept as text
		for _, c := range []string{"\x1b", "\x07", "\u202e", "\r", "\n", "\x00"} {
			is.True(!strings.Contains(v, c))
		}
		is.True(strings.Contains(v, `\u202efdp.exe`)) // shown escaped
	}

	td = newTestDriver(t)
	td.signIn(t)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	e := *l.Entry
	payload, _ := json.Marshal(map[string]any{"sub": "u1", "name": "Mallory\u202egnp.exe", "email": "a\x1b[31m@b", "groups": []string{"x\ny"}, "k\x07": 1})
	e.IDToken = "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payload) + "."
	is.NoErr(td.tokens.save(td.key(), e))
	s, err := td.session(td.target())
	is.NoErr(err)
	c := s.(js.Value).Get("claims")
	is.Equal(c.Get("sub").String(), "u1")
	is.Equal(c.Get("name").String(), `Mallory\u202egnp.exe`)
	is.Equal(c.Get("email").String(), `a\x1b[31m@b`)
	is.Equal(c.Get("groups").Index(0).String(), `x\ny`)
	is.Equal(c.Get(`k\a`).Int(), 1)
}

// A host core.NormalizeHost refuses (a loopback host without its scheme, a
// query, user info) is a bad argument of whichever method got it, never an
// internal_error.
func TestAPI_UnusableHostIsInvalidArgumentInEveryMethod(t *testing.T) {
	td := newTestDriver(t)
	for _, host := range []string{"127.0.0.1:8080", "localhost", "https://example.com/?q=1", "https://u@example.com"} {
		t.Run(host, func(t *testing.T) {
			is := is.New(t)
			target := targetOptions{host: host, clientID: "c"}
			_, err := td.driver.login(loginOptions{targetOptions: target, redirectURI: pageURL()})
			is.Equal(errorCode(err), "invalid_argument") // login
			_, err = td.driver.token(tokenOptions{targetOptions: target})
			is.Equal(errorCode(err), "invalid_argument") // token
			_, err = td.driver.logout(target)
			is.Equal(errorCode(err), "invalid_argument") // logout
			_, err = td.driver.session(target)
			is.Equal(errorCode(err), "invalid_argument") // session
			target.clientID = ""
			_, err = td.driver.token(tokenOptions{targetOptions: target})
			is.Equal(errorCode(err), "invalid_argument") // token without a client
		})
	}
}

// S37: the strings of a session summary (scopes a token endpoint granted,
// a client ID, the issuer) are server text: session() and onChange get
// them through core.Sanitize.
func TestSession_SummaryStringsAreSanitised(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	changes := recordChanges(t, td.changes)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	e := *l.Entry
	e.Scopes = []string{"openid", "Mallory\u202egnp.exe\x1b[31m\u2028"}
	is.NoErr(td.tokens.save(td.key(), e))
	s, err := td.session(td.target())
	is.NoErr(err)
	is.Equal(s.(js.Value).Get("scopes").String(), `openid Mallory\u202egnp.exe\x1b[31m\u2028`)
	si := summarize(td.key(), e)
	si.ClientID = "c\x07"
	td.driver.mirror(td.key(), &si)
	c := changes.next(t)
	is.Equal(c["scopes"], `openid Mallory\u202egnp.exe\x1b[31m\u2028`)
	is.Equal(c["clientId"], `c\a`)
}

// logout({ host }) without a client ID, after the page cleared
// localStorage (the mirror of the logins): the login is still found in
// IndexedDB, the authoritative store, so it is removed and its refresh
// token revoked — not left behind with { removed: false }.
func TestLogout_WithoutClientIDFindsTheLoginInIndexedDBWhenTheMirrorIsGone(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	jsGlobal.Get("localStorage").Call("clear")
	byHost := targetOptions{host: td.srv.issuer}
	tok, err := td.token(tokenOptions{targetOptions: byHost})
	is.NoErr(err) // token() finds it too
	is.Equal(tok.(map[string]any)["access_token"], "at-1")
	res, err := td.logout(byHost)
	is.NoErr(err)
	is.Equal(res.(map[string]any)["removed"], true)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil) // no refresh token left in IndexedDB
	td.srv.mu.Lock()
	revokes := td.srv.revokes
	td.srv.mu.Unlock()
	is.Equal(revokes, 1) // and it was revoked at the server
}
