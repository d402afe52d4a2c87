package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

func tokenEndpoint(f func(w http.ResponseWriter, r *http.Request)) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		f(w, r)
		return true
	}
}

// TestCLI_FaultsFailWithOneLineTheDocumentedExitCodeAndLoseNothing: each
// fault on the refresh path ends `auth token` with exit 1, one error line,
// no panic, within the time limit, with every cache entry intact.
func TestCLI_FaultsFailWithOneLineTheDocumentedExitCodeAndLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		intercept func(http.ResponseWriter, *http.Request) bool
		down      bool
		args      []string
		want      string
	}{
		{name: "provider down", down: true, want: "connection refused"},
		{name: "HTTP 500", intercept: tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "internal error", 500)
		}), want: "HTTP 500"},
		{name: "garbage JSON", intercept: tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":`)
		}), want: "not a JSON token response"},
		{name: "HTML error page", intercept: tokenEndpoint(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			io.WriteString(w, "<html>bad gateway</html>")
		}), want: "HTTP 502"},
		{name: "slow response", intercept: tokenEndpoint(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		}), args: []string{"--http-timeout", "700ms"}, want: "no answer within 700ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			en := e.login()
			other := e.addOther()
			e.expire()
			if tc.down {
				e.srv.Close()
			}
			e.srv.Intercept(tc.intercept)
			r := e.auth(nil, append([]string{"token", e.srv.Issuer}, tc.args...)...)
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "")
			is.True(r.took < 10*time.Second)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], tc.want))
			is.Equal(strings.Count(strings.TrimSpace(r.stderr), "\n"), 0)
			is.Equal(e.entry().RefreshToken, en.RefreshToken) // still usable later
			e.checkOther(other)
		})
	}
}

func TestCLI_LoginWithProviderDownFailsFastAndClearly(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.srv.Close()
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 1)
	is.True(r.took < 10*time.Second)
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "cannot reach "+e.srv.Issuer))
	is.True(strings.Contains(lines[0], "connection refused"))
}

func TestCLI_LoginOnABusyFixedPortFailsAtOnce(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	for _, args := range [][]string{
		{"--port", fmt.Sprint(port)},
		{"--redirect-uri", fmt.Sprintf("http://localhost:%d/callback", port)},
	} {
		r := e.auth(nil, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, args...)...)
		is.Equal(r.code, 1)
		is.True(r.took < 5*time.Second)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.Contains(lines[0], fmt.Sprintf("port %d", port)))
		is.True(strings.Contains(lines[0], "in use"))
	}
	is.Equal(e.srv.Requests("authorization_code"), 0)
}

func TestCLI_FixedPortLoginWorks(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e.login("--port", fmt.Sprint(port))
	is.Equal(e.srv.Requests("authorization_code"), 1)
}

func TestCLI_CorruptCacheIsMovedAsideWithAWarning(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	e.addOther()
	path := filepath.Join(e.cache, native.CacheFileName)
	b, err := os.ReadFile(path)
	is.NoErr(err)
	corrupt := b[:len(b)/2] // a torn write from some other tool
	is.NoErr(os.WriteFile(path, corrupt, 0o600))

	r := e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1) // a cache miss: not logged in…
	is.Equal(r.stdout, "")
	is.True(strings.Contains(r.stderr, "auth: warning: the token cache "+path+" was corrupt"))
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "not logged in to "+e.srv.Issuer))
	aside, _ := filepath.Glob(path + ".corrupt-*")
	is.Equal(len(aside), 1) // …and the old contents, other hosts included, are kept aside
	kept, err := os.ReadFile(aside[0])
	is.NoErr(err)
	is.Equal(string(kept), string(corrupt))

	// The next login starts a fresh, valid cache.
	e.login()
	is.Equal(len(e.file().Tokens), 1)
}

func TestCLI_UnwritableCacheDirIsAOneLineError(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	is.NoErr(os.WriteFile(blocker, []byte("x"), 0o600))
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--cache-dir", filepath.Join(blocker, "cache"))
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "token cache"))
	// Found before the browser opened: no code was issued or exchanged
	// (see TestCLI_LoginChecksTheCacheBeforeTheBrowserOpens).
	is.Equal(e.srv.Requests("authorization_code"), 0)
}

func TestCLI_CacheFilePermissionsAre0600In0700Dir(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	// The directory auth creates is 0700, whatever the umask.
	e.login()
	st, err := os.Stat(e.cache)
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o700))
	st, err = os.Stat(filepath.Join(e.cache, native.CacheFileName))
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))

	// A directory the user chose and made is theirs: its mode is left
	// alone (it may be shared), and the files in it are still 0600.
	e2 := newEnv(t)
	is.NoErr(os.MkdirAll(e2.cache, 0o755))
	is.NoErr(os.Chmod(e2.cache, 0o755))
	e2.login()
	st, err = os.Stat(e2.cache)
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o755))
	st, err = os.Stat(filepath.Join(e2.cache, native.CacheFileName))
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
}

// auth logout of a login whose cache entry cannot be read: the unreadable
// cache (an entry that is not an object makes the whole file unreadable)
// is moved aside with a warning that says where, so the login is gone from
// the cache and every later command starts from a clean one.
func TestCLI_LogoutRemovesAnUnreadableCacheEntry(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	path := filepath.Join(e.cache, native.CacheFileName)
	b, err := os.ReadFile(path)
	is.NoErr(err)
	var raw map[string]any
	is.NoErr(json.Unmarshal(b, &raw))
	raw["tokens"].(map[string]any)[en.Key()] = "\x1b[31mgarbage"
	bad, err := json.Marshal(raw)
	is.NoErr(err)
	is.NoErr(os.WriteFile(path, bad, 0o600))

	r := e.auth(nil, "logout", e.srv.Issuer)
	is.True(strings.Contains(r.stderr, "auth: warning: the token cache "+path+" was corrupt"))
	// What is left to log out of is nothing: said as for a repeated logout
	// (exit 0). The bytes are kept aside, as for every corrupt cache (S24).
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Already logged out of "+e.srv.Issuer))
	is.True(!strings.Contains(r.stderr, "\x1b")) // S37
	_, err = os.Stat(path)                       // nothing else was in it: no cache file is left
	is.True(os.IsNotExist(err))
	aside, _ := filepath.Glob(path + ".corrupt-*")
	is.Equal(len(aside), 1)
	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1)
	is.True(strings.Contains(strings.Join(errorLines(r.stderr), "\n"), "not logged in to "+e.srv.Issuer))
	is.True(!strings.Contains(r.stderr, "corrupt")) // the cache is clean again
}
