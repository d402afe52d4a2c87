package databrickssdk_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/logger"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// workspace is the workspace-shaped name the test host answers under: it
// maps to 127.0.0.1 only inside this test's own mount namespace.
const workspace = "adb-123.4.azuredatabricks.net"

// The test binary runs in three roles, chosen by the environment.
const (
	envHelper = "DBXSDK_HELPER" // "me": be one SDK process (sdkMe)
	envInside = "DBXSDK_INSIDE" // set: already in the namespace
)

// The M2M service user of the provider (zitadel's example storage).
const (
	m2mClient = "sid1"
	m2mSecret = "verysecret"
)

// The binaries under test, built once inside the namespace.
var authBin, testidpBin string

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "me" {
		os.Exit(sdkMe())
	}
	if os.Getenv(envInside) == "" {
		os.Exit(inNamespace())
	}
	dir, err := os.MkdirTemp("", "dualauth-sdk-test-")
	if err != nil {
		panic(err)
	}
	authBin, testidpBin = filepath.Join(dir, "auth"), filepath.Join(dir, "testidp")
	for _, b := range [][2]string{{authBin, "./native/cmd/auth"}, {testidpBin, "./internal/testidp/cmd/testidp"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", b[0], b[1])
		cmd.Dir = filepath.Join("..", "..")
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

// inNamespace runs this test binary again in a mount namespace of its own
// whose /etc/hosts maps the workspace name to 127.0.0.1 (unshare and a bind
// mount, as root); every process it starts (auth, the SDK processes) sees
// that name too. It returns the exit code.
func inNamespace() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "databrickssdk: these tests map "+workspace+" to 127.0.0.1 with unshare and a bind mount: run them as root (CI and dev machines do)")
		return 1
	}
	dir, err := os.MkdirTemp("", "dualauth-sdk-hosts-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost "+workspace+"\n::1 localhost\n"), 0o644); err != nil {
		panic(err)
	}
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	script := `mount --bind "$1" /etc/hosts && shift && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", hosts, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "databrickssdk:", err)
		return 1
	}
	return 0
}

// sdkMe is one process of a program that uses the Databricks Go SDK: a
// workspace client with auth_type = databricks-cli (host and profile from
// DBXSDK_HOST and DBXSDK_PROFILE; the CLI from DATABRICKS_CLI_PATH or PATH)
// calls CurrentUser.Me and prints the user name. The SDK's log, INFO and
// up, goes to stderr, where the tests look for WARN lines.
func sdkMe() int {
	logger.DefaultLogger = &logger.SimpleLogger{Level: logger.LevelInfo}
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host:     os.Getenv("DBXSDK_HOST"),
		Profile:  os.Getenv("DBXSDK_PROFILE"),
		AuthType: "databricks-cli",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk:", err)
		return 1
	}
	me, err := w.CurrentUser.Me(context.Background(), iam.MeRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdk:", err)
		return 1
	}
	fmt.Println(me.UserName)
	return 0
}

// world is one test's Databricks-shaped host: the real provider (the
// zitadel example OP) behind a TLS front under the workspace name that
// serves host metadata, the /oidc metadata, the token endpoint (passed on
// to the provider; it records the access tokens handed out) and the SCIM
// Me API (which takes only those tokens, until they expire).
type world struct {
	t      *testing.T
	op     *testidp.Server
	base   string // https://adb-123.4.azuredatabricks.net:PORT
	home   string
	caFile string

	mu      sync.Mutex
	issued  map[string]time.Time
	unknown []string
	secrets []string
	outputs []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	op, err := testidp.Start(testidp.Options{Clients: []testidp.Client{{ID: native.DatabricksClientID, RedirectURIs: []string{"http://127.0.0.1/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, op: op, home: t.TempDir(), issued: map[string]time.Time{}, secrets: []string{m2mSecret}}
	certPEM, cert := selfSignedFor(t, workspace)
	w.caFile = filepath.Join(w.home, "ca.pem")
	if err := os.WriteFile(w.caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(w.mux())
	front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	front.StartTLS()
	_, port, _ := net.SplitHostPort(front.Listener.Addr().String())
	w.base = "https://" + workspace + ":" + port
	t.Cleanup(func() {
		front.Close()
		op.Close()
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.unknown) > 0 {
			t.Logf("requests the test host does not serve: %v", w.unknown)
		}
		for _, out := range w.outputs {
			for _, s := range w.secrets {
				if strings.Contains(out, s) {
					t.Errorf("a secret or token appears in an output: %q", out)
				}
			}
		}
	})
	return w
}

func (w *world) mux() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(rw http.ResponseWriter, status int, v any) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		json.NewEncoder(rw).Encode(v)
	}
	mux.HandleFunc("GET /.well-known/databricks-config", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, 200, map[string]string{"oidc_endpoint": w.base + "/oidc", "host_type": "WORKSPACE_HOST", "workspace_id": "123", "cloud": "Azure"})
	})
	mux.HandleFunc("GET /oidc/.well-known/oauth-authorization-server", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, 200, map[string]any{
			"issuer":                 w.base + "/oidc",
			"authorization_endpoint": w.base + "/oidc/v1/authorize",
			"token_endpoint":         w.base + "/oidc/v1/token",
		})
	})
	// The sign-in page is on the workspace's own origin, as on a real
	// workspace (the mix-up rule refuses one elsewhere): it hands the
	// request on to the provider's.
	mux.HandleFunc("GET /oidc/v1/authorize", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, w.op.Issuer+"/auth?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("POST /oidc/v1/token", func(rw http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, w.op.Issuer+"/oauth/token", r.Body)
		if err != nil {
			http.Error(rw, err.Error(), 500)
			return
		}
		for _, h := range []string{"Content-Type", "Authorization"} {
			req.Header.Set(h, r.Header.Get(h))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(rw, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int    `json:"expires_in"`
		}
		if resp.StatusCode == 200 && json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
			w.mu.Lock()
			w.issued[tok.AccessToken] = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
			w.secrets = append(w.secrets, tok.AccessToken)
			if tok.RefreshToken != "" {
				w.secrets = append(w.secrets, tok.RefreshToken)
			}
			w.mu.Unlock()
		}
		// The provider's ID token names the provider, not HOST/oidc as a
		// workspace's own would, and every ID token a login gets must
		// name its issuer (H7): the relay passes the tokens on without it.
		var answer map[string]any
		if json.Unmarshal(body, &answer) == nil {
			delete(answer, "id_token")
			body, _ = json.Marshal(answer)
		}
		rw.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		rw.WriteHeader(resp.StatusCode)
		rw.Write(body)
	})
	mux.HandleFunc("GET /api/2.0/preview/scim/v2/Me", func(rw http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.mu.Lock()
		exp, known := w.issued[tok]
		w.mu.Unlock()
		if !ok || !known || time.Now().After(exp) {
			writeJSON(rw, 401, map[string]string{"error_code": "UNAUTHENTICATED", "message": "invalid access token"})
			return
		}
		writeJSON(rw, 200, map[string]any{"id": "1", "userName": testidp.Username})
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.unknown = append(w.unknown, r.Method+" "+r.URL.Path)
		w.mu.Unlock()
		writeJSON(rw, 404, map[string]string{"error_code": "NOT_FOUND", "message": "not served by the test host"})
	})
	return mux
}

// environ is a small, explicit environment: HOME, auth's cache, the test
// CA (SSL_CERT_FILE, for auth and the SDK alike), a BROWSER that signs in
// at the provider, and nothing of the developer's own Databricks setup.
func (w *world) environ(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.home,
		"DUALAUTH_CACHE_DIR=" + filepath.Join(w.home, "cache"),
		"DUALAUTH_CONFIG_FILE=" + filepath.Join(w.home, "config.ini"),
		"DUALAUTH_STORAGE=file",
		"SSL_CERT_FILE=" + w.caFile,
		"BROWSER=" + testidpBin + " -login",
	}, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

func (w *world) start(bin string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	w.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	return cmd, &out, &errb
}

func (w *world) wait(cmd *exec.Cmd, out, errb *bytes.Buffer) result {
	w.t.Helper()
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.outputs = append(w.outputs, r.stderr)
	w.mu.Unlock()
	return r
}

// auth runs the binary under test (or a link to it).
func (w *world) auth(bin string, args ...string) result {
	w.t.Helper()
	return w.wait(w.start(bin, w.environ(), args...))
}

// sdk starts one SDK process (sdkMe) with env added to the world's.
func (w *world) sdk(host, profile string, env ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	w.t.Helper()
	self, err := os.Executable()
	if err != nil {
		w.t.Fatal(err)
	}
	return w.start(self, w.environ(append(env, envHelper+"=me", "DBXSDK_HOST="+host, "DBXSDK_PROFILE="+profile)...))
}

// me runs one SDK process and checks that CurrentUser.Me answered, with
// no WARN line from the SDK (about the CLI's version or flags).
func (w *world) me(host, profile string, env ...string) {
	w.t.Helper()
	r := w.wait(w.sdk(host, profile, env...))
	if r.code != 0 {
		w.t.Fatalf("the SDK failed (%d): %s", r.code, r.stderr)
	}
	is.New(w.t).Equal(strings.TrimSpace(r.stdout), testidp.Username)
	if strings.Contains(r.stderr, "[WARN]") {
		w.t.Errorf("the SDK warned: %s", r.stderr)
	}
}

// link is a directory holding a link named databricks to the binary.
func (w *world) link() string {
	w.t.Helper()
	dir := filepath.Join(w.home, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Symlink(authBin, filepath.Join(dir, "databricks")); err != nil {
		w.t.Fatal(err)
	}
	return dir
}

// login logs in to the workspace by browser (the BROWSER command).
func (w *world) login(bin string, args ...string) {
	w.t.Helper()
	r := w.auth(bin, append(args, "--flow", "browser", "--port", "0", "--scopes", "offline_access")...)
	if r.code != 0 {
		w.t.Fatalf("login failed (%d): %s", r.code, r.stderr)
	}
}

// edit changes every cached login of client, as if time had passed.
func (w *world) edit(client string, f func(*core.Entry)) {
	w.t.Helper()
	path := filepath.Join(w.home, "cache", native.CacheFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := core.DecodeCacheFile(b)
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for k, e := range c.Tokens {
		if e.ClientID == client {
			f(&e)
			c.Tokens[k] = e
			n++
		}
	}
	if n == 0 {
		w.t.Fatalf("no login of client %s in the cache", client)
	}
	if err := os.WriteFile(path, c.Encode(), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// aged makes the cached token of client one obtained two minutes ago and
// still valid: --force-refresh refreshes it, a plain token call does not.
func (w *world) aged(client string) {
	w.edit(client, func(e *core.Entry) { e.ObtainedAt = time.Now().Add(-2 * time.Minute) })
}

func (w *world) writeDatabricksCfg(body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.home, ".databrickscfg"), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// DATABRICKS_CLI_PATH = the auth binary: the SDK runs `auth version` and
// `auth auth token --host HOST --force-refresh`; the version it reads
// gets --force-refresh (no WARN), which refreshes a valid token exactly
// once per SDK process (the process asks twice; the second call shares
// the token just obtained).
func TestSDK_DatabricksCLIPathIsTheAuthBinary(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	w.login(authBin, "login", w.base)
	w.aged(native.DatabricksClientID)
	w.me(w.base, "", "DATABRICKS_CLI_PATH="+authBin)
	is.Equal(w.op.Requests("refresh_token"), 1) // --force-refresh, passed by the SDK: exactly one
	w.me(w.base, "", "DATABRICKS_CLI_PATH="+authBin)
	is.Equal(w.op.Requests("refresh_token"), 1) // a token obtained just now is shared
}

// A link named databricks on PATH, as the SDK finds the CLI by default.
func TestSDK_DatabricksLinkOnPATH(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	dir := w.link()
	w.login(filepath.Join(dir, "databricks"), "auth", "login", w.base)
	w.aged(native.DatabricksClientID)
	w.me(w.base, "", "PATH="+dir+":"+os.Getenv("PATH"))
	is.Equal(w.op.Requests("refresh_token"), 1)
}

// A ~/.databrickscfg profile of auth_type = databricks-cli: the SDK runs
// `auth token --profile NAME --force-refresh`, which finds the section
// without --databricks-config and the login made for it by browser.
func TestSDK_DatabrickscfgProfileU2M(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	w.writeDatabricksCfg("[DEFAULT]\nhost = https://adb-999.9.azuredatabricks.net\n\n[ws]\nhost = " + w.base + "\nauth_type = databricks-cli\n")
	w.login(authBin, "auth", "login", "--profile", "ws")
	w.aged(native.DatabricksClientID)
	w.me("", "ws", "DATABRICKS_CLI_PATH="+authBin)
	is.Equal(w.op.Requests("refresh_token"), 1)
	is.Equal(w.op.Requests("authorization_code"), 1)
}

// A ~/.databrickscfg profile of a service principal (oauth-m2m, client ID
// and secret), used through auth (auth_type = databricks-cli set by the
// program): the SDK passes --profile (with --host the login could not be
// found), auth makes the client-credentials grant, once for the process;
// the secret is read there and copied nowhere.
func TestSDK_DatabrickscfgProfileM2M(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	w.writeDatabricksCfg("[sp]\nhost = " + w.base + "\nauth_type = oauth-m2m\nclient_id = " + m2mClient + "\nclient_secret = " + m2mSecret + "\n")
	dir := w.link()
	w.me("", "sp", "PATH="+dir+":"+os.Getenv("PATH"))
	is.Equal(w.op.Requests("client_credentials"), 1)
	is.Equal(w.op.Requests("authorization_code"), 0) // no person
	w.me("", "sp", "PATH="+dir+":"+os.Getenv("PATH"))
	is.Equal(w.op.Requests("client_credentials"), 1) // obtained just now: shared
	entries, err := os.ReadDir(filepath.Join(w.home, "cache"))
	is.NoErr(err)
	for _, de := range entries {
		if de.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(w.home, "cache", de.Name()))
		is.NoErr(err)
		is.True(!strings.Contains(string(b), m2mSecret)) // never copied
	}
}

// Not logged in: the SDK's error carries the text older SDKs look for to
// try their next credential type, and auth's hint.
func TestSDK_NotLoggedInErrorCarriesBothTexts(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	for _, env := range []string{"DATABRICKS_CLI_PATH=" + authBin, "PATH=" + w.link() + ":" + os.Getenv("PATH")} {
		r := w.wait(w.sdk(w.base, "", env))
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "databricks OAuth is not configured for this host"))
		is.True(strings.Contains(r.stderr, "run `auth login "+w.base+"`"))
	}
	is.Equal(w.op.Requests("authorization_code"), 0) // no login was started
}

// Sixteen SDK processes at once on an expired token: one refresh at the
// server (the per-login lock; the SDK's --force-refresh calls share it).
func TestSDK_SixteenProcessesAfterExpiryMakeOneRefresh(t *testing.T) {
	is := is.New(t)
	w := newWorld(t)
	w.login(authBin, "login", w.base)
	w.edit(native.DatabricksClientID, func(e *core.Entry) { e.Expiry = time.Now().Add(-time.Minute) })
	type proc struct {
		cmd       *exec.Cmd
		out, errb *bytes.Buffer
	}
	var procs []proc
	for range 16 {
		cmd, out, errb := w.sdk(w.base, "", "DATABRICKS_CLI_PATH="+authBin)
		procs = append(procs, proc{cmd, out, errb})
	}
	for i, p := range procs {
		r := w.wait(p.cmd, p.out, p.errb)
		if r.code != 0 || strings.TrimSpace(r.stdout) != testidp.Username {
			t.Errorf("SDK process %d failed (%d): %s", i, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "[WARN]") {
			t.Errorf("SDK process %d warned: %s", i, r.stderr)
		}
	}
	is.Equal(w.op.Requests("refresh_token"), 1)
}

// selfSignedFor makes a certificate for name that is its own CA.
func selfSignedFor(t *testing.T, name string) ([]byte, tls.Certificate) {
	t.Helper()
	certPEM, cert, err := testidp.SelfSigned(name)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, cert
}
