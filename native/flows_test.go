package native

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/matryer/is"
)

const clientID = "dualauth-cli"

func provider(t *testing.T) *testidp.Server {
	t.Helper()
	srv, err := testidp.Start(testidp.Options{Clients: []testidp.Client{{ID: clientID, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// warnings collects Warn messages.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(m string) { w.mu.Lock(); w.msgs = append(w.msgs, m); w.mu.Unlock() }
func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

type fixture struct {
	t     *testing.T
	srv   *testidp.Server
	cache *FileCache
	warn  *warnings
	// pages are the callback pages the "browser" saw, in order.
	mu       sync.Mutex
	pages    []string
	redirect string         // the redirect URI of the last authorize URL
	wg       sync.WaitGroup // browser goroutines
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, srv: provider(t), warn: &warnings{}}
	f.cache = &FileCache{Dir: t.TempDir(), Warn: f.warn.add}
	return f
}

func (f *fixture) options() Options {
	return Options{
		Target:      core.Target{Host: f.srv.Issuer},
		ClientID:    clientID,
		Store:       f.cache,
		HTTPOptions: HTTPOptions{Timeout: 3 * time.Second},
		LockTimeout: 3 * time.Second,
		Warn:        f.warn.add,
	}
}

// get fetches a callback URL as the browser would and records the page.
func (f *fixture) get(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		f.t.Errorf("GET callback: %v", err)
		return 0, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkPage(f.t, resp, string(b))
	f.mu.Lock()
	f.pages = append(f.pages, string(b))
	f.mu.Unlock()
	return resp.StatusCode, string(b)
}

// browser signs in at the provider and delivers the redirect, after
// running before with the authorize URL (to inject stray callbacks).
func (f *fixture) browser(before func(authURL string)) func(string, <-chan error) {
	return func(authURL string, _ <-chan error) {
		if u, err := url.Parse(authURL); err == nil {
			f.mu.Lock()
			f.redirect = u.Query().Get("redirect_uri")
			f.mu.Unlock()
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if before != nil {
				before(authURL)
			}
			final, err := f.srv.Login(authURL)
			if err != nil {
				f.t.Errorf("provider login: %v", err)
				return
			}
			f.get(final.String())
		}()
	}
}

func (f *fixture) login(before func(string)) (*core.Entry, error) {
	e, err := Login(context.Background(), LoginOptions{
		Options:     f.options(),
		Opener:      Opener{Disabled: true},
		Timeout:     10 * time.Second,
		OnAuthorize: f.browser(before),
	})
	f.wg.Wait() // the browser has seen the last page
	return e, err
}

func (f *fixture) mustLogin() *core.Entry {
	f.t.Helper()
	e, err := f.login(nil)
	if err != nil {
		f.t.Fatalf("login: %v", err)
	}
	return e
}

// later returns a clock that runs ahead by d: tokens look expired without
// waiting.
func later(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

func (f *fixture) token(force bool, now func() time.Time) (*core.Entry, error) {
	o := f.options()
	o.Now = now
	return Token(context.Background(), TokenOptions{Options: o, Force: force})
}

// postRefresh sends a refresh request straight to the provider and returns
// the OAuth error code ("" on success).
func (f *fixture) postRefresh(rt string) string {
	resp, err := http.PostForm(f.srv.Issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	return e.Error
}

func (f *fixture) cached() *core.Entry {
	f.t.Helper()
	_, e, err := f.cache.Load([]string{core.Key(f.srv.Issuer, clientID)})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func TestLogin_AgainstRealProviderSavesTokensAndMetadata(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	e := f.mustLogin()
	is.True(e.AccessToken != "")
	is.True(e.RefreshToken != "")
	is.Equal(f.srv.Requests("authorization_code"), 1) // one round trip after the callback
	c := f.cached()
	is.Equal(c.AccessToken, e.AccessToken)
	is.Equal(c.Metadata.Issuer, f.srv.Issuer)
	is.Equal(c.Metadata.TokenEndpoint, f.srv.Issuer+"/oauth/token")
	is.Equal(c.Metadata.RevocationEndpoint, f.srv.Issuer+"/revoke")
	is.Equal(len(f.pages), 1)
	is.True(strings.Contains(f.pages[0], "You are logged in"))
	// The listener closed with the login (S14).
	_, err := http.Get(f.redirect)
	is.True(err != nil)
}

func TestToken_ValidTokenComesFromCacheWithoutNetworkOrLock(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	e := f.mustLogin()
	// Hold the lock and stop the provider: a valid token needs neither.
	unlock, err := f.cache.Lock(context.Background(), e.Key())
	is.NoErr(err)
	defer unlock()
	f.srv.Close()
	start := time.Now()
	got, err := f.token(false, nil)
	is.NoErr(err)
	is.Equal(got.AccessToken, e.AccessToken)
	is.True(time.Since(start) < 500*time.Millisecond)
}

func TestToken_RefreshesAfterExpiryAndSavesTheRotatedRefreshToken(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	first := f.mustLogin()
	got, err := f.token(false, later(time.Hour)) // the cached token has expired by then
	is.NoErr(err)
	is.Equal(f.srv.Requests("refresh_token"), 1)
	is.True(got.AccessToken != first.AccessToken)
	c := f.cached()
	is.Equal(c.AccessToken, got.AccessToken)
	is.True(c.RefreshToken != first.RefreshToken)                // rotated, and saved
	is.Equal(f.postRefresh(first.RefreshToken), "invalid_grant") // the old one is spent
	// The saved one works for the next refresh.
	again, err := f.token(true, nil)
	is.NoErr(err)
	is.True(again.AccessToken != got.AccessToken)
	is.Equal(f.srv.Requests("refresh_token"), 3)
}

func TestToken_KeepsTheOldRefreshTokenWhenTheResponseHasNone(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	first := f.mustLogin()
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"new-access","token_type":"Bearer","expires_in":3600}`)
		return true
	})
	got, err := f.token(true, nil)
	is.NoErr(err)
	is.Equal(got.AccessToken, "new-access")
	c := f.cached()
	is.Equal(c.AccessToken, "new-access")
	is.Equal(c.RefreshToken, first.RefreshToken)
}

func TestToken_InvalidGrantDropsTheRefreshTokenAndAsksForLogin(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	first := f.mustLogin()
	is.Equal(f.postRefresh(first.RefreshToken), "") // someone else used it: ours is now spent
	_, err := f.token(false, later(time.Hour))
	is.True(errors.Is(err, core.ErrNotLoggedIn))
	is.True(errors.Is(err, core.ErrInvalidGrant))
	is.True(strings.Contains(err.Error(), "run `auth login "+f.srv.Issuer+" --client-id "))
	is.True(!strings.Contains(err.Error(), first.RefreshToken))
	is.Equal(f.cached().RefreshToken, "")
	is.Equal(f.srv.Requests("refresh_token"), 2) // ours once, no retry loop
}

func TestLogout_RemovesTheEntryAndRevokesTheRefreshToken(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	first := f.mustLogin()
	other := entry("https://other.example", "x", "tok-other")
	save(t, f.cache, other)
	_, err := Logout(context.Background(), f.options())
	is.NoErr(err)
	is.True(f.cached() == nil)
	is.Equal(f.postRefresh(first.RefreshToken), "invalid_grant") // revoked at the server
	_, kept, err := f.cache.Load([]string{other.Key()})
	is.NoErr(err)
	is.Equal(kept.AccessToken, "tok-other")
	is.Equal(len(f.warn.all()), 0)
}

func TestLogout_FailedRevocationIsAWarningAndTheEntryStillGoes(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	f.mustLogin()
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/revoke" {
			return false
		}
		w.WriteHeader(500)
		return true
	})
	_, err := Logout(context.Background(), f.options())
	is.NoErr(err)
	is.True(f.cached() == nil)
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.True(strings.Contains(w[0], "HTTP 500"))
}

func TestLogin_IgnoresWrongStateCallbacksThenSucceeds(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	var redirect string
	e, err := f.login(func(authURL string) {
		u, _ := url.Parse(authURL)
		redirect = u.Query().Get("redirect_uri")
		for _, q := range []string{
			"?code=stolen&state=wrong",
			"?code=stolen",
			"?error=access_denied&state=wrong",
		} {
			status, body := f.get(redirect + q)
			is.Equal(status, 400)
			is.True(strings.Contains(body, "still waiting"))
		}
	})
	is.NoErr(err)
	is.True(e.AccessToken != "")
	is.Equal(f.srv.Requests("authorization_code"), 1) // the stray codes never reached the server
}

func TestLogin_AccessDeniedEndsCleanlyWithAnEscapedPage(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	evil := `<script>alert("x")</script>`
	type page struct {
		status int
		body   string
	}
	seen := make(chan page, 1)
	_, err := Login(context.Background(), LoginOptions{
		Options: f.options(),
		Opener:  Opener{Disabled: true},
		Timeout: 10 * time.Second,
		OnAuthorize: func(authURL string, _ <-chan error) {
			u, _ := url.Parse(authURL)
			q := url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}, "error_description": {evil}}
			go func() {
				s, b := f.get(u.Query().Get("redirect_uri") + "?" + q.Encode())
				seen <- page{s, b}
			}()
		},
	})
	var oe *core.OAuthError
	is.True(errors.As(err, &oe))
	is.Equal(oe.Code, "access_denied")
	is.True(!strings.Contains(err.Error(), "\n"))
	p := <-seen
	status, body := p.status, p.body
	is.Equal(status, 400)
	is.True(strings.Contains(body, "access_denied"))
	is.True(!strings.Contains(body, "<script>"))
	is.True(strings.Contains(body, "&lt;script&gt;"))
	is.Equal(f.srv.Requests("authorization_code"), 0)
}

func TestLogin_TimeoutIsHonouredAndClosesTheListener(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	var redirect string
	start := time.Now()
	_, err := Login(context.Background(), LoginOptions{
		Options: f.options(),
		Opener:  Opener{Disabled: true},
		Timeout: 300 * time.Millisecond,
		OnAuthorize: func(authURL string, _ <-chan error) {
			u, _ := url.Parse(authURL)
			redirect = u.Query().Get("redirect_uri")
		},
	})
	is.True(errors.Is(err, ErrTimeout))
	is.True(strings.Contains(err.Error(), "300ms"))
	is.True(time.Since(start) < 3*time.Second)
	_, gerr := http.Get(redirect)
	is.True(gerr != nil) // the listener is gone
}

func TestLogin_BusyFixedPortFailsBeforeAnyRequest(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	busy := listen(t, ListenerConfig{})
	_, p, _ := strings.Cut(busy.Addrs()[0].String(), ":")
	start := time.Now()
	_, err := Login(context.Background(), LoginOptions{
		Options:  f.options(),
		Opener:   Opener{Disabled: true},
		Listener: ListenerConfig{RedirectURI: "http://127.0.0.1:" + p + "/callback"},
	})
	is.True(errors.Is(err, ErrPortInUse))
	is.True(time.Since(start) < time.Second)
}

func TestFaults_EachFailsFastWithOneLineAndKeepsOtherEntries(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		return true
	}
	for _, tc := range []struct {
		name      string
		intercept func(w http.ResponseWriter, r *http.Request) bool
		down      bool
		want      string
	}{
		{name: "provider down", down: true, want: "connection refused"},
		{name: "HTTP 500", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/oauth/token" {
				return false
			}
			http.Error(w, "boom", 500)
			return true
		}, want: "HTTP 500"},
		{name: "garbage JSON", intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/oauth/token" {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token": [1,2,`)
			return true
		}, want: "not a JSON token response"},
		{name: "slow response", intercept: slow, want: "no answer within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			f := newFixture(t)
			first := f.mustLogin()
			other := entry("https://other.example", "x", "tok-other")
			save(t, f.cache, other)
			if tc.down {
				f.srv.Close()
			}
			f.srv.Intercept(tc.intercept)
			o := f.options()
			o.HTTPOptions.Timeout = 500 * time.Millisecond
			o.Now = later(time.Hour)
			start := time.Now()
			_, err := Token(context.Background(), TokenOptions{Options: o})
			is.True(err != nil)
			is.True(time.Since(start) < 10*time.Second)
			msg := err.Error()
			is.True(strings.Contains(msg, tc.want))
			is.True(!strings.Contains(msg, "\n"))
			is.True(!strings.Contains(msg, first.RefreshToken))
			is.True(!strings.Contains(msg, first.AccessToken))
			// Nothing lost: our entry still has its refresh token, the
			// other host's entry is untouched.
			is.Equal(f.cached().RefreshToken, first.RefreshToken)
			_, kept, err := f.cache.Load([]string{other.Key()})
			is.NoErr(err)
			is.Equal(kept.AccessToken, "tok-other")
		})
	}
}

func TestLogin_ProviderDownFailsFastWithAClearMessage(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	f.srv.Close()
	start := time.Now()
	_, err := Login(context.Background(), LoginOptions{Options: f.options(), Opener: Opener{Disabled: true}})
	is.True(err != nil)
	is.True(time.Since(start) < 10*time.Second)
	is.True(strings.Contains(err.Error(), "cannot reach "+f.srv.Issuer))
}

func TestTokenSource_GivesCachedThenRefreshedTokens(t *testing.T) {
	is := is.New(t)
	f := newFixture(t)
	first := f.mustLogin()
	ts := TokenSource(context.Background(), TokenOptions{Options: f.options()})
	tok, err := ts.Token()
	is.NoErr(err)
	is.Equal(tok.AccessToken, first.AccessToken)
	is.Equal(tok.RefreshToken, "") // callers get what they may send
	is.Equal(f.srv.Requests("refresh_token"), 0)

	o := f.options()
	o.Now = later(time.Hour)
	tok, err = TokenSource(context.Background(), TokenOptions{Options: o}).Token()
	is.NoErr(err)
	is.True(tok.AccessToken != first.AccessToken)
	is.Equal(f.srv.Requests("refresh_token"), 1)

	// The HTTP client sends it.
	var got string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") })
	f.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api" {
			return false
		}
		api(w, r)
		return true
	})
	resp, err := HTTPClient(context.Background(), TokenOptions{Options: f.options()}).Get(f.srv.Issuer + "/api")
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(got, "Bearer "+f.cached().AccessToken)

	// A login bound to a DPoP key has nothing oauth2 could send.
	c := f.cached()
	c.TokenType, c.DPoP = "DPoP", &core.DPoPKey{Key: "dpop:file:x", JKT: "jkt-x"}
	unlock, err := f.cache.Lock(context.Background(), c.Key())
	is.NoErr(err)
	is.NoErr(f.cache.Save(c.Key(), *c))
	unlock()
	_, err = TokenSource(context.Background(), TokenOptions{Options: f.options()}).Token()
	var be *core.DPoPBoundError
	is.True(errors.As(err, &be))
}
