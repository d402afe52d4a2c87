//go:build keyring

package keyringtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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

// The binaries under test, built once, static as released.
var authBin, testidpBin string

// sessionBus is the bus of scripts/test-e2e-keyring.sh, where gnome-keyring
// serves org.freedesktop.secrets.
var sessionBus string

const clientID = "dualauth-cli"

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the provider's request log
	sessionBus = os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if sessionBus == "" {
		fmt.Fprintln(os.Stderr, "keyringtest: FAIL: no D-Bus session bus. These tests need a real Secret Service: run scripts/test-e2e-keyring.sh")
		os.Exit(1)
	}
	for _, tool := range []string{"dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "keyringtest: FAIL: %s is missing: run scripts/ensure-tools.sh\n", tool)
			os.Exit(1)
		}
	}
	if !hasOwner(sessionBus, "org.freedesktop.secrets") {
		fmt.Fprintln(os.Stderr, "keyringtest: FAIL: nobody serves org.freedesktop.secrets on the session bus: run scripts/test-e2e-keyring.sh")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "dualauth-keyring-test-")
	if err != nil {
		panic(err)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	authBin, testidpBin = filepath.Join(dir, "auth"), filepath.Join(dir, "testidp")
	for _, b := range [][2]string{{authBin, "./native/cmd/auth"}, {testidpBin, "./internal/testidp/cmd/testidp"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", b[0], b[1])
		cmd.Dir = root
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

// hasOwner asks bus whether name has an owner.
func hasOwner(bus, name string) bool {
	cmd := exec.Command("dbus-send", "--session", "--dest=org.freedesktop.DBus", "--type=method_call", "--print-reply",
		"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:"+name)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=" + bus}
	out, err := cmd.Output()
	return err == nil && strings.Contains(string(out), "boolean true")
}

// world is one test's provider, HOME and cache, and the bus auth talks to
// ("" for none).
type world struct {
	t     *testing.T
	srv   *testidp.Server
	home  string
	cache string
	bus   string

	mu      sync.Mutex
	secrets []string
	stderrs []string
}

func newWorld(t *testing.T, bus string, accessTTL time.Duration) *world {
	t.Helper()
	srv, err := testidp.Start(testidp.Options{
		Clients:   []testidp.Client{{ID: clientID, RedirectURIs: []string{"http://127.0.0.1/callback"}}},
		AccessTTL: accessTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, home: t.TempDir(), bus: bus}
	w.cache = filepath.Join(w.home, "cache")
	if err := os.Mkdir(filepath.Join(w.home, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		if bus == sessionBus {
			w.secretTool("clear") // leave the shared keyring as found, even after a failure
		}
		w.checkNoSecretsOnStderr()
	})
	return w
}

func (w *world) key() string { return core.Key(w.srv.Issuer, clientID) }

func (w *world) environ(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.home,
		"XDG_RUNTIME_DIR=" + filepath.Join(w.home, "run"),
		"DUALAUTH_CACHE_DIR=" + w.cache,
		"BROWSER=" + testidpBin + " -login",
	}
	if w.bus != "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS="+w.bus)
	}
	return append(env, extra...)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// auth runs the binary to completion (killed after a minute: a hang is a
// failure, never a stuck test).
func (w *world) auth(extra []string, args ...string) result {
	w.t.Helper()
	cmd := exec.Command(authBin, args...)
	cmd.Env = w.environ(extra...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("auth %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		w.t.Errorf("auth panicked:\n%s", r.stderr)
	}
	w.mu.Lock()
	w.stderrs = append(w.stderrs, r.stderr)
	w.mu.Unlock()
	return r
}

func (w *world) login(extra ...string) result {
	w.t.Helper()
	return w.auth(nil, append([]string{"login", w.srv.Issuer, "--client-id", clientID}, extra...)...)
}

func (w *world) secret(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s != "" && !slices.Contains(w.secrets, s) {
		w.secrets = append(w.secrets, s)
	}
}

func (w *world) checkNoSecretsOnStderr() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.stderrs {
		for _, sec := range w.secrets {
			if strings.Contains(s, sec) {
				w.t.Errorf("a token appears on stderr: %q", s)
			}
		}
	}
}

// secretTool runs libsecret's CLI on this login's item: an independent
// look at the keyring. It returns the output and whether it succeeded.
func (w *world) secretTool(verb string) (string, bool) {
	cmd := exec.Command("secret-tool", verb, "service", native.DefaultKeyringService, "username", w.key())
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=" + w.bus, "HOME=" + w.home}
	out, err := cmd.Output()
	return string(out), err == nil
}

// keyringItem is the refresh token in the keyring, "" when there is none.
func (w *world) keyringItem() string {
	w.t.Helper()
	v, ok := w.secretTool("lookup")
	if !ok {
		return ""
	}
	w.secret(v)
	return v
}

func (w *world) fileRaw() string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.cache, native.CacheFileName))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// entry is this login's entry in the cache file; ok false when absent.
func (w *world) entry() (core.Entry, bool) {
	w.t.Helper()
	f, err := core.DecodeCacheFile([]byte(w.fileRaw()))
	if err != nil {
		w.t.Fatalf("cache file invalid: %v", err)
	}
	e, ok := f.Tokens[w.key()]
	w.secret(e.AccessToken)
	w.secret(e.RefreshToken)
	return e, ok
}

// postRefresh sends a refresh request straight to the provider and
// returns the OAuth error code ("" on success).
func (w *world) postRefresh(rt string) string {
	w.t.Helper()
	resp, err := http.PostForm(w.srv.Issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}})
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	return e.Error
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

func TestSecretService_LoginRefreshLogoutKeepTheRefreshTokenInTheKeyringOnly(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, sessionBus, 2*time.Second) // valid for half its life: 1 s
	r := w.login("--storage", "keyring")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "; refresh token in the OS keyring (Secret Service)"))
	rt := w.keyringItem()
	is.True(rt != "")
	raw := w.fileRaw()
	is.True(!strings.Contains(raw, rt)) // grep the file: not there
	e, ok := w.entry()
	is.True(ok)
	is.Equal(e.RefreshToken, "")
	is.Equal(e.RefreshTokenIn, "keyring")

	// The valid-token path never asks the keyring: it works with the bus gone.
	r = w.auth([]string{"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus"}, "token", w.srv.Issuer, "-o", "text", "--storage", "keyring")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.AccessToken+"\n")
	is.Equal(r.stderr, "")

	// Expired: the refresh reads the keyring under the lock and stores the
	// rotated token there.
	time.Sleep(1200 * time.Millisecond)
	r = w.auth(nil, "token", w.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(w.srv.Requests("refresh_token"), 1)
	e2, _ := w.entry()
	is.Equal(r.stdout, e2.AccessToken+"\n")
	is.True(e2.AccessToken != e.AccessToken)
	rt2 := w.keyringItem()
	is.True(rt2 != "" && rt2 != rt)
	is.True(!strings.Contains(w.fileRaw(), rt2))
	is.Equal(w.postRefresh(rt), "invalid_grant") // the old one is spent: rotation happened

	// Logout removes both parts and revokes the keyring's token.
	r = w.auth(nil, "logout", w.srv.Issuer)
	is.Equal(r.code, 0)
	is.Equal(w.keyringItem(), "")
	_, ok = w.entry()
	is.True(!ok)
	is.Equal(w.postRefresh(rt2), "invalid_grant")
}

func TestSecretService_AutoUsesTheKeyringWhenItAnswers(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, sessionBus, 0)
	r := w.login()
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stderr, "keyring unavailable"))
	is.True(strings.Contains(r.stderr, "; refresh token in the OS keyring (Secret Service)"))
	rt := w.keyringItem()
	is.True(rt != "")
	is.True(!strings.Contains(w.fileRaw(), rt))
}

func TestSecretService_StorageChangesMoveTheTokenOnTheNextRefresh(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, sessionBus, 0)
	r := w.login("--storage", "file")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "; refresh token in "+filepath.Join(w.cache, native.CacheFileName)))
	e, _ := w.entry()
	is.True(e.RefreshToken != "")
	is.Equal(w.keyringItem(), "")

	r = w.auth(nil, "token", w.srv.Issuer, "--force-refresh", "--storage", "keyring")
	is.Equal(r.code, 0)
	rt := w.keyringItem()
	is.True(rt != "" && rt != e.RefreshToken)
	is.True(!strings.Contains(w.fileRaw(), rt))

	r = w.auth([]string{"DUALAUTH_STORAGE=file"}, "token", w.srv.Issuer, "--force-refresh")
	is.Equal(r.code, 0)
	e, _ = w.entry()
	is.True(e.RefreshToken != "" && e.RefreshToken != rt)
	is.Equal(e.RefreshTokenIn, "")
	is.Equal(w.keyringItem(), "")
	is.Equal(w.postRefresh(e.RefreshToken), "") // the moved token is the live one
}

// TestSecretService_ParallelTokenCallsOnAnExpiredTokenRefreshOnce: the
// keyring is read under the same cross-process lock (S20).
func TestSecretService_ParallelTokenCallsOnAnExpiredTokenRefreshOnce(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, sessionBus, 2*time.Second)
	is.Equal(w.login("--storage", "keyring").code, 0)
	time.Sleep(1200 * time.Millisecond)
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.auth(nil, "token", w.srv.Issuer, "-o", "text")
		}()
	}
	wg.Wait()
	is.Equal(w.srv.Requests("refresh_token"), 1)
	e, _ := w.entry()
	for _, r := range results {
		is.Equal(r.code, 0)
		is.Equal(r.stdout, e.AccessToken+"\n")
	}
	rt := w.keyringItem()
	is.True(rt != "")
	is.Equal(w.postRefresh(rt), "") // the keyring holds the live, rotated token
}

// privateBus starts a dbus-daemon of its own, with the given activatable
// services (name → Exec line), and stops it by PID at the end.
func privateBus(t *testing.T, services map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kb") // short: a socket path has ≤ 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	svcDir := ""
	if len(services) > 0 {
		svcDir = "<servicedir>" + filepath.Join(dir, "services") + "</servicedir>"
		os.Mkdir(filepath.Join(dir, "services"), 0o700)
		for name, execLine := range services {
			body := "[D-BUS Service]\nName=" + name + "\nExec=" + execLine + "\n"
			if err := os.WriteFile(filepath.Join(dir, "services", name+".service"), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	sock := filepath.Join(dir, "bus")
	config := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=` + sock + `</listen>
  ` + svcDir + `
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "unix:path=" + sock
	for deadline := time.Now().Add(5 * time.Second); !hasOwner(addr, "org.freedesktop.DBus"); {
		if time.Now().After(deadline) {
			t.Fatal("the private bus did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// privateKeyring starts gnome-keyring-daemon on bus, unlocked with a
// password on stdin, in a temporary HOME; it is stopped by PID at the end.
func privateKeyring(t *testing.T, bus string) {
	t.Helper()
	home, run := t.TempDir(), t.TempDir()
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_RUNTIME_DIR=" + run, "DBUS_SESSION_BUS_ADDRESS=" + bus}
	cmd.Stdin = strings.NewReader("test-password")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !hasOwner(bus, "org.freedesktop.secrets"); {
		if time.Now().After(deadline) {
			t.Fatal("gnome-keyring-daemon did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockKeyring locks the login collection, as a screen lock would.
func lockKeyring(t *testing.T, bus string) {
	t.Helper()
	cmd := exec.Command("dbus-send", "--session", "--dest=org.freedesktop.secrets", "--type=method_call", "--print-reply",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock", "array:objpath:/org/freedesktop/secrets/collection/login")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=" + bus}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/org/freedesktop/secrets/collection/login") {
		t.Fatalf("locking the keyring: %v: %s", err, out)
	}
}

// hangingService is a Secret Service that D-Bus starts but that never
// answers; its PID lands in a file so the test can kill it.
func hangingService(t *testing.T) (execLine string) {
	t.Helper()
	dir := t.TempDir()
	script, pidfile := filepath.Join(dir, "hang.sh"), filepath.Join(dir, "pid")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $$ > "+pidfile+"\nexec sleep 300\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, err := os.ReadFile(pidfile)
			var pid int
			if err == nil {
				if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGKILL)
					return
				}
			}
		}
		t.Error("the hanging service was never started")
	})
	return "/bin/sh " + script
}

// TestSecretService_FailureModesAreBoundedAndClear: each broken keyring
// makes `--storage keyring` fail before the browser with a message naming
// the keyring and the fix, and `auto` log in with the token in the file and
// one notice saying why.
func TestSecretService_FailureModesAreBoundedAndClear(t *testing.T) {
	const unlock = "unlock the keyring, or use --storage file"
	for _, tc := range []struct {
		name   string
		bus    func(t *testing.T) string
		extra  []string
		reason string
		fix    string
		within time.Duration
	}{
		{"NoSessionBus", func(*testing.T) string { return "" }, nil,
			"the OS keyring (Secret Service) failed: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)",
			"use --storage file, or run auth in a session with a keyring", 2 * time.Second},
		{"BusWithoutTheService", func(t *testing.T) string { return privateBus(t, nil) }, nil,
			"the OS keyring (Secret Service) failed: The name org.freedesktop.secrets was not provided by any .service files", unlock, 2 * time.Second},
		{"LockedKeyring", func(t *testing.T) string {
			bus := privateBus(t, nil)
			privateKeyring(t, bus)
			lockKeyring(t, bus)
			return bus
		}, nil, "the OS keyring (Secret Service) failed: failed to unlock correct collection", unlock, 2 * time.Second},
		{"ServiceThatHangs", func(t *testing.T) string {
			return privateBus(t, map[string]string{"org.freedesktop.secrets": hangingService(t)})
		}, []string{"--keyring-timeout", "1s"}, "the OS keyring (Secret Service) did not answer within 1s", unlock, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := newWorld(t, tc.bus(t), 0)

			r := w.login(append([]string{"--storage", "keyring"}, tc.extra...)...)
			t.Logf("--storage keyring failed in %v: %s", r.took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
			is.Equal(r.code, 1)
			is.True(r.took < tc.within)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], "auth: "+tc.reason))
			is.True(strings.HasSuffix(lines[0], "(probing it); "+tc.fix))
			is.Equal(w.srv.Requests("authorization_code"), 0) // failed before the browser: no fallback
			_, err := os.Stat(filepath.Join(w.cache, native.CacheFileName))
			is.True(os.IsNotExist(err))

			r = w.login(tc.extra...) // auto
			t.Logf("auto logged in to the file in %v", r.took.Round(time.Millisecond))
			is.Equal(r.code, 0)
			is.True(r.took < tc.within+10*time.Second)
			file := filepath.Join(w.cache, native.CacheFileName)
			notice := "auth: warning: keyring unavailable: " + tc.reason
			var notices []string
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.Contains(l, "keyring unavailable") {
					notices = append(notices, l)
				}
			}
			is.Equal(len(notices), 1)
			is.True(strings.HasPrefix(notices[0], notice))
			is.True(strings.HasSuffix(notices[0], "; tokens stored in "+file+native.StorageFileHint))
			e, ok := w.entry()
			is.True(ok)
			is.True(e.RefreshToken != "") // in the file, as the notice says
			is.True(strings.Contains(r.stderr, "; refresh token in "+file))
		})
	}
}

// TestSecretService_ValidTokenNeverAsksTheKeyring: with the refresh token
// in the keyring, `auth token` on a valid token reads the cache file only
// (the keyring is read under the lock, for a refresh): it answers the same
// with no session bus at all. How fast that path is next to file storage is
// a benchmark (scripts/bench.sh, `make bench`), not a test.
func TestSecretService_ValidTokenNeverAsksTheKeyring(t *testing.T) {
	is := is.New(t)
	kw := newWorld(t, sessionBus, 0)
	is.Equal(kw.login("--storage", "keyring").code, 0)
	want := kw.auth(nil, "token", kw.srv.Issuer, "-o", "text", "--storage", "keyring")
	is.Equal(want.code, 0)
	is.True(strings.TrimSpace(want.stdout) != "")
	for _, bus := range []string{"unix:path=" + filepath.Join(t.TempDir(), "no-bus"), ""} {
		r := kw.auth([]string{"DBUS_SESSION_BUS_ADDRESS=" + bus}, "token", kw.srv.Issuer, "-o", "text", "--storage", "keyring")
		is.Equal(r.code, 0)
		is.Equal(r.stdout, want.stdout)
		is.Equal(r.stderr, "")
	}
	is.Equal(kw.srv.Requests("refresh_token"), 0)
	// The same environment does cut the keyring off: a refresh needs it.
	r := kw.auth([]string{"DBUS_SESSION_BUS_ADDRESS="}, "token", kw.srv.Issuer, "--force-refresh", "--storage", "keyring")
	is.True(r.code != 0)
	is.True(strings.Contains(r.stderr, "keyring"))
	is.Equal(kw.srv.Requests("refresh_token"), 0)
}

// TestSecretService_DefaultDeadlinesEndAHang: without --keyring-timeout, a
// Secret Service that D-Bus starts but that never answers (which blocks a
// plain client for the 120 s activation timeout) costs an explicit keyring
// login the 3 s default and an auto login its 1 s probe.
func TestSecretService_DefaultDeadlinesEndAHang(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, privateBus(t, map[string]string{"org.freedesktop.secrets": hangingService(t)}), 0)
	r := w.login("--storage", "keyring")
	t.Logf("--storage keyring gave up after %v", r.took.Round(time.Millisecond))
	is.Equal(r.code, 1)
	is.True(r.took >= native.DefaultKeyringTimeout && r.took < native.DefaultKeyringTimeout+2*time.Second)
	is.Equal(errorLines(r.stderr), []string{"auth: the OS keyring (Secret Service) did not answer within 3s (probing it); unlock the keyring, or use --storage file"})

	start := time.Now()
	r = w.login()
	t.Logf("auto logged in to the file in %v", time.Since(start).Round(time.Millisecond))
	is.Equal(r.code, 0)
	is.True(r.took < native.DefaultProbeTimeout+2*time.Second)
	is.True(strings.Contains(r.stderr, "auth: warning: keyring unavailable: the OS keyring (Secret Service) did not answer within 1s; tokens stored in "))
}
