package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

const (
	m2mSecret     = "m2m-SECRET-b4s1c-0123456789"
	m2mPostSecret = "m2m-SECRET-p0st-9876543210"
	ciAudience    = "dualauth-ci"
	ciIssuer      = "https://ci.example.com"
)

// m2mWorld is a test of logins without a person: oidc-provider with a
// client per authentication method and a token exchange that trusts the
// test's own "CI" key; a HOME; and every secret in play, which no output
// or non-0600 file may contain (S33).
type m2mWorld struct {
	t       *testing.T
	op      *deviceop.Server
	home    string
	ecPath  string // the svc-key client's key
	ciPath  string // the CI's signing key (subject tokens)
	secrets []string
	outputs []string
}

func ecKeyFile(t *testing.T, dir, name string, curve elliptic.Curve) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	is.New(t).NoErr(err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	is.New(t).NoErr(err)
	p := filepath.Join(dir, name)
	is.New(t).NoErr(os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return k, p
}

func ecJWK(k *ecdsa.PrivateKey) map[string]any {
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	return map[string]any{"kty": "EC", "crv": "P-256", "x": enc(k.X.FillBytes(make([]byte, 32))), "y": enc(k.Y.FillBytes(make([]byte, 32))), "alg": "ES256", "use": "sig"}
}

func newM2MWorld(t *testing.T) *m2mWorld {
	t.Helper()
	keys := t.TempDir()
	ec, ecPath := ecKeyFile(t, keys, "svc.pem", elliptic.P256())
	ci, ciPath := ecKeyFile(t, keys, "ci.pem", elliptic.P256())
	cc := []string{"client_credentials"}
	none := []string{}
	m := &deviceop.M2M{
		Clients: []map[string]any{
			{"client_id": "svc-basic", "client_secret": m2mSecret, "token_endpoint_auth_method": "client_secret_basic", "grant_types": cc, "redirect_uris": none, "response_types": none},
			{"client_id": "svc-post", "client_secret": m2mPostSecret, "token_endpoint_auth_method": "client_secret_post", "grant_types": cc, "redirect_uris": none, "response_types": none},
			{"client_id": "svc-key", "token_endpoint_auth_method": "private_key_jwt", "grant_types": cc, "redirect_uris": none, "response_types": none, "jwks": map[string]any{"keys": []any{ecJWK(ec)}}},
			{"client_id": "svc-fed", "token_endpoint_auth_method": "none", "grant_types": []string{core.TokenExchangeGrantType}, "redirect_uris": none, "response_types": none},
		},
		PostOnly: []string{"svc-post"},
	}
	m.Subject.JWKS = map[string]any{"keys": []any{ecJWK(ci)}}
	m.Subject.Issuer, m.Subject.Audience = ciIssuer, ciAudience
	op, err := deviceop.Start(deviceop.Options{M2M: m})
	if err != nil {
		t.Fatal(err)
	}
	w := &m2mWorld{t: t, op: op, home: t.TempDir(), ecPath: ecPath, ciPath: ciPath, secrets: []string{m2mSecret, m2mPostSecret}}
	for _, p := range []string{ecPath, ciPath} {
		b, _ := os.ReadFile(p)
		w.secrets = append(w.secrets, string(b), strings.Split(string(b), "\n")[1]) // the key, and a line of it
	}
	t.Cleanup(func() {
		op.Close()
		if t.Failed() {
			t.Logf("device-op stderr:\n%s", op.Stderr())
		}
		w.checkSecretsStayPut()
	})
	return w
}

// ciToken signs a subject token as the CI would (with key, the CI's own
// unless forging), living ttl.
func (w *m2mWorld) ciToken(key string, ttl time.Duration) string {
	w.t.Helper()
	now := time.Now()
	in, err := core.SigningInput(core.AlgES256, "JWT", nil, map[string]any{"iss": ciIssuer, "aud": ciAudience, "sub": "repo:o/r:ref:refs/heads/main", "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	is.New(w.t).NoErr(err)
	k, err := native.LoadSigningKey(key)
	is.New(w.t).NoErr(err)
	sig, err := k.Sign(core.AlgES256, in)
	is.New(w.t).NoErr(err)
	tok := core.CompactJWS(in, sig)
	w.secrets = append(w.secrets, tok)
	return tok
}

func (w *m2mWorld) environ(extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.home,
		"DUALAUTH_CACHE_DIR=" + filepath.Join(w.home, "cache"),
		"DUALAUTH_CONFIG_FILE=" + filepath.Join(w.home, "config.ini"),
		// A browser that fails the test if a login without a person ever
		// opens one.
		"BROWSER=/bin/false",
	}, extra...)
}

// run runs auth with stdin and extra environment.
func (w *m2mWorld) run(stdin string, env []string, args ...string) result {
	w.t.Helper()
	cmd := exec.Command(authBin, args...)
	cmd.Env = w.environ(env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	checkNoPanic(w.t, r)
	if strings.Contains(r.stderr, "Opening") || strings.Contains(r.stderr, "Login flow") {
		w.t.Errorf("a login without a person talked of a browser: %s", r.stderr)
	}
	w.outputs = append(w.outputs, r.stdout, r.stderr)
	return r
}

func (w *m2mWorld) auth(args ...string) result { return w.run("", nil, args...) }

func (w *m2mWorld) cacheFile() *core.CacheFile {
	b, err := os.ReadFile(filepath.Join(w.home, "cache", native.CacheFileName))
	if os.IsNotExist(err) {
		f, _ := core.DecodeCacheFile(nil)
		return f
	}
	is.New(w.t).NoErr(err)
	f, err := core.DecodeCacheFile(b)
	is.New(w.t).NoErr(err)
	return f
}

func (w *m2mWorld) expire(client string) {
	w.t.Helper()
	c := w.cacheFile()
	k := core.Key(w.op.Issuer, client)
	e, ok := c.Tokens[k]
	if !ok {
		w.t.Fatalf("no cache entry for %s", client)
	}
	e.Expiry = time.Now().Add(-time.Minute)
	c.Tokens[k] = e
	is.New(w.t).NoErr(os.WriteFile(filepath.Join(w.home, "cache", native.CacheFileName), c.Encode(), 0o600))
}

// checkSecretsStayPut: no secret on any stdout or stderr, and none in any
// file under HOME but 0600 ones — and never in the cache or profiles file
// (S33).
func (w *m2mWorld) checkSecretsStayPut() {
	t := w.t
	for _, out := range w.outputs {
		for _, s := range w.secrets {
			if strings.Contains(out, s) {
				t.Errorf("a secret appears in auth's output: %q", out)
			}
		}
	}
	filepath.WalkDir(w.home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		st, _ := d.Info()
		for _, s := range w.secrets {
			if !strings.Contains(string(b), s) {
				continue
			}
			base := filepath.Base(p)
			if base == native.CacheFileName || base == "config.ini" || st.Mode().Perm() != 0o600 {
				t.Errorf("a secret is in %s (mode %v)", p, st.Mode().Perm())
			}
		}
		return nil
	})
}

func TestM2M_ClientSecretLoginProfileDescribeAndSixteenProcessesMakeOneGrant(t *testing.T) { // S20, S33
	is := is.New(t)
	w := newM2MWorld(t)
	r := w.run(m2mSecret+"\n", nil, "login", w.op.Issuer, "--client-id", "svc-basic", "--client-secret-stdin", "--profile", "svc", "--storage", "file")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged in to "+w.op.Issuer+" as client svc-basic (client credentials (client_secret_basic))"))
	is.True(strings.Contains(r.stderr, "client secret in "+filepath.Join(w.home, "cache", native.SecretsFileName)+" (0600)"))
	is.Equal(r.stdout, "")
	st, err := os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	prof, _ := os.ReadFile(filepath.Join(w.home, "config.ini"))
	is.True(strings.Contains(string(prof), "client_credentials"))

	d := w.auth("describe", "svc")
	is.Equal(d.code, 0)
	is.True(strings.Contains(d.stdout, "client credentials (client_secret_basic)"))
	is.True(strings.Contains(d.stdout, native.SecretsFileName))

	tok := w.auth("token", "svc", "-o", "text")
	is.Equal(tok.code, 0)
	before := w.op.Count("client_credentials")
	is.Equal(before, 1) // the valid token came from the cache

	w.expire("svc-basic")
	const n = 16
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(authBin, "token", "svc", "-o", "text")
		cmds[i].Env = w.environ()
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
	}
	start := time.Now()
	for _, c := range cmds {
		is.NoErr(c.Start())
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v: %s", i, err, errs[i])
		}
		w.outputs = append(w.outputs, errs[i].String())
	}
	t.Logf("16 parallel auth token on an expired client-credentials token: %v", time.Since(start))
	is.Equal(w.op.Count("client_credentials"), before+1) // sixteen callers, one grant
	fresh := w.cacheFile().Tokens[core.Key(w.op.Issuer, "svc-basic")].AccessToken
	for i := range n {
		is.Equal(outs[i].String(), fresh+"\n")
	}
	is.True(fresh != strings.TrimSpace(tok.stdout))

	// Logout removes the login and its secret.
	is.Equal(w.auth("logout", "svc").code, 0)
	_, err = os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
	is.True(os.IsNotExist(err))
	is.Equal(len(w.cacheFile().Tokens), 0)
}

func TestM2M_BasicRefusedThenPostRemembered(t *testing.T) {
	is := is.New(t)
	w := newM2MWorld(t)
	r := w.run("", []string{"DUALAUTH_CLIENT_SECRET=" + m2mPostSecret}, "login", w.op.Issuer, "--client-id", "svc-post", "--storage", "file")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "client_secret_post"))
	w.expire("svc-post")
	is.Equal(w.auth("token", w.op.Issuer, "--client-id", "svc-post").code, 0)
	var basic int
	for _, q := range w.op.Requests() {
		if q.Path == "/token" && q.Authorization {
			basic++
		}
	}
	is.Equal(basic, 1) // only the login's first try
	// Forcing basic: refused, nothing changed.
	r = w.run("", []string{"DUALAUTH_CLIENT_SECRET=" + m2mPostSecret}, "login", w.op.Issuer, "--client-id", "svc-post", "--client-auth", "basic", "--storage", "file")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "invalid_client"))
}

func TestM2M_PrivateKeyLoginSavesThePathAndSignsEachGrant(t *testing.T) { // S34 against a real server
	is := is.New(t)
	w := newM2MWorld(t)
	r := w.auth("login", w.op.Issuer, "--client-id", "svc-key", "--client-key", w.ecPath, "--profile", "k")
	is.Equal(r.code, 0)
	prof, _ := os.ReadFile(filepath.Join(w.home, "config.ini"))
	is.True(strings.Contains(string(prof), w.ecPath))
	_, err := os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
	is.True(os.IsNotExist(err)) // no secret to keep
	for range 2 {
		w.expire("svc-key")
		is.Equal(w.auth("token", "k").code, 0) // a new assertion each time (a replayed jti is refused)
	}
	is.Equal(w.op.Count("client_credentials"), 3)
}

func TestM2M_TokenExchangeFromGitHubActionsAndAProjectedFile(t *testing.T) {
	is := is.New(t)
	w := newM2MWorld(t)
	var asked atomic.Int32
	gh := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-req-SECRET" || r.URL.Query().Get("audience") != ciAudience {
			http.Error(rw, "no", http.StatusForbidden)
			return
		}
		asked.Add(1)
		json.NewEncoder(rw).Encode(map[string]string{"value": w.ciToken(w.ciPath, time.Hour)})
	}))
	defer gh.Close()
	w.secrets = append(w.secrets, "gh-req-SECRET")
	ghEnv := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=gh-req-SECRET"}
	r := w.run("", ghEnv, "login", w.op.Issuer, "--client-id", "svc-fed", "--subject-token", "github-actions:"+ciAudience)
	is.Equal(r.code, 0)
	w.expire("svc-fed")
	is.Equal(w.run("", ghEnv, "token", w.op.Issuer, "--client-id", "svc-fed").code, 0)
	is.Equal(asked.Load(), int32(2)) // read afresh at each exchange

	// A Kubernetes pod: the projected token file, re-read at each exchange.
	w2 := newM2MWorld(t)
	path := filepath.Join(w2.home, "sa-token")
	is.NoErr(os.WriteFile(path, []byte(w2.ciToken(w2.ciPath, time.Hour)), 0o600))
	is.Equal(w2.auth("login", w2.op.Issuer, "--client-id", "svc-fed", "--subject-token", "file:"+path, "--profile", "pod").code, 0)
	is.NoErr(os.WriteFile(path, []byte(w2.ciToken(w2.ciPath, 2*time.Hour)), 0o600))
	w2.expire("svc-fed")
	is.Equal(w2.auth("token", "pod").code, 0)
}

// Bad input: exit 1, one line, nothing saved (and no browser).
func TestM2M_BadInputExitsOneWithOneLineAndSavesNothing(t *testing.T) {
	w := newM2MWorld(t)
	keys := t.TempDir()
	_, p384 := ecKeyFile(t, keys, "p384.pem", elliptic.P384())
	forgedKey := w.ecPath // a key the server does not trust for subject tokens
	forged, expired := w.ciToken(forgedKey, time.Hour), w.ciToken(w.ciPath, -time.Minute)
	iss := w.op.Issuer
	for _, tc := range []struct {
		name  string
		stdin string
		env   []string
		args  []string
		want  string
		local bool // found wrong before any request
	}{
		{"WrongSecret", "not-the-SECRET-777\n", nil, []string{"--client-id", "svc-basic", "--client-secret-stdin"}, "invalid_client", false},
		{"UnreadableKey", "", nil, []string{"--client-id", "svc-key", "--client-key", filepath.Join(keys, "missing.pem")}, "reading the private key", true},
		{"WrongKeyType", "", nil, []string{"--client-id", "svc-key", "--client-key", p384}, "EC P-384 key", true},
		{"NoGitHubActionsURL", "", nil, []string{"--client-id", "svc-fed", "--subject-token", "github-actions"}, "ACTIONS_ID_TOKEN_REQUEST_URL", true},
		{"ForgedSubjectToken", "", []string{"CI_TOKEN=" + forged}, []string{"--client-id", "svc-fed", "--subject-token", "env:CI_TOKEN"}, "refused the subject token from env:CI_TOKEN", false},
		{"ExpiredSubjectToken", "", []string{"CI_TOKEN=" + expired}, []string{"--client-id", "svc-fed", "--subject-token", "env:CI_TOKEN"}, "invalid_grant", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w.secrets = append(w.secrets, "not-the-SECRET-777")
			r := w.run(tc.stdin, tc.env, append([]string{"login", iss, "--profile", "bad", "--storage", "file"}, tc.args...)...)
			is.Equal(r.code, 1)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if tc.local {
				is.Equal(len(lines), 1) // one line, before any request
			} else {
				is.Equal(len(lines), 2) // what the host is, then one line
				is.True(strings.HasPrefix(lines[0], "Found: "))
				lines = lines[1:]
			}
			is.True(strings.Contains(lines[0], tc.want))
			is.Equal(len(w.cacheFile().Tokens), 0) // nothing saved…
			_, err := os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
			is.True(os.IsNotExist(err))
			_, err = os.Stat(filepath.Join(w.home, "config.ini"))
			is.True(os.IsNotExist(err)) // …not even the profile
		})
	}
}

func TestM2M_UsageMistakesExitTwo(t *testing.T) {
	w := newM2MWorld(t)
	for name, args := range map[string][]string{
		"NoSecret":           {"login", "--profile", "x", w.op.Issuer, "--client-id", "svc-basic", "--client-auth", "post"},
		"BrowserFlag":        {"login", w.op.Issuer, "--client-id", "svc-key", "--client-key", w.ecPath, "--device"},
		"BadSource":          {"login", w.op.Issuer, "--client-id", "svc-fed", "--subject-token", "ftp:x"},
		"SecretOnEmptyStdin": {"login", w.op.Issuer, "--client-id", "svc-basic", "--client-secret-stdin"},
	} {
		t.Run(name, func(t *testing.T) {
			r := w.auth(args...)
			is.New(t).Equal(r.code, 2)
		})
	}
}

// Databricks CLI profiles of a service principal: the secret stays in
// that file (never copied), federation reads its subject token source.
func TestM2M_DatabricksConfigServicePrincipalProfiles(t *testing.T) {
	is := is.New(t)
	w := newM2MWorld(t)
	cfg := filepath.Join(w.home, ".databrickscfg")
	body := "[sp]\nhost = " + w.op.Issuer + "\nauth_type = oauth-m2m\nclient_id = svc-basic\nclient_secret = " + m2mSecret +
		"\n\n[fed]\nhost = " + w.op.Issuer + "\nauth_type = env-oidc\nclient_id = svc-fed\n"
	is.NoErr(os.WriteFile(cfg, []byte(body), 0o600))
	r := w.auth("login", "sp", "--databricks-config", cfg)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "read from the Databricks CLI config file"))
	_, err := os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
	is.True(os.IsNotExist(err)) // not copied
	w.expire("svc-basic")
	is.Equal(w.auth("token", "sp", "--databricks-config", cfg, "-o", "text").code, 0)
	is.Equal(w.op.Count("client_credentials"), 2)
	d := w.auth("describe", "sp", "--databricks-config", cfg)
	is.True(strings.Contains(d.stdout, "in the Databricks CLI config file"))
	after, _ := os.ReadFile(cfg)
	is.Equal(string(after), body) // never written

	env := []string{"DATABRICKS_OIDC_TOKEN=" + w.ciToken(w.ciPath, time.Hour)}
	is.Equal(w.run("", env, "login", "fed", "--databricks-config", cfg).code, 0)
}
