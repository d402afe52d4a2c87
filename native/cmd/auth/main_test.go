package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// The binaries under test, built once by TestMain, static as released.
var authBin, testidpBin, repoRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dualauth-cli-test-")
	if err != nil {
		panic(err)
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..", "..")
	authBin = filepath.Join(dir, "auth")
	testidpBin = filepath.Join(dir, "testidp")
	for _, b := range [][2]string{{authBin, "./native/cmd/auth"}, {testidpBin, "./internal/testidp/cmd/testidp"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", b[0], b[1])
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b[1], err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const clientID = "dualauth-cli"

// env is one test's world: a provider, a cache dir, a HOME.
type env struct {
	t     *testing.T
	srv   *testidp.Server
	cache string
	home  string
	// secrets seen in this test; no stderr may contain them (S25).
	mu      sync.Mutex
	secrets []string
	stderrs []string
}

func newEnv(t *testing.T, opts ...func(*testidp.Options)) *env {
	t.Helper()
	o := testidp.Options{Clients: []testidp.Client{{ID: clientID, RedirectURIs: []string{"http://127.0.0.1/callback"}}}}
	for _, f := range opts {
		f(&o)
	}
	srv, err := testidp.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, home: t.TempDir()}
	e.cache = filepath.Join(e.home, "cache")
	t.Cleanup(func() {
		srv.Close()
		e.checkNoSecretsOnStderr()
	})
	return e
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// environ is a small, explicit environment: nothing from the developer's
// own setup (a real BROWSER, a real cache) leaks in.
func (e *env) environ(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.home,
		"DUALAUTH_CACHE_DIR=" + e.cache,
		"BROWSER=" + testidpBin + " -login",
	}, extra...)
}

func (e *env) command(extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(authBin, args...)
	cmd.Env = e.environ(extra...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// auth runs the binary to completion (at most a minute).
func (e *env) auth(extra []string, args ...string) result {
	e.t.Helper()
	cmd := e.command(extra, args...)
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
		e.t.Fatalf("auth %v: %v", args, err)
	}
	e.record(r)
	return r
}

func (e *env) record(r result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stderrs = append(e.stderrs, r.stderr)
	checkNoPanic(e.t, r)
}

func checkNoPanic(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("auth panicked:\n%s", r.stderr)
	}
}

// login logs in through the BROWSER command (the testidp binary acting as
// the browser) and records the tokens as secrets.
func (e *env) login(extra ...string) core.Entry {
	e.t.Helper()
	r := e.auth(nil, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, extra...)...)
	if r.code != 0 {
		e.t.Fatalf("login failed (%d): %s", r.code, r.stderr)
	}
	return e.entry()
}

func (e *env) file() *core.CacheFile {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cache, native.CacheFileName))
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := core.DecodeCacheFile(b)
	if err != nil {
		e.t.Fatalf("cache file invalid: %v", err)
	}
	return f
}

func (e *env) entry() core.Entry {
	e.t.Helper()
	en, ok := e.file().Tokens[core.Key(e.srv.Issuer, clientID)]
	if !ok {
		e.t.Fatal("no cache entry")
	}
	e.mu.Lock()
	for _, s := range []string{en.AccessToken, en.RefreshToken, en.IDToken} {
		if s != "" && !slices.Contains(e.secrets, s) {
			e.secrets = append(e.secrets, s)
		}
	}
	e.mu.Unlock()
	return en
}

// edit changes the cache file directly (as if time had passed).
func (e *env) edit(f func(*core.CacheFile)) {
	e.t.Helper()
	c := e.file()
	f(c)
	if err := os.WriteFile(filepath.Join(e.cache, native.CacheFileName), c.Encode(), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) expire() {
	e.edit(func(c *core.CacheFile) {
		k := core.Key(e.srv.Issuer, clientID)
		en := c.Tokens[k]
		en.Expiry = time.Now().Add(-time.Minute)
		c.Tokens[k] = en
	})
}

// addOther puts another host's entry in the cache, to check it survives.
func (e *env) addOther() core.Entry {
	other := core.Entry{Host: "https://other.example", ClientID: "x", AccessToken: "other-access", RefreshToken: "other-refresh",
		Expiry: time.Now().Add(time.Hour), Metadata: core.Metadata{Issuer: "https://other.example", TokenEndpoint: "https://other.example/token"}}
	e.edit(func(c *core.CacheFile) { c.Tokens[other.Key()] = other })
	return other
}

func (e *env) checkOther(other core.Entry) {
	e.t.Helper()
	got, ok := e.file().Tokens[other.Key()]
	if !ok || got.RefreshToken != other.RefreshToken {
		e.t.Errorf("another host's entry was lost or changed")
	}
}

func (e *env) checkNoSecretsOnStderr() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.stderrs {
		for _, sec := range e.secrets {
			if strings.Contains(s, sec) {
				e.t.Errorf("a token appears on stderr: %q", s)
			}
		}
	}
}

// errorLines are the "auth: ..." lines of stderr, warnings excluded.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "auth: ") && !strings.HasPrefix(l, "auth: warning: ") {
			out = append(out, l)
		}
	}
	return out
}

type tokenJSON map[string]any

func parseToken(t *testing.T, stdout string) tokenJSON {
	t.Helper()
	var m tokenJSON
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stdout is not token JSON: %v: %q", err, stdout)
	}
	keys := []string{}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"access_token", "expiry", "token_type"}) {
		t.Fatalf("token JSON has keys %v", keys)
	}
	if _, err := time.Parse(time.RFC3339, m["expiry"].(string)); err != nil {
		t.Fatalf("expiry is not RFC 3339: %v", err)
	}
	return m
}

func TestCLI_LoginThroughTheBROWSERCommandThenTokenThenLogout(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "") // login prints nothing on stdout
	is.True(strings.Contains(r.stderr, "Logged in to "+e.srv.Issuer+"; token valid until "))
	en := e.entry()
	is.Equal(e.srv.Requests("authorization_code"), 1)

	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(r.stderr, "")
	tok := parseToken(t, r.stdout)
	is.Equal(tok["access_token"], en.AccessToken)
	is.Equal(tok["token_type"], "Bearer")
	is.True(!strings.Contains(r.stdout, en.RefreshToken))

	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, en.AccessToken+"\n")

	r = e.auth(nil, "logout", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "")
	_, still := e.file().Tokens[core.Key(e.srv.Issuer, clientID)]
	is.True(!still)

	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	is.Equal(errorLines(r.stderr), []string{"auth: not logged in to " + e.srv.Issuer + ": run `auth login " + e.srv.Issuer + "`"})
}

func TestCLI_TokenRefreshesAnExpiredTokenOnceAndRotates(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	first := e.login()
	e.expire()
	r := e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 1) // one HTTP request per refresh
	now := e.entry()
	is.Equal(r.stdout, now.AccessToken+"\n")
	is.True(now.AccessToken != first.AccessToken)
	is.True(now.RefreshToken != first.RefreshToken) // the rotated one was saved before printing
	// Valid now: no further request.
	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.stdout, now.AccessToken+"\n")
	is.Equal(e.srv.Requests("refresh_token"), 1)
}

func TestCLI_InvalidGrantAsksToLogInAgain(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	// Rotate behind the CLI's back: the cached refresh token is spent.
	en := e.entry()
	r := e.auth(nil, "token", e.srv.Issuer, "--force-refresh")
	is.Equal(r.code, 0)
	e.edit(func(c *core.CacheFile) {
		k := core.Key(e.srv.Issuer, clientID)
		x := c.Tokens[k]
		x.RefreshToken = en.RefreshToken
		x.Expiry = time.Now().Add(-time.Minute)
		c.Tokens[k] = x
	})
	r = e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "invalid_grant"))
	is.True(strings.HasSuffix(lines[0], "run `auth login "+e.srv.Issuer+" --client-id "+clientID+"`"))
	is.Equal(e.entry().RefreshToken, "") // dropped: never sent again
}

// TestCLI_SixteenParallelTokenCallsRefreshExactlyOnce: the cross-process
// lock with re-read under it (S20).
func TestCLI_SixteenParallelTokenCallsRefreshExactlyOnce(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	other := e.addOther()
	e.expire()
	const n = 16
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = e.command(nil, "token", e.srv.Issuer, "-o", "text")
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
	}
	start := time.Now()
	for _, c := range cmds {
		is.NoErr(c.Start())
	}
	for i, c := range cmds {
		err := c.Wait()
		if err != nil {
			t.Errorf("process %d: %v: %s", i, err, errs[i])
		}
		e.record(result{stderr: errs[i].String()})
	}
	t.Logf("16 parallel auth token on an expired token: %v", time.Since(start))
	is.Equal(e.srv.Requests("refresh_token"), 1)
	en := e.entry() // the cache file is valid
	for i := range n {
		is.Equal(outs[i].String(), en.AccessToken+"\n")
	}
	e.checkOther(other)
}

func TestCLI_KillDashNineOfALockHolderLetsTheNextCallProceed(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	stalled := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		once.Do(func() { close(stalled) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	defer close(release)
	holder := e.command(nil, "token", e.srv.Issuer, "--force-refresh")
	is.NoErr(holder.Start())
	select {
	case <-stalled: // it holds the lock and waits on the server
	case <-time.After(20 * time.Second):
		t.Fatal("the refresh never reached the provider")
	}
	is.NoErr(holder.Process.Signal(syscall.SIGKILL))
	holder.Wait()
	e.srv.Intercept(nil)

	r := e.auth(nil, "token", e.srv.Issuer, "--force-refresh", "--lock-timeout", "5s")
	is.Equal(r.code, 0)
	is.True(r.took < 5*time.Second)
	is.Equal(r.stdout[:1], "{")
}

func TestCLI_TokenWritesOnlyTheTokenToStdoutEvenWithWarnings(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		w.WriteHeader(503)
		return true
	})
	// A failed early refresh still hands out the valid token, with a
	// warning on stderr.
	r := e.auth(nil, "token", e.srv.Issuer, "--force-refresh")
	is.Equal(r.code, 0)
	tok := parseToken(t, r.stdout)
	is.Equal(tok["access_token"], en.AccessToken)
	is.True(strings.Contains(r.stderr, "auth: warning: could not refresh the token"))
}

func TestCLI_ExitCodesAndOneLineErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token"}, 2, "no host"},
		{[]string{"token", "--bogus"}, 2, "unknown flag"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"token", "a", "b"}, 2, "at most 1 argument"},
		{[]string{"token", e.srv.Issuer, "-o", "yaml"}, 2, "--output must be text (or table) or json or exec-credential"},
		{[]string{"token", "http://example.com"}, 2, "https"},
		{[]string{"login", e.srv.Issuer}, 2, "does not let clients register themselves (no registration_endpoint): pass --client-id"},
		{[]string{"login", e.srv.Issuer + "/nothing"}, 1, "found no way to log in to " + e.srv.Issuer + "/nothing; tried " + e.srv.Issuer + "/nothing/.well-known/openid-configuration (HTTP 404)"},
		{[]string{"login", e.srv.Issuer, "--client-id", "c", "--port", "8400", "--redirect-uri", "http://127.0.0.1:8400/cb"}, 2, "cannot be used together"},
		{[]string{"login", e.srv.Issuer, "--client-id", "c", "--auth-param", "novalue"}, 2, "KEY=VALUE"},
		{[]string{"login", e.srv.Issuer, "--client-id", "c", "--timeout", "soon"}, 2, "invalid argument"},
		{[]string{"token", "https://never.example.com"}, 1, "not logged in to https://never.example.com: run `auth login https://never.example.com`"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...)
			is.Equal(r.code, tc.code)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], tc.want))
		})
	}
}

func TestCLI_EnvironmentGivesFlagDefaults(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth([]string{"DUALAUTH_CLIENT_ID=" + clientID}, "login", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("authorization_code"), 1)
	r = e.auth([]string{"DUALAUTH_OUTPUT=text"}, "token", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.entry().AccessToken+"\n")
	r = e.auth([]string{"DUALAUTH_OUTPUT=yaml"}, "token", e.srv.Issuer)
	is.Equal(r.code, 2)
	// The same setting must not break `auth env`, whose formats are shell
	// and json: text is its shell output.
	r = e.auth([]string{"DUALAUTH_OUTPUT=text"}, "env", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "export DUALAUTH_TOKEN="))
}

func TestCLI_HelpShowsEveryFlagWithItsOwnTypeName(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "token", "--help")
	is.Equal(r.code, 0)
	// Backquotes in a flag's usage make cobra print their content as the
	// flag's value name ("--host auth --help").
	is.True(strings.Contains(r.stdout, "--host string"))
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[0], "--") {
			is.True(!strings.HasPrefix(f[1], "auth")) // a usage text leaked into the value name
		}
	}
}

func TestCLI_EveryCommandHasHelpWithExamples(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"--help"}, {"login", "--help"}, {"token", "--help"}, {"logout", "--help"},
		{"completion", "--help"}, {"completion", "bash", "--help"}, {"completion", "zsh", "--help"},
		{"completion", "fish", "--help"}, {"completion", "powershell", "--help"}, {"help", "--help"},
		{"exec", "--help"}, {"api", "--help"}, {"git-credential", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, args...)
			is.Equal(r.code, 0)
			is.True(strings.Contains(r.stdout, "Examples:"))
		})
	}
	is := is.New(t)
	r := e.auth(nil, "--version")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, versionText()+"\n") // the same line as auth version
	r = e.auth(nil, "completion", "bash")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "__start_auth"))
}

func TestCLI_LoginTimeoutIsHonoured(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--no-browser", "--timeout", "1s")
	is.Equal(r.code, 1)
	is.True(r.took < 5*time.Second)
	is.True(strings.Contains(r.stderr, "Open this URL in a browser"))
	is.True(!strings.Contains(r.stderr, "Opening a browser")) // --no-browser opens none
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "no login completed within 1s"))
}

func TestCLI_FailingBrowserCommandPrintsTheURLAndKeepsWaiting(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--browser", "false", "--timeout", "1s")
	is.Equal(r.code, 1) // nobody completed it: it waited until the timeout
	is.True(strings.Contains(r.stderr, "auth: warning: the browser command \"false\" failed"))
	is.True(strings.Contains(r.stderr, "Open this URL in a browser to log in"))
	is.True(strings.Contains(r.stderr, e.srv.Issuer+"/auth?"))
	is.True(strings.Contains(r.stderr, "no login completed within 1s"))
}

// TestCLI_BrowserCommandIsNotWaitedFor: a BROWSER command that opens the
// URL and then stays (as a browser does) must not hold up the login.
func TestCLI_BrowserCommandIsNotWaitedFor(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	dir := t.TempDir()
	script, pidfile := filepath.Join(dir, "browser.sh"), filepath.Join(dir, "pid")
	// Like a browser: completes the login, then stays open.
	is.NoErr(os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidfile+"\n\""+testidpBin+"\" -login \"$1\"\nexec sleep 60\n"), 0o755))
	t.Cleanup(func() { killPIDFile(t, pidfile) })
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--browser", script)
	is.Equal(r.code, 0)
	is.True(r.took < 20*time.Second)
	is.True(strings.Contains(r.stderr, "Logged in"))
}

// killPIDFile kills the process whose PID a helper wrote, if it still runs.
func killPIDFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// TestCLI_LoginOnATerminalShowsTheURLOnceAndASpinner runs auth under a
// pseudo-terminal (util-linux `script`), with and without NO_COLOR.
func TestCLI_LoginOnATerminalShowsTheURLOnceAndASpinner(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("`script` (util-linux/bsdutils) is needed for the terminal test")
	}
	for _, tc := range []struct {
		name    string
		noColor bool
	}{{"color", false}, {"NO_COLOR", true}} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			dir := t.TempDir()
			browser := filepath.Join(dir, "browser.sh")
			// Slow enough for the spinner to turn a few times.
			is.NoErr(os.WriteFile(browser, []byte("#!/bin/sh\nsleep 0.5\nexec \""+testidpBin+"\" -login \"$1\"\n"), 0o755))
			line := fmt.Sprintf("%q login %s --client-id %s --browser %q", authBin, e.srv.Issuer, clientID, browser)
			cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
			cmd.Env = e.environ()
			if tc.noColor {
				cmd.Env = append(cmd.Env, "NO_COLOR=1")
			}
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			is.NoErr(err)
			s := string(out)
			e.record(result{stderr: s})
			is.True(strings.Contains(s, "Opening your browser to "+e.srv.Issuer+" to log in to "+e.srv.Issuer))
			is.Equal(strings.Count(s, e.srv.Issuer+"/auth?"), 1) // the URL once, not in every spinner frame
			is.True(strings.Contains(s, "Waiting for the login in your browser"))
			is.True(strings.Contains(s, "Logged in to "+e.srv.Issuer))
			is.Equal(strings.Contains(s, "\033[36m"), !tc.noColor)
		})
	}
}

// auth token starts with no package initialisation work of its own:
// package-level maps (a map literal is built at init) would be allocated
// on every token call. GODEBUG=inittrace=1 lists each package's init
// with its allocations; main must do none.
func TestCLI_TokenPathRunsNoInitOfItsOwn(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth([]string{"GODEBUG=inittrace=1"}, "token", e.srv.Issuer)
	is.Equal(r.code, 1)                          // not logged in
	is.True(strings.Contains(r.stderr, "init ")) // the trace is there
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "init main ") && !strings.HasSuffix(l, " 0 bytes, 0 allocs") {
			t.Errorf("package main allocates at init: %s", l)
		}
	}
}
