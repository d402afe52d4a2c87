package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
			res := startAuthIn(t, w.environ(), tc.stdin, tc.args...).wait(10 * time.Second)
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

// auth describe of a DPoP login: the mode and where it came from, the
// key's thumbprint and its 0600 file — in text and JSON, with --sensitive
// too — and nothing of the private key (PEM, its base64 body, the JWK d).
func TestCLI_DescribeShowsTheDPoPModeThumbprintAndKeyFileButNeverTheKey(t *testing.T) {
	is := is.New(t)
	w := newDPoPWorld(t)
	if res := w.login("--profile", "bound", "--dpop", "always"); res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	e := w.apiEntry()
	is.True(e.DPoP != nil)
	keys, err := filepath.Glob(filepath.Join(w.home, "cache", native.DPoPKeysDir, "*.key"))
	is.NoErr(err)
	is.Equal(len(keys), 1)
	pemKey, err := os.ReadFile(keys[0])
	is.NoErr(err)
	secrets := privateKeyMaterial(t, pemKey)

	text := w.auth("describe", "bound")
	is.Equal(text.code, 0)
	is.True(regexp.MustCompile(`(?m)^DPoP +always +\(profile bound\)$`).MatchString(text.stdout))
	is.True(regexp.MustCompile(`(?m)^DPoP key +jkt ` + regexp.QuoteMeta(e.DPoP.JKT) + ` +\(the access token is bound to it\)$`).MatchString(text.stdout))
	is.True(regexp.MustCompile(`(?m)^DPoP key kept in +` + regexp.QuoteMeta(keys[0]) + ` \(0600\) `).MatchString(text.stdout))

	js := w.auth("describe", "bound", "-o", "json", "--sensitive")
	is.Equal(js.code, 0)
	var d struct {
		Settings map[string]struct{ Value, Source string }
		DPoP     *struct {
			JKT              string `json:"jkt"`
			KeptIn           string `json:"kept_in"`
			AccessTokenBound bool   `json:"access_token_bound"`
		} `json:"dpop"`
	}
	is.NoErr(json.Unmarshal([]byte(js.stdout), &d))
	is.Equal(d.Settings["dpop"].Value, "always")
	is.Equal(d.Settings["dpop"].Source, "profile bound")
	is.True(d.DPoP != nil)
	is.Equal(d.DPoP.JKT, e.DPoP.JKT)
	is.Equal(d.DPoP.KeptIn, keys[0]+" (0600)")
	is.True(d.DPoP.AccessTokenBound)

	for _, r := range []result{text, js} {
		for _, s := range secrets {
			if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
				t.Fatalf("describe shows private key material %q", s)
			}
		}
	}

	// Another login, not DPoP-bound: no key shown.
	bearer := w.auth("describe", w.op.Issuer, "--client-id", w.op.ClientID, "-o", "json")
	is.Equal(bearer.code, 0)
	is.True(!strings.Contains(bearer.stdout, `"jkt"`))
}

// privateKeyMaterial is every form of the PEM key that must not be shown:
// the PEM, each line of its base64 body, and the JWK's d (the scalar).
func privateKeyMaterial(t *testing.T, pemKey []byte) []string {
	t.Helper()
	out := []string{"PRIVATE KEY", strings.TrimSpace(string(pemKey))}
	for _, l := range strings.Split(string(pemKey), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	blk, _ := pem.Decode(pemKey)
	if blk == nil {
		t.Fatal("the key file is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatal("the DPoP key is not an EC key")
	}
	d := ek.D.FillBytes(make([]byte, 32))
	return append(out, b64(d), base64.StdEncoding.EncodeToString(d), hex.EncodeToString(d))
}
