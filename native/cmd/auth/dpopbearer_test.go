package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// The outputs for tools that send bearer tokens only — kubectl's exec
// credential, git's credential helper, auth env and auth exec — refuse a
// DPoP-bound login with one line naming the tool and the way out, exit 1
// and print nothing on stdout, whether the token is valid or expired. They
// stop at the cache read: while the login's lock is held by someone else
// and its token has expired, they answer at once, and the server sees no
// request. auth token itself still prints the token as DPoP. Real git
// shows the line and goes on to its next helper.
func TestCLI_BearerOnlyOutputsRefuseADPoPBoundLogin(t *testing.T) {
	is := is.New(t)
	w := newDPoPWorld(t)
	if res := w.login(); res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	e := w.apiEntry()
	is.Equal(e.TokenType, "DPoP")

	tools := []struct {
		tool  string
		args  []string
		stdin string
	}{
		{"kubectl can only send bearer tokens", []string{"token", w.api.URL, "-o", "exec-credential"}, ""},
		{"git can only send bearer tokens", []string{"git-credential", w.api.URL, "get"}, "protocol=https\nhost=git.example.com\n\n"},
		{"auth env can only export bearer tokens", []string{"env", w.api.URL}, ""},
		{"auth exec can only hand CMD a bearer token", []string{"exec", w.api.URL, "--", "sh", "-c", "echo ran"}, ""},
	}
	check := func(state string) {
		t.Helper()
		before := len(w.op.Requests())
		for _, tc := range tools {
			r := startAuth(t, w.environ(), tc.args...)
			r.paste(tc.stdin)
			r.stdin.Close()
			res := r.wait(10 * time.Second)
			is.Equal(res.code, 1)    // refused
			is.Equal(res.stdout, "") // no token, and for exec: CMD never ran
			lines := errorLines(res.stderr)
			if len(lines) != 1 || !strings.Contains(lines[0], "are bound to a DPoP key; "+tc.tool+": log in again with --dpop never, or call the API with `auth api` / `auth proof`") {
				t.Fatalf("%s, auth %s: want one line naming the tool, got:\n%s", state, tc.args[0], res.stderr)
			}
			is.True(!strings.Contains(res.stderr, e.AccessToken))
		}
		is.Equal(len(w.op.Requests()), before) // no request to the server
		is.Equal(w.apiEntry().AccessToken, e.AccessToken)
	}
	check("valid token")

	// Expired, with the login's lock held elsewhere: a refresh would wait
	// for the lock (and then ask the server); the refusal comes first.
	expire(t, w.deviceWorld, w.api.URL)
	c := &native.FileCache{Dir: filepath.Join(w.home, "cache")}
	expired := w.apiEntry()
	unlock, err := c.Lock(t.Context(), expired.Key())
	is.NoErr(err)
	check("expired token, lock held")
	unlock()

	// Real git: our line on its stderr, then the next helper answers.
	git := exec.Command("git", "-c", "credential.helper=!"+authBin+" git-credential "+w.api.URL,
		"-c", "credential.helper=!f() { echo username=u; echo password=from-the-next-helper; }; f", "credential", "fill")
	git.Env = w.environ("GIT_TERMINAL_PROMPT=0")
	git.Stdin = strings.NewReader("protocol=https\nhost=git.example.com\n\n")
	var gerr strings.Builder
	git.Stderr = &gerr
	out, err := git.Output()
	is.NoErr(err)
	is.True(strings.Contains(string(out), "password=from-the-next-helper\n"))
	is.True(strings.Contains(gerr.String(), "git can only send bearer tokens"))

	// auth token is not a bearer-only output: it says what the token is.
	tok := w.auth("token", w.api.URL)
	is.Equal(tok.code, 0)
	is.True(strings.Contains(tok.stdout, `"token_type": "DPoP"`))
}
