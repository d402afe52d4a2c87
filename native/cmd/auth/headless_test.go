package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// authProc is an auth process under test whose stderr is read as it comes
// (to act on the URL or code it shows) and whose stdin the test writes
// (pasted redirects).
type authProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
	lines chan string
	mu    sync.Mutex
	err   strings.Builder
	read  chan struct{} // stderr fully read
	start time.Time
}

// startAuth starts the auth binary; the test's cleanup kills it (by PID)
// if it is still running.
func startAuth(t *testing.T, environ []string, args ...string) *authProc {
	return startCmd(t, exec.Command(authBin, args...), environ, false)
}

// startAuthIn starts the auth binary with stdin given up front: a process
// that exits before it reads stdin is not an error (os/exec ignores the
// broken pipe), where a paste to it would be.
func startAuthIn(t *testing.T, environ []string, stdin string, args ...string) *authProc {
	cmd := exec.Command(authBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return startCmd(t, cmd, environ, false)
}

// startCmd starts cmd (with a stdin pipe unless cmd.Stdin is set); its stderr is read line by line, or its stdout
// when terminal is set (`script` relays the pseudo-terminal there).
func startCmd(t *testing.T, cmd *exec.Cmd, environ []string, terminal bool) *authProc {
	t.Helper()
	r := &authProc{t: t, cmd: cmd, lines: make(chan string, 1000), read: make(chan struct{})}
	cmd.Env = environ
	cmd.WaitDelay = 5 * time.Second
	var err error
	if cmd.Stdin == nil {
		if r.stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	var errPipe io.Reader
	if terminal {
		errPipe, err = cmd.StdoutPipe()
	} else {
		cmd.Stdout = &r.out
		errPipe, err = cmd.StderrPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	r.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.read)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			r.mu.Lock()
			r.err.WriteString(line + "\n")
			r.mu.Unlock()
			select {
			case r.lines <- line:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return r
}

func (r *authProc) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err.String()
}

// waitFor returns the first stderr line (from here on) that contains s.
func (r *authProc) waitFor(s string, within time.Duration) string {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-r.lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-deadline:
			r.t.Fatalf("no %q on stderr within %v; stderr so far:\n%s", s, within, r.stderr())
		}
	}
}

// paste writes one line to auth's stdin.
func (r *authProc) paste(line string) {
	r.t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		r.t.Fatalf("writing to auth's stdin: %v", err)
	}
}

// exited reports whether the process has ended, without waiting.
func (r *authProc) exited() bool {
	select {
	case <-r.read:
		return true
	case <-time.After(50 * time.Millisecond):
		return false
	}
}

// wait waits for the process to exit (killing it after within).
func (r *authProc) wait(within time.Duration) result {
	r.t.Helper()
	timer := time.AfterFunc(within, func() { r.cmd.Process.Kill() })
	defer timer.Stop()
	<-r.read
	err := r.cmd.Wait()
	res := result{stdout: r.out.String(), stderr: r.stderr(), took: time.Since(r.start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("auth: %v", err)
	}
	checkNoPanic(r.t, res)
	return res
}

// headlessEnviron is a machine where no browser can be opened: no
// BROWSER, no DISPLAY, no WAYLAND_DISPLAY.
func headlessEnviron(home string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"DUALAUTH_CACHE_DIR=" + filepath.Join(home, "cache"),
	}, extra...)
}

// deviceWorld is a device-flow test: oidc-provider and a HOME.
type deviceWorld struct {
	t    *testing.T
	op   *deviceop.Server
	home string
}

func newDeviceWorld(t *testing.T, o deviceop.Options) *deviceWorld {
	t.Helper()
	op, err := deviceop.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		op.Close()
		if t.Failed() {
			t.Logf("device-op stderr:\n%s", op.Stderr())
		}
	})
	return &deviceWorld{t: t, op: op, home: t.TempDir()}
}

func (w *deviceWorld) environ(extra ...string) []string { return headlessEnviron(w.home, extra...) }

func (w *deviceWorld) auth(args ...string) result {
	w.t.Helper()
	return startAuth(w.t, w.environ(), args...).wait(time.Minute)
}

func (w *deviceWorld) cacheFile() *core.CacheFile {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.home, "cache", native.CacheFileName))
	if os.IsNotExist(err) {
		f, _ := core.DecodeCacheFile(nil)
		return f
	}
	if err != nil {
		w.t.Fatal(err)
	}
	f, err := core.DecodeCacheFile(b)
	if err != nil {
		w.t.Fatalf("cache file invalid: %v", err)
	}
	return f
}

func (w *deviceWorld) entry() (core.Entry, bool) {
	w.t.Helper()
	e, ok := w.cacheFile().Tokens[core.Key(w.op.Issuer, w.op.ClientID)]
	return e, ok
}

// completeURL picks the verification_uri_complete out of auth's code
// display.
func completeURL(t *testing.T, line string) string {
	t.Helper()
	u := strings.TrimSpace(line)
	if _, err := url.ParseRequestURI(u); err != nil {
		t.Fatalf("not a URL line: %q", line)
	}
	return u
}

// TestCLI_DeviceLoginApprovedThenTokenThenRefresh: the static auth binary
// against oidc-provider, which sends no interval (so the RFC's 5 s default
// is what auth waits): the code on stderr, approval on "another device",
// the same cache entry a browser login writes, `auth token` from the cache
// without a request, then a refresh of the expired token that rotates the
// refresh token. Only client_id identifies the public client.
func TestCLI_DeviceLoginApprovedThenTokenThenRefresh(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{})
	r := startAuth(t, w.environ(), "login", w.op.Issuer, "--client-id", w.op.ClientID, "--device", "--timeout", "40s")
	r.waitFor("Login flow: device authorization grant", 10*time.Second)
	line := r.waitFor("/device?user_code=", 10*time.Second)
	is.NoErr(w.op.Approve(t.Context(), completeURL(t, line)))
	res := r.wait(30 * time.Second)
	if res.code != 0 {
		t.Fatalf("device login failed (%d):\n%s", res.code, res.stderr)
	}
	t.Logf("device login with 5 s polling took %v", res.took.Round(time.Millisecond))
	is.Equal(res.stdout, "")
	is.True(strings.Contains(res.stderr, "To log in, open this URL in a browser on any device:\n\n  "+w.op.Issuer+"/device\n"))
	is.True(strings.Contains(res.stderr, "and enter the code:"))
	is.True(strings.Contains(res.stderr, "Logged in to "+w.op.Issuer+"; token valid until "))
	is.True(!strings.Contains(res.stderr, "█")) // no QR code when stderr is not a terminal
	// No interval from the server: auth waited the RFC's 5 s before its
	// first poll (approval took a fraction of that).
	is.True(res.took >= 5*time.Second)
	is.True(w.op.Count(core.DeviceGrantType) >= 1)

	en, ok := w.entry()
	is.True(ok)
	is.True(en.RefreshToken != "")
	is.Equal(en.Metadata.TokenEndpoint, w.op.Issuer+"/token")
	secrets := []string{en.AccessToken, en.RefreshToken}

	before := len(w.op.Requests())
	tok := w.auth("token", w.op.Issuer)
	is.Equal(tok.code, 0)
	is.Equal(tok.stderr, "")
	is.Equal(parseToken(t, tok.stdout)["access_token"], en.AccessToken)
	is.Equal(len(w.op.Requests()), before) // from the cache: no request

	// Expire it: the next call refreshes, once, and saves the rotation.
	f := w.cacheFile()
	x := f.Tokens[en.Key()]
	x.Expiry = time.Now().Add(-time.Minute)
	f.Tokens[en.Key()] = x
	is.NoErr(os.WriteFile(filepath.Join(w.home, "cache", native.CacheFileName), f.Encode(), 0o600))
	tok = w.auth("token", w.op.Issuer, "-o", "text")
	is.Equal(tok.code, 0)
	now, _ := w.entry()
	is.Equal(tok.stdout, now.AccessToken+"\n")
	is.True(now.AccessToken != en.AccessToken)
	is.True(now.RefreshToken != en.RefreshToken)
	is.Equal(w.op.Count("refresh_token"), 1)
	secrets = append(secrets, now.AccessToken, now.RefreshToken)

	for _, q := range w.op.Requests() {
		is.True(!q.Authorization)
		want := []string{"client_id", "grant_type", "refresh_token"}
		switch {
		case q.Path == "/device/auth":
			want = []string{"client_id", "scope"}
		case q.GrantType == core.DeviceGrantType:
			want = []string{"client_id", "device_code", "grant_type"}
		}
		is.Equal(q.Params, want) // client_id, never a secret
	}
	for _, s := range secrets {
		for _, out := range []string{res.stderr, tok.stderr} {
			is.True(!strings.Contains(out, s)) // no token on stderr (S25)
		}
	}
}

// TestCLI_DeviceLoginDeniedFailsCleanlyAndShowsAQRCodeOnATerminal: auto
// picks the device flow on a machine without a browser; under a
// pseudo-terminal the complete URL is also a QR code; the user denies on
// the confirm page; auth ends with exit 1 and one error line, saving
// nothing.
func TestCLI_DeviceLoginDeniedFailsCleanlyAndShowsAQRCodeOnATerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("`script` (util-linux/bsdutils) is needed for the terminal test")
	}
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{Interval: time.Second})
	line := fmt.Sprintf("%q login %s --client-id %s --timeout 30s", authBin, w.op.Issuer, w.op.ClientID)
	r := startCmd(t, exec.Command(scriptBin, "-qec", line, "/dev/null"), w.environ(), true)
	flow := r.waitFor("Login flow:", 10*time.Second)
	is.True(strings.Contains(flow, "Login flow: device authorization grant (auto: no graphical display"))
	complete := completeURL(t, r.waitFor("/device?user_code=", 10*time.Second))
	r.waitFor("Or scan this with your phone", 5*time.Second)
	qr := r.waitFor("█", 5*time.Second)
	is.True(len([]rune(qr)) > 20)
	r.waitFor("Waiting for the login to be approved", 5*time.Second)
	is.NoErr(w.op.Deny(t.Context(), complete))
	res := r.wait(20 * time.Second)
	is.Equal(res.code, 1)
	lines := errorLines(res.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "the login was denied"))
	is.True(strings.Contains(lines[0], "access_denied"))
	_, saved := w.entry()
	is.True(!saved)
}

// TestCLI_DeviceCodeThatExpiresFailsCleanly: nobody approves a 2 s device
// code; auth stops polling and says the code expired (exit 1).
func TestCLI_DeviceCodeThatExpiresFailsCleanly(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{Interval: time.Second, DeviceTTL: 2 * time.Second})
	res := w.auth("login", w.op.Issuer, "--client-id", w.op.ClientID, "--device", "--timeout", "30s")
	is.Equal(res.code, 1)
	is.True(res.took < 10*time.Second)
	lines := errorLines(res.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "the device code expired before the login was approved; run the login again"))
	is.True(w.op.Count(core.DeviceGrantType) >= 1) // it did poll (authorization_pending) first
	for _, q := range w.op.Requests() {
		if q.GrantType == core.DeviceGrantType && q.Status != 200 {
			is.True(q.Error == "authorization_pending" || q.Error == "expired_token")
		}
	}
	_, saved := w.entry()
	is.True(!saved)
}

// withoutBrowser drops BROWSER from an environment.
func withoutBrowser(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(s string) bool { return strings.HasPrefix(s, "BROWSER=") })
}

// TestCLI_PasteTheRedirectAfterABadPasteAndAForgedState: a real login at
// the provider whose final redirect (never loaded, as on another machine)
// is pasted into auth's stdin: first some text and a wrong port (each
// explained, asked again), then with a forged state (refused by the login machine, which
// keeps waiting, no token request), then the right one.
func TestCLI_PasteTheRedirectAfterABadPasteAndAForgedState(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := startAuth(t, withoutBrowser(e.environ()), "login", e.srv.Issuer, "--client-id", clientID, "--no-browser", "--paste", "--timeout", "30s")
	r.waitFor("Login flow: browser, with paste-the-redirect", 10*time.Second)
	authorize := strings.TrimSpace(r.waitFor(e.srv.Issuer+"/auth?", 10*time.Second))
	r.waitFor("its address bar.", 5*time.Second)
	landed, err := e.srv.Login(authorize)
	is.NoErr(err)
	is.True(landed.Query().Get("code") != "")

	r.paste("the page said it could not connect")
	r.waitFor("Not accepted: that is not a URL", 5*time.Second)

	wrongPort := *landed
	wrongPort.Host = "127.0.0.1:1"
	r.paste(wrongPort.String())
	r.waitFor("Not accepted: the pasted address goes to http://127.0.0.1:1/callback, not to the redirect URI", 5*time.Second)

	forged := *landed
	q := forged.Query()
	q.Set("state", "forged-state")
	forged.RawQuery = q.Encode()
	r.paste(forged.String())
	r.waitFor("Not accepted: This response does not belong to the login in progress", 5*time.Second)
	is.True(!r.exited()) // still waiting
	is.Equal(e.srv.Requests("authorization_code"), 0)

	r.paste(landed.String())
	res := r.wait(20 * time.Second)
	e.record(res)
	if res.code != 0 {
		t.Fatalf("paste login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "Logged in to "+e.srv.Issuer))
	is.Equal(e.srv.Requests("authorization_code"), 1)
	is.True(!strings.Contains(res.stderr, landed.Query().Get("code"))) // the pasted code is not echoed
	is.Equal(errorLines(res.stderr), []string(nil))

	tok := e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(tok.code, 0)
	is.Equal(tok.stdout, e.entry().AccessToken+"\n")
}

// TestCLI_AutoWithoutBrowserOrDeviceFlowFallsBackToPasteAndTheListenerStillWins:
// on a machine without a browser, against a server whose metadata has no
// device_authorization_endpoint, auto ends in paste-the-redirect; a
// redirect that reaches the loopback listener instead (the browser was on
// this machine after all) completes the login with nothing pasted.
func TestCLI_AutoWithoutBrowserOrDeviceFlowFallsBackToPasteAndTheListenerStillWins(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	resp, err := http.Get(e.srv.Issuer + "/.well-known/openid-configuration")
	is.NoErr(err)
	var meta map[string]any
	is.NoErr(json.NewDecoder(resp.Body).Decode(&meta))
	resp.Body.Close()
	is.True(meta["device_authorization_endpoint"] != nil) // the provider has one, until:
	delete(meta, "device_authorization_endpoint")
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/.well-known/openid-configuration" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(meta)
		return true
	})

	r := startAuth(t, headlessEnviron(e.home), "login", e.srv.Issuer, "--client-id", clientID, "--timeout", "30s")
	is.True(strings.Contains(r.waitFor("Login flow:", 10*time.Second), "device authorization grant (auto: no graphical display"))
	r.waitFor("Login flow: browser with paste-the-redirect (auto: the server offers no device authorization grant)", 10*time.Second)
	authorize := strings.TrimSpace(r.waitFor(e.srv.Issuer+"/auth?", 10*time.Second))
	landed, err := e.srv.Login(authorize)
	is.NoErr(err)
	page, err := http.Get(landed.String()) // the listener gets it first
	is.NoErr(err)
	page.Body.Close()
	is.Equal(page.StatusCode, 200)
	res := r.wait(20 * time.Second)
	e.record(res)
	is.Equal(res.code, 0)
	is.True(strings.Contains(res.stderr, "Logged in to "+e.srv.Issuer))
	is.True(strings.Count(res.stderr, "keyring unavailable") <= 1) // two flows tried, one storage notice
	e.entry()
}

func TestCLI_LoginHelpDocumentsTheFlowsAndWhenAutoPicksWhich(t *testing.T) {
	is := is.New(t)
	r := startAuth(t, headlessEnviron(t.TempDir()), "login", "--help").wait(30 * time.Second)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "auth help login-flows")) // where the reference is
	flows := startAuth(t, headlessEnviron(t.TempDir()), "help", "login-flows").wait(30 * time.Second)
	is.Equal(flows.code, 0)
	help := strings.Join(strings.Fields(r.stdout+flows.stdout), " ")
	for _, want := range []string{
		"--flow string", "--device", "--paste",
		"browser Authorization code + PKCE",
		"device The device authorization grant (RFC 8628; also --device)",
		"device_authorization_endpoint",
		"auto browser when a browser can be opened here and the loopback listener starts; else device when the server offers it; else browser with the URL printed and --paste",
		"--browser or $BROWSER is set", "on macOS and Windows", "wslview", "DISPLAY or WAYLAND_DISPLAY is set and xdg-open is installed",
		"--no-browser or --paste without --flow mean browser",
		"the one chosen is said on stderr",
		"auth login https://idp.example.com --client-id my-cli --device",
		"auth login https://idp.example.com --client-id my-cli --no-browser --paste",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("auth login --help and auth help login-flows do not say %q", want)
		}
	}
}

func TestCLI_ContradictoryFlowFlagsAreUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"--device", "--flow", "browser"},
		{"--paste", "--device"},
		{"--paste", "--flow", "device"},
		{"--flow", "carrier-pigeon"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, args...)...)
			is.Equal(r.code, 2)
			is.Equal(len(errorLines(r.stderr)), 1)
			is.Equal(e.srv.Requests("authorization_code"), 0)
		})
	}
}

// TestCLI_PasteAloneOpensNoBrowserAndPrintsTheURL: --paste is for a
// browser elsewhere, so the BROWSER command (which would complete the
// login here) is not run; the URL is printed and auth waits for a paste.
func TestCLI_PasteAloneOpensNoBrowserAndPrintsTheURL(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := startAuth(t, e.environ(), "login", e.srv.Issuer, "--client-id", clientID, "--paste", "--timeout", "1s")
	res := r.wait(20 * time.Second)
	e.record(res)
	is.Equal(res.code, 1) // nobody pasted: the timeout
	is.True(strings.Contains(res.stderr, "Login flow: browser, with paste-the-redirect\n"))
	is.True(strings.Contains(res.stderr, "Open this URL in a browser to log in to "+e.srv.Issuer))
	is.True(strings.Contains(res.stderr, "no login completed within 1s"))
	is.Equal(e.srv.Requests("authorization_code"), 0) // BROWSER was not run
}

// TestCLI_AutoFallsBackToPasteWhenTheServerRefusesTheDeviceGrant: servers
// advertise device_authorization_endpoint for all, yet enable the grant per
// client (the test provider refuses it to this client with
// unauthorized_client); auto then goes on to paste-the-redirect.
func TestCLI_AutoFallsBackToPasteWhenTheServerRefusesTheDeviceGrant(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := startAuth(t, headlessEnviron(e.home), "login", e.srv.Issuer, "--client-id", clientID, "--timeout", "30s")
	r.waitFor("Login flow: browser with paste-the-redirect (auto: the server refused the device grant for this client", 10*time.Second)
	authorize := strings.TrimSpace(r.waitFor(e.srv.Issuer+"/auth?", 10*time.Second))
	landed, err := e.srv.Login(authorize)
	is.NoErr(err)
	page, err := http.Get(landed.String())
	is.NoErr(err)
	page.Body.Close()
	res := r.wait(20 * time.Second)
	e.record(res)
	is.Equal(res.code, 0)
	is.True(strings.Contains(res.stderr, "unauthorized_client"))
	e.entry()
}
