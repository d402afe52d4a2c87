package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// Helpers of the tests of the commands that hand tokens to other tools
// (token -o exec-credential, git-credential, exec, api).

// acceptedByProvider asks the provider's userinfo endpoint whether token is
// a live access token: how the test servers (API server, git server) check
// what they are sent, as a real resource server would.
func acceptedByProvider(issuer, token string) bool {
	req, err := http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// revoke revokes an access token at the provider (RFC 7009): it stays in
// auth's cache, valid by its expiry, but servers refuse it from now on.
func (e *env) revoke(token string) {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.Issuer+"/revoke", url.Values{"token": {token}, "client_id": {clientID}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || acceptedByProvider(e.srv.Issuer, token) {
		e.t.Fatalf("revoking the access token failed (HTTP %d)", resp.StatusCode)
	}
}

// authIn runs auth with stdin.
func (e *env) authIn(stdin string, extra []string, args ...string) result {
	e.t.Helper()
	cmd := e.command(extra, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return e.runCmd(cmd)
}

// tool runs another program (kubectl, git) in this test's environment.
func (e *env) tool(dir string, extra []string, name string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = e.environ(extra...)
	cmd.WaitDelay = 5 * time.Second
	return e.runCmd(cmd)
}

func (e *env) runCmd(cmd *exec.Cmd) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%v: %v", cmd.Args, err)
	}
	e.record(r)
	return r
}

// setExpiry moves the cached token's expiry to now+left, as if time had
// passed since a login that got a token of life lifetime.
func (e *env) setExpiry(left, life time.Duration) {
	e.edit(func(c *core.CacheFile) {
		k := core.Key(e.srv.Issuer, clientID)
		en := c.Tokens[k]
		en.Expiry = time.Now().Add(left)
		en.ObtainedAt = en.Expiry.Add(-life)
		c.Tokens[k] = en
	})
}

// checkNoRefreshToken: the refresh token appears on no output.
func checkNoRefreshToken(t *testing.T, en core.Entry, rs ...result) {
	t.Helper()
	is := is.NewRelaxed(t)
	for _, r := range rs {
		is.True(!strings.Contains(r.stdout, en.RefreshToken)) // the refresh token on stdout
		is.True(!strings.Contains(r.stderr, en.RefreshToken)) // the refresh token on stderr
	}
}

// TestHelp_ShowsAReadyToPasteSetupForKubectlGitExecAndAPI: auth --help and
// each command's --help.
func TestHelp_ShowsAReadyToPasteSetupForKubectlGitExecAndAPI(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"apiVersion: client.authentication.k8s.io/v1", "args: [token, work, -o, exec-credential]",
			"credential.https://git.example.com.helper '!auth git-credential work'", "auth exec work -- CMD", "auth api work /"}},
		{[]string{"token", "--help"}, []string{"-o exec-credential", "interactiveMode: Never", "KUBERNETES_EXEC_INFO", "--min-ttl", "bound to a DPoP key", "--dpop never"}},
		{[]string{"git-credential", "--help"}, []string{"git config --global --add credential.https://git.example.com.helper '!auth git-credential work'", "--username", "--min-ttl", "bound to a DPoP key", "--dpop never"}},
		{[]string{"exec", "--help"}, []string{"DUALAUTH_TOKEN", "DATABRICKS_TOKEN", "auth exec work -- ", "--min-ttl", "bound to a DPoP key", "--dpop never"}},
		{[]string{"env", "--help"}, []string{"DUALAUTH_TOKEN", "bound to a DPoP key", "--dpop never"}},
		{[]string{"api", "--help"}, []string{"auth api work /api/2.0/clusters/list", "-X, --method", "-d, --data", "-H, --header", "--min-ttl"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...)
			is.Equal(r.code, 0)
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("missing %q", w)
				}
			}
		})
	}
}
