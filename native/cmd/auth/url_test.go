package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// databricksFront is a Databricks-shaped host on 127.0.0.1 (a name no
// suffix rule knows) in front of the real provider: it serves host metadata
// and its /oidc metadata, whose endpoints are on its own origin as a
// Databricks host's are (its authorize page sends the browser on to the
// provider's, its token endpoint passes requests to the provider's): with
// both on the provider's origin, the login would need an ID token naming
// HOST/oidc to be bound to it (H7), which the provider cannot give.
func databricksFront(t *testing.T, e *env, hostType string, hostMeta bool) string {
	t.Helper()
	var base string
	front := httptest.NewServer(databricksMux(e, hostType, hostMeta, func() string { return base }))
	t.Cleanup(front.Close)
	base = front.URL
	return base
}

func databricksMux(e *env, hostType string, hostMeta bool, base func() string) *http.ServeMux {
	mux := http.NewServeMux()
	if hostMeta {
		mux.HandleFunc("GET /.well-known/databricks-config", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]string{"oidc_endpoint": base() + "/oidc", "host_type": hostType, "workspace_id": "42", "cloud": "AWS"})
		})
	}
	mux.HandleFunc("GET /oidc/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 base() + "/oidc",
			"authorization_endpoint": base() + "/oidc/v1/authorize",
			"token_endpoint":         base() + "/oidc/v1/token",
		})
	})
	mux.HandleFunc("GET /oidc/v1/authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.srv.Issuer+"/auth?"+r.URL.RawQuery, http.StatusFound)
	})
	provider, _ := url.Parse(e.srv.Issuer)
	toProvider := httputil.NewSingleHostReverseProxy(provider)
	// The provider's ID token names the provider, not HOST/oidc as a
	// Databricks host's own would, and every ID token a login gets must
	// name its issuer (H7): the relay passes the tokens on without it.
	toProvider.ModifyResponse = func(resp *http.Response) error {
		var answer map[string]any
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && json.Unmarshal(b, &answer) == nil {
			delete(answer, "id_token")
			b, _ = json.Marshal(answer)
		}
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	mux.HandleFunc("POST /oidc/v1/token", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path, r.Host = "/oauth/token", provider.Host
		toProvider.ServeHTTP(w, r)
	})
	return mux
}

// A Databricks workspace behind a name no rule knows logs in by the URL
// alone: host metadata says what it is; client databricks-cli and the
// Databricks scopes follow; `auth token` then works offline.
func TestCLI_DatabricksHostOfAnyNameLogsInByTheURLAlone(t *testing.T) {
	for _, c := range []struct {
		name     string
		hostMeta bool
		found    string
	}{
		{"host-metadata", true, "Found: Databricks workspace (host metadata at "},
		{"oidc-document", false, "Found: Databricks workspace (its /oidc metadata at "},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t, databricksClient)
			host := databricksFront(t, e, "WORKSPACE_HOST", c.hostMeta)
			is.True(!core.IsDatabricksHost(host))
			r := e.auth(nil, "login", host, "--port", "0", "--scopes", "offline_access")
			is.Equal(r.code, 0)
			is.True(strings.Contains(r.stderr, c.found))
			is.True(strings.Contains(r.stderr, "Logged in to "+host))
			en, ok := e.file().Tokens[core.Key(host+"/oidc", native.DatabricksClientID)]
			is.True(ok)
			is.Equal(en.Resolution.Kind, core.KindDatabricksWorkspace)
			is.True(en.RefreshToken != "")

			e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				t.Errorf("auth token used the network: %s", r.URL)
				return false
			})
			tok := e.auth(nil, "token", host)
			is.Equal(tok.code, 0)
			is.True(strings.Contains(tok.stdout, en.AccessToken))
			e.srv.Intercept(nil)

			d := e.auth(nil, "describe", host, "-o", "json")
			is.Equal(d.code, 0)
			is.True(strings.Contains(d.stdout, `"kind": "databricks-workspace"`))
		})
	}
}

func TestCLI_DatabricksDefaultsComeFromTheHostNotItsName(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	host := databricksFront(t, e, "workspace", true)
	// No --scopes: the Databricks default scopes go to the provider.
	var scopes []string
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/auth" {
			scopes = append(scopes, r.URL.Query().Get("scope"))
		}
		return false
	})
	e.auth(nil, "login", host, "--port", "0")
	is.True(slices.Contains(scopes, "all-apis offline_access"))
}

// Bad input from a server: one clear line, exit 1, nothing saved.
func TestCLI_BadDiscoveryInputGivesOneLineAndSavesNothing(t *testing.T) {
	big := strings.Repeat(" ", 10<<20) + "{}"
	for _, c := range []struct {
		name  string
		serve func(base string) http.HandlerFunc
		want  string
	}{
		{"resource-mismatch", func(base string) http.HandlerFunc {
			return route("/.well-known/oauth-protected-resource/api", map[string]any{"resource": base + "/other", "authorization_servers": []string{base}})
		}, "protected-resource metadata names another resource"},
		{"http-authorization-server", func(base string) http.HandlerFunc {
			return route("/.well-known/oauth-protected-resource/api", map[string]any{"resource": base + "/api", "authorization_servers": []string{"http://as.example.com"}})
		}, `authorization server "http://as.example.com": URL must use https`},
		{"ten-megabyte-metadata", func(base string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/.well-known/openid-configuration" {
					io.WriteString(w, big)
					return
				}
				http.NotFound(w, r)
			}
		}, "too large"},
		{"registration-without-client-id", func(base string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/api/.well-known/openid-configuration":
					json.NewEncoder(w).Encode(map[string]any{"issuer": base + "/api", "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token", "registration_endpoint": base + "/reg"})
				case "/reg":
					w.WriteHeader(201)
					io.WriteString(w, `{"client_name":"dualauth"}`)
				default:
					http.NotFound(w, r)
				}
			}
		}, "client registration answered without a client_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			var h http.HandlerFunc
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r) }))
			defer srv.Close()
			h = c.serve(srv.URL)
			r := e.auth(nil, "login", srv.URL+"/api", "--no-browser")
			is.Equal(r.code, 1)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], c.want))
			_, err := os.Stat(filepath.Join(e.cache, native.CacheFileName))
			is.True(os.IsNotExist(err)) // nothing saved
		})
	}
}

func route(path string, doc any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			json.NewEncoder(w).Encode(doc)
			return
		}
		http.NotFound(w, r)
	}
}

func TestCLI_LoginHelpShowsTheFourWaysIn(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "login", "--help")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "auth help login-hosts")) // where the reference is
	hosts := e.auth(nil, "help", "login-hosts")
	is.Equal(hosts.code, 0)
	r.stdout += hosts.stdout
	for _, want := range []string{"Four ways in", "1. A Databricks host", "/.well-known/databricks-config", "2. An OpenID Connect or RFC 8414 issuer",
		"dynamic client registration (RFC 7591)", "3. A protected resource", "resource=URL", "4. --client-id", "auth login https://api.example.com/v1"} {
		is.True(strings.Contains(r.stdout, want))
	}
}

// The auth binary by URL alone against oidc-provider: an API's metadata
// names the provider, auth registers a client there (and says so), the
// user signs in (here the redirect is pasted), and `auth token API` gives
// the token offline; a second login reuses the registered client.
func TestCLI_ProtectedResourceByURLAloneRegistersOnceAndGivesTokens(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{ByURL: true})
	var api string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
			json.NewEncoder(rw).Encode(map[string]any{"resource": api, "authorization_servers": []string{w.op.Issuer}, "scopes_supported": []string{"api:read"}})
			return
		}
		http.NotFound(rw, r)
	}))
	defer srv.Close()
	api = srv.URL + "/api"

	login := func() result {
		r := startAuth(t, w.environ(), "login", api, "--no-browser", "--paste", "--timeout", "30s")
		r.waitFor("Found: protected resource "+api, 10*time.Second)
		authorize := strings.TrimSpace(r.waitFor(w.op.Issuer+"/auth?", 10*time.Second))
		landed, err := w.op.Authorize(context.Background(), authorize)
		is.NoErr(err)
		r.paste(landed.String())
		return r.wait(20 * time.Second)
	}
	res := login()
	if res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "registered at "+w.op.Issuer+"/reg just now"))
	res = login()
	is.Equal(res.code, 0)
	is.True(strings.Contains(res.stderr, "registered at "+w.op.Issuer+"/reg on ")) // reused
	n := 0
	for _, rq := range w.op.Requests() {
		if rq.Path == "/reg" {
			n++
		}
	}
	is.Equal(n, 1) // two logins, one registration

	var entry core.Entry
	for k, e := range w.cacheFile().Tokens {
		if strings.HasPrefix(k, api+" ") {
			entry = e
		}
	}
	is.Equal(entry.Resource, api)
	tok := startAuth(t, w.environ(), "token", api, "-o", "text").wait(10 * time.Second)
	is.Equal(tok.code, 0)
	is.Equal(tok.stdout, entry.AccessToken+"\n")
	d := startAuth(t, w.environ(), "describe", api).wait(10 * time.Second)
	is.Equal(d.code, 0)
	is.True(strings.Contains(d.stdout, "protected-resource"))
	is.True(strings.Contains(d.stdout, "registered at "+w.op.Issuer+"/reg"))
}

// A real-looking name over TLS: dbx.corp.example maps to 127.0.0.1 only
// inside a mount namespace of its own (unshare + a bind-mounted
// /etc/hosts, as root), with a certificate for that name trusted through
// --ca-cert. No suffix rule knows the name: its host metadata says
// Databricks. `auth token` then needs neither the name nor the network.
func TestCLI_DatabricksHostUnderARealNameOverTLS(t *testing.T) {
	is := is.New(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test maps a name to 127.0.0.1 with unshare and a bind mount: run it as root (CI and dev machines do)")
	}
	e := newEnv(t, databricksClient)
	const name = "dbx.corp.example"
	certPEM, tlsCert := selfSignedFor(t, name)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	hosts := filepath.Join(dir, "hosts")
	is.NoErr(os.WriteFile(caFile, certPEM, 0o600))
	is.NoErr(os.WriteFile(hosts, []byte("127.0.0.1 localhost "+name+"\n::1 localhost\n"), 0o644))

	var base string
	front := httptest.NewUnstartedServer(databricksMux(e, "WORKSPACE_HOST", true, func() string { return base }))
	front.TLS = &tls.Config{Certificates: []tls.Certificate{tlsCert}}
	front.StartTLS()
	defer front.Close()
	_, port, _ := net.SplitHostPort(front.Listener.Addr().String())
	base = "https://" + name + ":" + port

	script := `mount --bind "$1" /etc/hosts && shift && exec "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", hosts,
		authBin, "login", base, "--port", "0", "--scopes", "offline_access", "--ca-cert", caFile)
	cmd.Env = e.environ("SSL_CERT_FILE=" + caFile) // the browser (testidp -login) trusts the name's certificate too: the authorize page is on it
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	e.record(result{stderr: stderr.String()})
	if err != nil {
		t.Fatalf("login over TLS failed: %v\n%s", err, stderr.String())
	}
	is.True(strings.Contains(stderr.String(), "Found: Databricks workspace (host metadata at "+base+"/.well-known/databricks-config)"))
	en, ok := e.file().Tokens[core.Key(base+"/oidc", native.DatabricksClientID)]
	is.True(ok)
	tok := e.auth(nil, "token", base, "-o", "text") // outside the namespace: the name does not even resolve here
	is.Equal(tok.code, 0)
	is.Equal(tok.stdout, en.AccessToken+"\n")
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

// A Databricks host known by its host metadata, not by its name: auth env
// and auth exec export DATABRICKS_HOST and DATABRICKS_TOKEN for it too,
// from the resolution saved with the login (offline).
func TestCLI_DatabricksHostOfAnyNameGetsTheDatabricksVariables(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	host := databricksFront(t, e, "WORKSPACE_HOST", true)
	is.True(!core.IsDatabricksHost(host))
	is.Equal(e.auth(nil, "login", host, "--port", "0", "--scopes", "offline_access").code, 0)
	en := e.file().Tokens[core.Key(host+"/oidc", native.DatabricksClientID)]
	is.True(en.AccessToken != "")

	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		t.Errorf("auth env/exec used the network: %s", r.URL)
		return false
	})
	defer e.srv.Intercept(nil)
	r := e.auth(nil, "env", host, "-o", "json")
	is.Equal(r.code, 0)
	var vars map[string]string
	is.NoErr(json.Unmarshal([]byte(r.stdout), &vars))
	is.Equal(vars["DATABRICKS_HOST"], host)
	is.Equal(vars["DATABRICKS_TOKEN"], en.AccessToken)
	r = e.auth(nil, "env", host)
	is.True(strings.Contains(r.stdout, "export DATABRICKS_TOKEN='"+en.AccessToken+"'"))

	r = e.auth(nil, "exec", host, "--", "sh", "-c", `test "$DATABRICKS_HOST" = "`+host+`" && test "$DATABRICKS_TOKEN" = "`+en.AccessToken+`"`)
	is.Equal(r.code, 0)
}
