package main

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// gitServer serves bare repositories over git's smart HTTP protocol: `git
// http-backend` as a CGI behind a loopback server that lets in a Basic
// password the provider accepts as an access token, and answers 401
// otherwise. It remembers the passwords it was sent.
type gitServer struct {
	srv      *httptest.Server
	root     string
	mu       sync.Mutex
	accepted []string
	refused  []string
}

func startGitServer(t *testing.T, issuer string) *gitServer {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed for this test: run `make tools`")
	}
	g := &gitServer{root: t.TempDir()}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=dualauth-test"},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, password, ok := r.BasicAuth()
		if !ok || !acceptedByProvider(issuer, password) {
			if ok {
				g.mu.Lock()
				g.refused = append(g.refused, password)
				g.mu.Unlock()
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="dualauth test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		g.mu.Lock()
		g.accepted = append(g.accepted, password)
		g.mu.Unlock()
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gitServer) passwords() (accepted, refused []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.accepted...), append([]string(nil), g.refused...)
}

// gitEnv is a git setup of its own: a global config with the helper for
// this server's URL (the ready-to-paste lines of the help), no system
// config, no prompts.
func gitEnv(t *testing.T, e *env, g *gitServer) []string {
	t.Helper()
	global := filepath.Join(e.home, "gitconfig")
	extra := []string{"GIT_CONFIG_GLOBAL=" + global, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS="}
	for _, args := range [][]string{
		{"user.name", "Dualauth Test"},
		{"user.email", "test@example.invalid"},
		{"init.defaultBranch", "main"},
		{"--replace-all", "credential." + g.srv.URL + ".helper", ""},
		{"--add", "credential." + g.srv.URL + ".helper", "!" + strconv.Quote(authBin) + " git-credential " + e.srv.Issuer},
	} {
		if r := e.tool(e.home, extra, "git", append([]string{"config", "--global"}, args...)...); r.code != 0 {
			t.Fatalf("git config: %s", r.stderr)
		}
	}
	return extra
}

// seedRepo makes a bare repository with one commit on the server.
func (g *gitServer) seedRepo(t *testing.T, e *env, extra []string) string {
	t.Helper()
	bare := filepath.Join(g.root, "repo.git")
	work := t.TempDir()
	for _, c := range [][]string{
		{"init", "-q", "--bare", bare},
		{"-C", bare, "config", "http.receivepack", "true"},
		{"-C", work, "init", "-q"},
		{"-C", work, "commit", "-q", "--allow-empty", "-m", "first"},
		{"-C", work, "push", "-q", bare, "HEAD:main"},
	} {
		if r := e.tool(e.home, extra, "git", c...); r.code != 0 {
			t.Fatalf("git %v: %s", c, r.stderr)
		}
	}
	return g.srv.URL + "/repo.git"
}

// TestGitCredential_RealGitClonesAndPushesWithTheToken: git asks the helper,
// which answers the cached access token as the password; clone and push go
// through git http-backend, which sees only that token.
func TestGitCredential_RealGitClonesAndPushesWithTheToken(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	g := startGitServer(t, e.srv.Issuer)
	extra := gitEnv(t, e, g)
	url := g.seedRepo(t, e, extra)

	clone := filepath.Join(t.TempDir(), "clone")
	r := e.tool(e.home, extra, "git", "clone", "-q", url, clone)
	is.Equal(r.code, 0) // cloned
	r = e.tool(clone, extra, "git", "commit", "-q", "--allow-empty", "-m", "second")
	is.Equal(r.code, 0)
	r = e.tool(clone, extra, "git", "push", "-q", "origin", "HEAD:main")
	is.Equal(r.code, 0) // pushed
	checkNoRefreshToken(t, en, r)

	out, err := exec.Command("git", "-C", filepath.Join(g.root, "repo.git"), "log", "--format=%s", "main").Output()
	is.NoErr(err)
	is.Equal(string(out), "second\nfirst\n") // the push arrived
	accepted, refused := g.passwords()
	is.True(len(accepted) > 0)
	for _, p := range accepted {
		is.Equal(p, en.AccessToken)
	}
	is.Equal(len(refused), 0)
	is.Equal(e.srv.Requests("refresh_token"), 0) // the valid token, no refresh
}

// TestGitCredential_ARefusedTokenIsErasedAndTheNextGetRefreshes: the server
// refuses the cached token (revoked at the provider, still valid by its
// expiry); git runs erase with it; the next git command gets a refreshed
// token and succeeds.
func TestGitCredential_ARefusedTokenIsErasedAndTheNextGetRefreshes(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	first := e.login()
	g := startGitServer(t, e.srv.Issuer)
	extra := gitEnv(t, e, g)
	url := g.seedRepo(t, e, extra)
	e.revoke(first.AccessToken)

	r := e.tool(e.home, extra, "git", "ls-remote", url)
	is.True(r.code != 0) // refused
	_, refused := g.passwords()
	is.True(len(refused) > 0)
	is.Equal(refused[0], first.AccessToken)
	is.Equal(e.srv.Requests("refresh_token"), 1) // erase refreshed, once

	r = e.tool(e.home, extra, "git", "ls-remote", url)
	is.Equal(r.code, 0) // the next command gets in
	is.True(strings.Contains(r.stdout, "refs/heads/main"))
	now := e.entry()
	is.True(now.AccessToken != first.AccessToken)
	accepted, _ := g.passwords()
	is.Equal(accepted[len(accepted)-1], now.AccessToken)
	is.Equal(e.srv.Requests("refresh_token"), 1) // and no more refreshes
	checkNoRefreshToken(t, now, r)
}

// TestGitCredential_GetAnswersInGitsProtocol runs the helper as git does,
// with requests git 2.39 cannot send (capability[]=authtype arrived in git
// 2.46).
func TestGitCredential_GetAnswersInGitsProtocol(t *testing.T) {
	e := newEnv(t)
	en := e.login()
	exp := strconv.FormatInt(en.Expiry.Unix(), 10)
	for _, tc := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"password", "protocol=https\nhost=git.example.com\npath=a/b.git\n\n", nil,
			"username=oauth2\npassword=" + en.AccessToken + "\npassword_expiry_utc=" + exp + "\n"},
		{"username flag", "protocol=https\nhost=git.example.com\n\n", []string{"--username", "me"},
			"username=me\npassword=" + en.AccessToken + "\npassword_expiry_utc=" + exp + "\n"},
		{"username from the URL", "protocol=https\nhost=git.example.com\nusername=bob\n", nil,
			"username=bob\npassword=" + en.AccessToken + "\npassword_expiry_utc=" + exp + "\n"},
		{"authtype", "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com\n\n", nil,
			"capability[]=authtype\nauthtype=Bearer\ncredential=" + en.AccessToken + "\nephemeral=1\npassword_expiry_utc=" + exp + "\n"},
		{"authtype, server offers Bearer", "capability[]=authtype\nprotocol=https\nhost=git.example.com\nwwwauth[]=Basic realm=\"x\"\nwwwauth[]=Bearer realm=\"x\"\n\n", nil,
			"capability[]=authtype\nauthtype=Bearer\ncredential=" + en.AccessToken + "\nephemeral=1\npassword_expiry_utc=" + exp + "\n"},
		{"authtype, server offers Basic only", "capability[]=authtype\nprotocol=https\nhost=git.example.com\nwwwauth[]=Basic realm=\"x\"\n\n", nil,
			"username=oauth2\npassword=" + en.AccessToken + "\npassword_expiry_utc=" + exp + "\n"},
		{"http on loopback", "protocol=http\nhost=127.0.0.1:8080\n", nil,
			"username=oauth2\npassword=" + en.AccessToken + "\npassword_expiry_utc=" + exp + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			args := append([]string{"git-credential", e.srv.Issuer}, tc.args...)
			r := e.authIn(tc.in, nil, append(args, "get")...)
			is.Equal(r.code, 0)
			is.Equal(r.stderr, "")
			is.Equal(r.stdout, tc.want)
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"http elsewhere", "protocol=http\nhost=git.example.com\n\n"},
		{"no protocol", "host=git.example.com\n\n"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			is := is.New(t)
			r := e.authIn(tc.in, nil, "git-credential", e.srv.Issuer, "get")
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "") // no token
			is.True(strings.Contains(r.stderr, "https remotes only"))
		})
	}
	t.Run("store does nothing", func(t *testing.T) {
		is := is.New(t)
		before, _ := os.ReadFile(filepath.Join(e.cache, "token-cache.json"))
		r := e.authIn("protocol=https\nhost=git.example.com\nusername=oauth2\npassword=other\n\n", nil, "git-credential", e.srv.Issuer, "store")
		is.Equal(r.code, 0)
		is.Equal(r.stdout, "")
		after, _ := os.ReadFile(filepath.Join(e.cache, "token-cache.json"))
		is.Equal(string(after), string(before))
	})
	t.Run("erase of another token does nothing", func(t *testing.T) {
		is := is.New(t)
		r := e.authIn("protocol=https\nhost=git.example.com\nusername=oauth2\npassword=not-the-cached-one\n\n", nil, "git-credential", e.srv.Issuer, "erase")
		is.Equal(r.code, 0)
		is.Equal(r.stdout, "")
		is.Equal(e.srv.Requests("refresh_token"), 0)
	})
	t.Run("not logged in", func(t *testing.T) {
		is := is.New(t)
		r := e.authIn("protocol=https\nhost=git.example.com\n\n", nil, "git-credential", "https://never.example.com", "get")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.Equal(len(errorLines(r.stderr)), 1)
		is.True(strings.Contains(r.stderr, "run `auth login https://never.example.com"))
	})
	t.Run("usage", func(t *testing.T) {
		is := is.New(t)
		r := e.authIn("", nil, "git-credential", e.srv.Issuer, "fill")
		is.Equal(r.code, 2)
		is.True(strings.Contains(r.stderr, "get, store or erase"))
	})
}
