package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/hostile"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// startHostile starts an internal/hostile server that the test stops.
func startHostile(t *testing.T) *hostile.Server {
	t.Helper()
	s, err := hostile.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// alsoOn serves s on a second loopback origin as well (a token endpoint or
// sign-in page on a domain of its own), stopped with the test.
func alsoOn(t *testing.T, s *hostile.Server) string {
	t.Helper()
	other := httptest.NewServer(s)
	t.Cleanup(other.Close)
	return other.URL
}

// noCacheEntries fails when the cache holds any login.
func (e *env) noCacheEntries() {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cache, native.CacheFileName))
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := core.DecodeCacheFile(b)
	if err != nil || len(f.Tokens) != 0 {
		e.t.Errorf("the cache holds a login (or is broken: %v)", err)
	}
}

// mixUpPair is hostile server A whose metadata names honest server I's
// authorization endpoint, with more edits of A's metadata by edit.
func mixUpPair(t *testing.T, edit func(m map[string]any, i *hostile.Server)) (*env, *hostile.Server, *hostile.Server) {
	e := newEnv(t)
	a, i := startHostile(t), startHostile(t)
	a.SetMode(hostile.Mode{EditMetadata: func(m map[string]any) {
		m["authorization_endpoint"] = i.Issuer + hostile.AuthorizePath
		if edit != nil {
			edit(m, i)
		}
	}})
	return e, a, i
}

// TestHostile_MixUpLoginIsRefusedBeforeTheBrowserOpens (issue 19, item 1):
// hostile server A names honest server I's authorization endpoint and
// keeps its own token endpoint. Without iss promised, the login stops
// before the browser opens; with iss promised, I's answer (no iss) is
// refused and I's code never reaches A. Nothing is stored either way.
func TestHostile_MixUpLoginIsRefusedBeforeTheBrowserOpens(t *testing.T) {
	t.Run("no iss promised", func(t *testing.T) {
		is := is.New(t)
		e, a, i := mixUpPair(t, nil)
		browser, marker := browserMarker(t)
		r := e.auth(nil, "login", a.Issuer, "--client-id", "cli", "--browser", browser)
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.Contains(lines[0], "mix-up"))
		is.True(strings.Contains(lines[0], "sign in at "+i.Issuer))
		_, err := os.Stat(marker)
		is.True(os.IsNotExist(err)) // the browser never ran
		is.True(!strings.Contains(r.stderr, "Opening") && !strings.Contains(r.stderr, hostile.AuthorizePath+"?"))
		is.Equal(a.Requests("authorization_code"), 0)
		is.Equal(i.Requests("authorization_code"), 0)
		e.noCacheEntries()
	})
	t.Run("iss promised, honest server sends none", func(t *testing.T) {
		is := is.New(t)
		e, a, i := mixUpPair(t, func(m map[string]any, _ *hostile.Server) {
			m["authorization_response_iss_parameter_supported"] = true
		})
		r := e.auth(nil, "login", a.Issuer, "--client-id", "cli", "--timeout", "20s")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "Opening a browser to "+i.Issuer+" to log in to "+a.Issuer)) // where the user went
		is.True(strings.Contains(r.stderr, "lacks the iss parameter"))
		is.Equal(a.Requests("authorization_code"), 0) // I's code never reached A
		e.noCacheEntries()
	})
	t.Run("both of the honest server's endpoints: its tokens are not stored under A", func(t *testing.T) {
		is := is.New(t)
		e, a, i := mixUpPair(t, func(m map[string]any, i *hostile.Server) {
			m["token_endpoint"] = i.Issuer + hostile.TokenPath
		})
		r := e.auth(nil, "login", a.Issuer, "--client-id", "cli", "--scopes", "api", "--timeout", "20s")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "Opening a browser to "+i.Issuer+" to log in to "+a.Issuer))
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.Contains(lines[0], "mix-up"))
		is.True(strings.Contains(lines[0], "issued by "+i.Issuer)) // I's ID token (openid was asked though --scopes named none)
		is.Equal(i.Requests("authorization_code"), 1)              // I answered with its tokens…
		e.noCacheEntries()                                         // …which are not stored under A
		r = e.auth(nil, "token", a.Issuer, "--client-id", "cli")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
	})
}

// TestHostile_SignInOnAsOwnOriginWithIsTokenEndpointStoresNothing (H7):
// hostile A's authorization endpoint is on its own origin and just
// redirects to honest I's; its token endpoint is I's. The sign-in page
// passes the sign-in rule, but the tokens come from I's token endpoint, so
// the login asks openid (though --scopes names none) and I's ID token,
// naming I, is refused: nothing stored, `auth token A` prints nothing.
func TestHostile_SignInOnAsOwnOriginWithIsTokenEndpointStoresNothing(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	a, i := startHostile(t), startHostile(t)
	a.SetMode(hostile.Mode{AuthorizeAt: i.Issuer + hostile.AuthorizePath, EditMetadata: func(m map[string]any) {
		m["token_endpoint"] = i.Issuer + hostile.TokenPath
	}})
	r := e.auth(nil, "login", a.Issuer, "--client-id", "cli", "--scopes", "api", "--timeout", "20s")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "Opening a browser to "+a.Issuer+" to log in to "+a.Issuer)) // A's own origin…
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "mix-up"))
	is.True(strings.Contains(lines[0], "issued by "+i.Issuer)) // …but I's ID token
	is.Equal(i.Requests("authorization_code"), 1)              // I answered with its tokens…
	is.Equal(a.Requests("authorization_code"), 0)
	e.noCacheEntries() // …which are not stored under A
	r = e.auth(nil, "token", a.Issuer, "--client-id", "cli")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
}

// TestHostile_RealShapesOfSplitOriginsStillLogIn (issue 19, item 1): one
// server on two origins, as real providers are: Google signs in on its
// issuer's origin and has its token endpoint elsewhere; Cognito signs in
// and issues tokens on a custom domain, its issuer elsewhere. Both log in,
// and the line before the browser opens names the origin opened.
func TestHostile_RealShapesOfSplitOriginsStillLogIn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		authzElse bool // the authorization endpoint on the other origin too
	}{
		{"google: token endpoint elsewhere", false},
		{"cognito: authorization and token on a custom domain", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			s := startHostile(t)
			other := alsoOn(t, s)
			s.SetMode(hostile.Mode{EditMetadata: func(m map[string]any) {
				m["token_endpoint"] = other + hostile.TokenPath
				if tc.authzElse {
					m["authorization_endpoint"] = other + hostile.AuthorizePath
				}
			}})
			r := e.auth(nil, "login", s.Issuer, "--client-id", "cli")
			is.Equal(r.code, 0)
			opened := s.Issuer
			if tc.authzElse {
				opened = other
			}
			is.True(strings.Contains(r.stderr, "Opening a browser to "+opened+" to log in to "+s.Issuer+"…"))
			is.Equal(s.Requests("authorization_code"), 1)
			r = e.auth(nil, "token", s.Issuer, "-o", "text")
			is.Equal(r.code, 0)
			is.True(s.ValidAccessToken(strings.TrimSpace(r.stdout)))
		})
	}
}

// TestHostile_DeviceVerificationURIOnAnotherOriginIsRefused (issue 19,
// item 1): the device flow's page follows the same rule; the code is not
// shown and the token endpoint never polled.
func TestHostile_DeviceVerificationURIOnAnotherOriginIsRefused(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	elsewhere := startHostile(t) // never contacted
	var polls atomic.Int32
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			json.NewEncoder(w).Encode(map[string]any{
				"issuer": e.srv.Issuer, "authorization_endpoint": e.srv.Issuer + "/auth", "token_endpoint": e.srv.Issuer + "/oauth/token",
				"device_authorization_endpoint":                  e.srv.Issuer + "/device_authorization",
				"authorization_response_iss_parameter_supported": true, // no exception for the device flow
			})
		case r.URL.Path == "/device_authorization":
			json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "WDJB-MJHT",
				"verification_uri": elsewhere.Issuer + "/device", "expires_in": 60, "interval": 1})
		case r.URL.Path == "/oauth/token":
			polls.Add(1)
			oauthError(w, 400, "authorization_pending")
		default:
			return false
		}
		return true
	})
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--device")
	is.Equal(r.code, 1)
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "mix-up"))
	is.True(!strings.Contains(r.stderr, "WDJB-MJHT")) // no code shown
	is.Equal(polls.Load(), int32(0))
	e.noCacheEntries()
}

// issueToken is the access token of issue 19: it writes the clipboard (OSC
// 52), sets the window title, clears the screen, and injects a header into
// `curl -H "Authorization: Bearer $(auth token … -o text)"`.
const issueToken = "AT\x1b]52;c;aGVsbG8=\x07\x1b]0;PWNED\x07\x1b[2J\r\nX-Injected: 1"

// TestHostile_ATokenWithControlCharactersIsNeverStoredOrPrinted (issue 19,
// item 2): a login answered with it fails with one clean line and stores
// nothing; a refresh answered with it fails, keeps neither its access
// token nor its rotated refresh token, drops the old refresh token the
// server has spent (the next call asks for a login and sends nothing),
// and `auth token -o text` never writes it.
func TestHostile_ATokenWithControlCharactersIsNeverStoredOrPrinted(t *testing.T) {
	poison := func(field string) func(string, map[string]any) {
		return func(_ string, answer map[string]any) { answer[field] = issueToken }
	}
	t.Run("login", func(t *testing.T) {
		for _, field := range []string{"access_token", "refresh_token", "id_token"} {
			t.Run(field, func(t *testing.T) {
				is := is.New(t)
				e := newEnv(t)
				a := startHostile(t)
				a.SetMode(hostile.Mode{Edit: poison(field)})
				r := e.auth(nil, "login", a.Issuer, "--client-id", "cli")
				is.Equal(r.code, 1)
				lines := errorLines(r.stderr)
				is.Equal(len(lines), 1)
				is.True(strings.Contains(lines[0], "outside %x20-7E"))
				is.True(strings.Contains(lines[0], field))
				checkTerminalSafe(t, r.stderr)
				is.True(!strings.Contains(r.stderr, "PWNED"))
				e.noCacheEntries()

				r = e.auth(nil, "token", a.Issuer, "--client-id", "cli", "-o", "text")
				is.Equal(r.code, 1)
				is.Equal(r.stdout, "")
				checkTerminalSafe(t, r.stderr)
			})
		}
	})
	t.Run("refresh", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		a := startHostile(t)
		r := e.auth(nil, "login", a.Issuer, "--client-id", "cli")
		is.Equal(r.code, 0)
		before := e.hostileEntry(a)
		e.edit(func(c *core.CacheFile) {
			en := c.Tokens[before.Key()]
			en.Expiry = time.Now().Add(-time.Minute)
			c.Tokens[before.Key()] = en
		})
		a.SetMode(hostile.Mode{Edit: poison("access_token")})
		r = e.auth(nil, "token", a.Issuer, "--client-id", "cli", "-o", "text")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.True(strings.Contains(r.stderr, "outside %x20-7E"))
		checkTerminalSafe(t, r.stderr)
		is.Equal(a.Requests("refresh_token"), 1)
		after := e.hostileEntry(a)
		is.Equal(after.AccessToken, before.AccessToken) // the poisoned one is not kept…
		is.Equal(after.RefreshToken, "")                // …nor the refresh token it came with, nor the spent old one (H8)
		is.True(strings.Contains(r.stderr, "auth login"))

		// The next call asks for a login instead of replaying the spent
		// refresh token.
		r = e.auth(nil, "token", a.Issuer, "--client-id", "cli", "-o", "text")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.True(strings.Contains(r.stderr, "auth login"))
		is.Equal(a.Requests("refresh_token"), 1)
	})
}

// hostileEntry is the cache entry of the login to s with client "cli".
func (e *env) hostileEntry(s *hostile.Server) core.Entry {
	e.t.Helper()
	en, ok := e.file().Tokens[core.Key(s.Issuer, "cli")]
	if !ok {
		e.t.Fatal("no cache entry")
	}
	return en
}
