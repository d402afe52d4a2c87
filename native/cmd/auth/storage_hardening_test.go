package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/hostile"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// onTmpfs puts the env's cache on a fresh tmpfs of size bytes and returns
// the mount point (where the disk is filled).
func (e *env) onTmpfs(size int64) string {
	mnt := hostile.Tmpfs(e.t, size)
	e.cache = filepath.Join(mnt, "cache")
	return mnt
}

// holdRefresh makes the provider's token endpoint wait, on a refresh, until
// the returned proceed is called; arrived is closed when the request is in
// (the refresh token is about to be spent). The request then goes to the
// real provider, which rotates the token.
func (e *env) holdRefresh() (arrived <-chan struct{}, proceed func()) {
	in, release := make(chan struct{}), make(chan struct{})
	var once, rel sync.Once
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		once.Do(func() { close(in) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	proceed = func() { rel.Do(func() { close(release) }) }
	e.t.Cleanup(proceed)
	return in, proceed
}

// start runs auth in the background; wait returns its result.
func (e *env) start(args ...string) (wait func() result) {
	e.t.Helper()
	cmd := e.command(nil, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	begun := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	return func() result {
		err := cmd.Wait()
		timer.Stop()
		r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(begun)}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			e.t.Fatalf("auth %v: %v", args, err)
		}
		e.record(r)
		return r
	}
}

func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestCLI_ALoginSurvivesADiskThatFillsDuringARefresh (S38): the disk
// fills while the rotating provider answers the refresh; the space
// reserved before the request takes the rotated token, and the next
// refresh works (without it: ENOSPC, the rotated token dropped, and the
// next call gets invalid_grant).
func TestCLI_ALoginSurvivesADiskThatFillsDuringARefresh(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	mnt := e.onTmpfs(1 << 20)
	first := e.login()
	e.expire()
	arrived, proceed := e.holdRefresh()
	wait := e.start("token", e.srv.Issuer, "-o", "text")
	waitFor(t, "the refresh request", arrived)
	filler := hostile.Fill(t, mnt)
	proceed()
	r := wait()
	is.Equal(r.code, 0)
	is.Equal(r.stderr, "")
	now := e.entry()
	is.Equal(r.stdout, now.AccessToken+"\n")
	is.True(now.RefreshToken != first.RefreshToken) // the rotated token is saved

	is.NoErr(os.Remove(filler))
	e.srv.Intercept(nil)
	e.expire()
	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0) // no invalid_grant: the login survived
	is.Equal(e.srv.Requests("refresh_token"), 2)
}

// TestCLI_AFullDiskStopsARefreshBeforeItSpendsTheRefreshToken (S38): with
// no room for the refreshed entry, auth says so and sends nothing; once
// there is room the same login refreshes.
func TestCLI_AFullDiskStopsARefreshBeforeItSpendsTheRefreshToken(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	mnt := e.onTmpfs(1 << 20)
	first := e.login()
	e.expire()
	filler := hostile.Fill(t, mnt)
	r := e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "the refresh token was not used"))
	is.True(strings.Contains(lines[0], "no space left on device"))
	is.Equal(e.srv.Requests("refresh_token"), 0)
	is.Equal(e.entry().RefreshToken, first.RefreshToken)
	left, _ := filepath.Glob(filepath.Join(e.cache, "*.reserve-*"))
	is.Equal(len(left), 0)

	is.NoErr(os.Remove(filler))
	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 1)
}

// TestCLI_ASaveThatStillFailsPrintsTheTokenWarnsAndKeepsTheLogin (S38):
// the cache grew past the reservation (another login was saved) and the
// disk is full when the rotated token arrives: the fresh access token is
// printed, a warning names the rescue file that holds the login, the next
// call finds it there even with the disk still full, and once there is room
// it is merged back and the login goes on refreshing.
func TestCLI_ASaveThatStillFailsPrintsTheTokenWarnsAndKeepsTheLogin(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	mnt := e.onTmpfs(2 << 20)
	first := e.login()
	e.expire()
	arrived, proceed := e.holdRefresh()
	wait := e.start("token", e.srv.Issuer, "-o", "text")
	waitFor(t, "the refresh request", arrived)
	big := core.Entry{Host: "https://big.example", ClientID: "x", AccessToken: strings.Repeat("b", 300<<10),
		Expiry: time.Now().Add(time.Hour), Metadata: core.Metadata{Issuer: "https://big.example", TokenEndpoint: "https://big.example/token"}}
	e.edit(func(c *core.CacheFile) { c.Tokens[big.Key()] = big })
	filler := hostile.Fill(t, mnt)
	proceed()
	r := wait()
	is.Equal(r.code, 0)
	rescue := (&native.FileCache{Dir: e.cache}).RescuePath(core.Key(e.srv.Issuer, clientID))
	is.True(strings.Contains(r.stderr, "auth: warning: could not write the token cache"))
	is.True(strings.Contains(r.stderr, "no space left on device"))
	is.True(strings.Contains(r.stderr, "the login is kept in "+rescue))
	is.Equal(len(errorLines(r.stderr)), 0)
	fresh := strings.TrimSpace(r.stdout)
	is.True(fresh != "" && fresh != first.AccessToken)
	is.Equal(e.entry().RefreshToken, first.RefreshToken) // the cache file could not take it…
	b, err := os.ReadFile(rescue)                        // …the rescue file did
	is.NoErr(err)
	f, err := core.DecodeCacheFile(b)
	is.NoErr(err)
	kept := f.Tokens[core.Key(e.srv.Issuer, clientID)]
	is.True(kept.RefreshToken != "" && kept.RefreshToken != first.RefreshToken)
	e.mu.Lock()
	e.secrets = append(e.secrets, fresh, kept.RefreshToken)
	e.mu.Unlock()

	// Disk still full: the next call finds the rescued token.
	e.srv.Intercept(nil)
	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, fresh+"\n")
	is.Equal(e.srv.Requests("refresh_token"), 1)

	// Room again: merged back, and the rotated token refreshes (a spent
	// one would be invalid_grant).
	is.NoErr(os.Remove(filler))
	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, fresh+"\n")
	_, err = os.Stat(rescue)
	is.True(os.IsNotExist(err))
	is.Equal(e.entry().AccessToken, fresh)
	r = e.auth(nil, "token", e.srv.Issuer, "--force-refresh")
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 2)
	is.True(e.entry().RefreshToken != kept.RefreshToken) // rotated again, in the cache file
	e.checkOther(big)
}

// TestCLI_ASlowRefreshOfOneHostDoesNotHoldUpAnother (S39): while host A's
// token endpoint stalls in the middle of a refresh, host B refreshes and
// answers well within a short --lock-timeout; A then finishes too.
func TestCLI_ASlowRefreshOfOneHostDoesNotHoldUpAnother(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	a, err := hostile.Start()
	is.NoErr(err)
	defer a.Close()
	r := e.auth(nil, "login", a.Issuer, "--client-id", "slow-cli")
	is.Equal(r.code, 0)
	is.Equal(a.Requests("authorization_code"), 1)
	e.login() // host B: the zitadel provider
	e.edit(func(c *core.CacheFile) {
		for k, en := range c.Tokens {
			en.Expiry = time.Now().Add(-time.Minute)
			c.Tokens[k] = en
		}
	})

	hold := make(chan struct{})
	a.SetMode(hostile.Mode{Hold: hold})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	defer release()
	waitA := e.start("token", a.Issuer, "-o", "text")
	deadline := time.Now().Add(20 * time.Second)
	for a.Requests("refresh_token") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	is.Equal(a.Requests("refresh_token"), 1) // A holds its lock, waiting on its server

	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text", "--lock-timeout", "2s")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.entry().AccessToken+"\n")
	is.Equal(e.srv.Requests("refresh_token"), 1)
	is.True(r.took < 2*time.Second)

	release()
	rA := waitA()
	is.Equal(rA.code, 0)
	is.True(a.ValidAccessToken(strings.TrimSpace(rA.stdout)))
}

// browserMarker is a BROWSER command that leaves a file behind when run,
// then completes the login as testidp -login does.
func browserMarker(t *testing.T) (browser, marker string) {
	dir := t.TempDir()
	marker = filepath.Join(dir, "browser-ran")
	script := filepath.Join(dir, "browser.sh")
	body := fmt.Sprintf("#!/bin/sh\ntouch %q\nexec %q -login \"$1\"\n", marker, testidpBin)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, marker
}

// TestCLI_LoginChecksTheCacheBeforeTheBrowserOpens (item 5 of issue 11):
// a cache that cannot take the login — a file in its path, a read-only
// directory, a full disk, a file written by a newer dualauth — fails
// `auth login` before the browser opens or a URL is shown, with one line
// naming the problem; no code is ever issued.
func TestCLI_LoginChecksTheCacheBeforeTheBrowserOpens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env)
		want  string
	}{
		{"a file in its path", func(e *env) {
			blocker := filepath.Join(e.home, "not-a-dir")
			os.WriteFile(blocker, []byte("x"), 0o600)
			e.cache = filepath.Join(blocker, "cache")
		}, "not a directory"},
		{"a read-only directory", func(e *env) {
			mnt := e.onTmpfs(1 << 20)
			os.MkdirAll(e.cache, 0o700)
			hostile.ReadOnly(e.t, mnt)
		}, "read-only file system"},
		{"a full disk", func(e *env) {
			mnt := e.onTmpfs(1 << 20)
			os.MkdirAll(e.cache, 0o700)
			hostile.Fill(e.t, mnt)
		}, "no space left on device"},
		{"a newer cache file", func(e *env) {
			os.MkdirAll(e.cache, 0o700)
			os.WriteFile(filepath.Join(e.cache, native.CacheFileName), []byte(`{"version":99,"tokens":{}}`), 0o600)
		}, "written by a newer dualauth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, extra := range [][]string{nil, {"--no-browser"}} {
				is := is.New(t)
				e := newEnv(t)
				tc.setup(e)
				browser, marker := browserMarker(t)
				args := append([]string{"login", e.srv.Issuer, "--client-id", clientID, "--browser", browser, "--timeout", "5s"}, extra...)
				r := e.auth(nil, args...)
				is.Equal(r.code, 1)
				is.Equal(r.stdout, "")
				lines := errorLines(r.stderr)
				is.Equal(len(lines), 1)
				is.True(strings.Contains(lines[0], "cannot log in"))
				is.True(strings.Contains(lines[0], tc.want))
				_, err := os.Stat(marker)
				is.True(os.IsNotExist(err))                    // the browser never ran…
				is.True(!strings.Contains(r.stderr, "/auth?")) // …and no URL was shown
				is.True(!strings.Contains(r.stderr, "Open this URL") && !strings.Contains(r.stderr, "Opening"))
				is.True(r.took < 5*time.Second)
				is.Equal(e.srv.Requests("authorization_code"), 0)
			}
		})
	}
}
