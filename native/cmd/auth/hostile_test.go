package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/matryer/is"
)

// evil is what a hostile server says to take over a terminal: an OSC 8
// hyperlink, a CSI that clears the screen, a C1 CSI, a bidi override that
// reverses a file name, backspaces, a carriage return, NUL and DEL, and a
// newline that forges a line of our own.
const evil = "\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07 \x1b[2J \u009b31m red \u202egnp.exe\u202c \u2066iso\u2069 \b\b\rOK\x00\x7f\nauth: warning: forged line"

// checkTerminalSafe fails when out holds anything a terminal would act on
// (S37): C0 controls but the newline, DEL, C1 controls, bidi controls,
// bytes that are not UTF-8; and the forged line must not start a line.
func checkTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("output is not UTF-8: %q", out)
	}
	for i, r := range out {
		bad := r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f ||
			r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f
		if bad {
			t.Errorf("control %U at byte %d reaches the terminal: %q", r, i, out)
			return
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "auth: warning: forged") {
			t.Errorf("a server forged a line: %q", out)
		}
	}
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": evil, "error_uri": "https://e.example/\x1b[31m"})
}

func TestHostile_ServerTextReachesTheTerminalOnlySanitised(t *testing.T) {
	t.Run("token endpoint error on refresh", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.login()
		e.expire()
		e.srv.Intercept(tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) { oauthError(w, 400, "invalid_request"+evil) }))
		r := e.auth(nil, "token", e.srv.Issuer)
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, `click here\x1b]8;;\a`)) // still readable, shown escaped
		checkTerminalSafe(t, r.stderr)
	})
	t.Run("token type on refresh", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.login()
		e.expire()
		e.srv.Intercept(tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": "x", "token_type": evil, "expires_in": 3600})
		}))
		r := e.auth(nil, "token", e.srv.Issuer)
		is.Equal(r.code, 1)
		checkTerminalSafe(t, r.stderr)
	})
	t.Run("device code and device error", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{
					"issuer": e.srv.Issuer, "authorization_endpoint": e.srv.Issuer + "/auth", "token_endpoint": e.srv.Issuer + "/oauth/token",
					"device_authorization_endpoint": e.srv.Issuer + "/device_authorization",
				})
			case r.URL.Path == "/device_authorization":
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"device_code": "dc", "user_code": "AB\x1b[8mCD" + evil,
					"verification_uri": e.srv.Issuer + "/device?\u202e", "expires_in": 60, "interval": 1})
			case r.URL.Path == "/oauth/token":
				oauthError(w, 400, "access_denied")
			default:
				return false
			}
			return true
		})
		r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--device")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, `AB\x1b[8mCD`))
		checkTerminalSafe(t, r.stderr)
	})
	t.Run("discovery body over the cap", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, "/.well-known/") {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"issuer":"`+strings.Repeat("a", 2<<20)+`"}`)
			return true
		})
		r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID)
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "too large (over 1 MiB)"))
	})
	t.Run("profiles file echoed in an error", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		cfg := filepath.Join(e.home, "config.ini")
		is.NoErr(os.WriteFile(cfg, []byte("[p]\nhost = https://x.example/\x00\x1b[2J\u202e\n"), 0o600))
		for _, args := range [][]string{{"token", "p"}, {"describe", "p"}, {"profiles"}} {
			r := e.auth([]string{"DUALAUTH_CONFIG_FILE=" + cfg}, args...)
			checkTerminalSafe(t, r.stderr)
			checkTerminalSafe(t, r.stdout)
		}
	})
}

// Should-fix of the hardening issue: a token type other than Bearer is
// refused and not stored; "expires_in": 0 is a token already expired.
func TestHostile_NonBearerTokenIsRefusedAndZeroExpiresInIsExpired(t *testing.T) {
	t.Run("token_type mac", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		before := e.login()
		e.expire()
		e.srv.Intercept(tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"mac-token","token_type":"mac","expires_in":3600}`)
		}))
		r := e.auth(nil, "token", e.srv.Issuer)
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.True(strings.Contains(r.stderr, `of type "mac"; dualauth can only use Bearer tokens`))
		is.True(e.entry().AccessToken == before.AccessToken) // nothing stored
	})
	t.Run("expires_in 0", func(t *testing.T) {
		is := is.New(t)
		e := newEnv(t)
		e.login()
		e.expire()
		n := 0
		e.srv.Intercept(tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			n++
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"zero-token","token_type":"bearer","expires_in":0}`)
		}))
		for range 2 {
			r := e.auth(nil, "token", e.srv.Issuer)
			is.Equal(r.code, 0)
		}
		is.Equal(n, 2) // expired at once: each call asks again, none keeps it forever
		is.Equal(e.entry().TokenType, "Bearer")
	})
}

// Must-fix 4 (S38): the real server rotates the refresh token, and the
// answer that reaches auth has lost its access token on the way. The new
// refresh token is the login now: the next call must work with it.
func TestHostile_RotatedRefreshTokenInAnUnusableAnswerIsKept(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	before := e.login()
	e.expire()
	e.srv.Intercept(tokenEndpoint(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		req, _ := http.NewRequest("POST", e.srv.Issuer+"/oauth/token", strings.NewReader(r.PostForm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		e.srv.Intercept(nil) // let the real server answer this one
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		var tok map[string]any
		json.NewDecoder(resp.Body).Decode(&tok)
		delete(tok, "access_token") // the real rotation, with the access token lost
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(tok)
	}))
	r := e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "no access_token"))
	is.True(strings.Contains(r.stderr, "new refresh token was kept"))
	kept := e.entry().RefreshToken
	is.True(kept != "" && kept != before.RefreshToken)

	e.srv.Intercept(nil)
	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 0) // the kept token works; the old one was spent
	is.True(e.entry().RefreshToken != kept)
}
