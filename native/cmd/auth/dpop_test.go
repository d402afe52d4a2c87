package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/internal/dpopapi"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// dpopWorld: oidc-provider with DPoP and server nonces required, and an API
// of ours that takes DPoP-bound tokens only and checks proofs in full.
type dpopWorld struct {
	*deviceWorld
	api *dpopapi.Server
	// authorize is the last authorization request the login printed.
	authorize string
}

func newDPoPWorld(t *testing.T) *dpopWorld {
	w := newDeviceWorld(t, deviceop.Options{ByURL: true, DPoP: true})
	api := dpopapi.Start(w.op.Issuer)
	t.Cleanup(api.Close)
	return &dpopWorld{deviceWorld: w, api: api}
}

// login logs in to the API by its URL alone (the redirect pasted).
func (w *dpopWorld) login(args ...string) result {
	t := w.t
	r := startAuth(t, w.environ(), append([]string{"login", w.api.URL, "--no-browser", "--paste", "--timeout", "30s"}, args...)...)
	authorize := strings.TrimSpace(r.waitFor(w.op.Issuer+"/auth?", 10*time.Second))
	w.authorize = authorize
	landed, err := w.op.Authorize(context.Background(), authorize)
	if err != nil {
		t.Fatal(err)
	}
	r.paste(landed.String())
	return r.wait(20 * time.Second)
}

func (w *dpopWorld) apiEntry() core.Entry {
	for k, e := range w.cacheFile().Tokens {
		if strings.HasPrefix(k, w.api.URL+" ") {
			return e
		}
	}
	w.t.Fatal("no login of the API in the cache")
	return core.Entry{}
}

// call sends a request as a script would with curl, its headers from
// `auth proof -o headers`.
func (w *dpopWorld) curl(headers string) (status string) {
	w.t.Helper()
	cmd := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "@-", w.api.URL+"/items?page=1")
	cmd.Stdin = strings.NewReader(headers)
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("curl: %v", err)
	}
	return string(out)
}

// A login by URL to an API that requires DPoP-bound tokens: auth (--dpop
// auto) binds them to a new ES256 key kept in a 0600 file, `auth token`
// says DPoP, a proof from `auth proof` lets curl through the strict
// resource, `auth api` handles the resource's nonce by itself, and the
// token is refreshed with a proof after it expires. The key never reaches
// the cache file or any output.
func TestCLI_DPoPLoginProofCurlAPIAndRefresh(t *testing.T) {
	is := is.New(t)
	w := newDPoPWorld(t)
	res := w.login()
	if res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	e := w.apiEntry()
	is.Equal(e.TokenType, "DPoP")
	is.True(e.DPoP != nil && e.DPoP.JKT == e.DPoP.JWK.Thumbprint())
	is.True(strings.HasPrefix(e.DPoP.Key, "dpop:file:"))
	// The code was bound to that key before the user signed in (dpop_jkt,
	// RFC 9449 §10), and the provider took the exchange proved with it.
	au, err := url.Parse(w.authorize)
	is.NoErr(err)
	is.Equal(au.Query().Get("dpop_jkt"), e.DPoP.JKT)

	// The private key: a 0600 file beside the cache; in no output, not in
	// the cache file.
	keys, err := filepath.Glob(filepath.Join(w.home, "cache", native.DPoPKeysDir, "*.key"))
	is.NoErr(err)
	is.Equal(len(keys), 1)
	st, err := os.Stat(keys[0])
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	pemKey, err := os.ReadFile(keys[0])
	is.NoErr(err)
	cache, err := os.ReadFile(filepath.Join(w.home, "cache", native.CacheFileName))
	is.NoErr(err)
	is.True(!strings.Contains(string(cache), "PRIVATE KEY"))
	is.True(!strings.Contains(string(cache), `"d"`))

	tok := w.auth("token", w.api.URL)
	is.Equal(tok.code, 0)
	is.True(strings.Contains(tok.stdout, `"token_type": "DPoP"`))

	// auth proof + curl: the first proof has no nonce, the API asks for
	// one; a new proof with it goes through.
	p := w.auth("proof", w.api.URL, "--method", "GET", "--url", w.api.URL+"/items?page=1", "-o", "headers")
	is.Equal(p.code, 0)
	is.True(strings.HasPrefix(p.stdout, "Authorization: DPoP "+e.AccessToken+"\nDPoP: "))
	is.Equal(w.curl(p.stdout), "401")
	is.Equal(w.api.Refused("use_dpop_nonce"), 1)
	p = w.auth("proof", w.api.URL, "--method", "GET", "--url", w.api.URL+"/items?page=1", "--nonce", "api-nonce-1", "-o", "headers")
	is.Equal(p.code, 0)
	is.Equal(w.curl(p.stdout), "200")
	is.Equal(w.api.Accepted(), 1)
	is.Equal(w.curl(p.stdout), "401") // a proof is for one request: its jti is spent
	is.Equal(w.api.Refused("bad proof: jti replayed"), 1)
	// Not for another origin: the headers would carry the token there (T1).
	other := w.auth("proof", w.api.URL, "--method", "GET", "--url", "https://other.example/items", "-o", "headers")
	is.Equal(other.code, 1)
	is.Equal(other.stdout, "")
	is.True(strings.Contains(other.stderr, "https://other.example/items is not on "+w.api.URL))

	// auth api: the nonce round trip on its own.
	w.api.RotateNonce()
	out := w.auth("api", w.api.URL, "/api/things")
	is.Equal(out.code, 0)
	is.True(strings.Contains(out.stdout, `"path":"/api/things"`))
	is.Equal(w.api.Accepted(), 2)
	is.Equal(w.api.Refused("use_dpop_nonce"), 2) // its first try had no nonce: one retry

	// That nonce is kept with the login: the next auth api, another
	// process, proves with it at once, and so does auth proof.
	out = w.auth("api", w.api.URL, "/api/again")
	is.Equal(out.code, 0)
	is.Equal(w.api.Accepted(), 3)
	is.Equal(w.api.Refused("use_dpop_nonce"), 2) // no retry this time
	p = w.auth("proof", w.api.URL, "--method", "GET", "--url", w.api.URL+"/items?page=1", "-o", "headers")
	is.Equal(p.code, 0)
	is.Equal(w.curl(p.stdout), "200")
	is.Equal(w.api.Accepted(), 4)

	// The access token as a bearer token is worthless at the resource.
	req, _ := http.NewRequest("GET", w.api.URL, nil)
	req.Header.Set("Authorization", "Bearer "+e.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	is.NoErr(err)
	resp.Body.Close()
	is.Equal(resp.StatusCode, 401)
	is.Equal(w.api.Refused("bearer"), 1)

	// Expired: the refresh carries a proof with the same key.
	expire(t, w.deviceWorld, w.api.URL)
	tok = w.auth("token", w.api.URL, "-o", "text")
	is.Equal(tok.code, 0)
	e2 := w.apiEntry()
	is.True(e2.AccessToken != e.AccessToken)
	is.Equal(tok.stdout, e2.AccessToken+"\n")
	is.Equal(e2.DPoP.Key, e.DPoP.Key)
	out = w.auth("api", w.api.URL, "/api/after-refresh")
	is.Equal(out.code, 0)

	for _, r := range []result{res, tok, p, out} {
		for _, s := range []string{r.stdout, r.stderr} {
			is.True(!strings.Contains(s, "PRIVATE KEY"))
			is.True(!strings.Contains(s, strings.TrimSpace(string(pemKey))))
		}
	}

	// Logging out removes the key.
	is.Equal(w.auth("logout", w.api.URL).code, 0)
	keys, _ = filepath.Glob(filepath.Join(w.home, "cache", native.DPoPKeysDir, "*.key"))
	is.Equal(len(keys), 0)
}

// auth api follows a redirect on the host with a new request whose proof
// names the new URL and method (htu, htm), which the strict resource
// checks; the original request's proof is never sent again.
func TestCLI_DPoPAPIRedirectOnTheHostGetsAProofOfItsOwn(t *testing.T) {
	is := is.New(t)
	w := newDPoPWorld(t)
	if res := w.login(); res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	refused := w.api.Refused("") // the login's look at the resource
	out := w.auth("api", w.api.URL, "-X", "PUT", dpopapi.MovedPath+"/things?x=1", "-d", `{"a":1}`)
	if out.code != 0 {
		t.Fatalf("auth api failed (%d):\n%s", out.code, out.stderr)
	}
	is.Equal(out.stdout, `{"ok":true,"method":"PUT","path":"/api/things"}`)
	is.Equal(w.api.Accepted(), 1)
	is.Equal(w.api.Refused("use_dpop_nonce"), 1) // the first proof, before the nonce was known
	is.Equal(w.api.Refused("")-refused, 1)       // no proof of the old URL, no replayed jti
	is.Equal(w.op.Count("refresh_token"), 0)     // nothing to refresh for
}

// expire sets the cached expiry of the login of host in the past.
func expire(t *testing.T, w *deviceWorld, host string) {
	t.Helper()
	f := w.cacheFile()
	for k, e := range f.Tokens {
		if strings.HasPrefix(k, host+" ") {
			e.Expiry = time.Now().Add(-time.Minute)
			f.Tokens[k] = e
		}
	}
	if err := os.WriteFile(filepath.Join(w.home, "cache", native.CacheFileName), f.Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A copied refresh token is refused by the real server without the key:
// with no proof, and with a proof from another key (with the server's
// nonce, so only the key is wrong).
func TestCLI_DPoPCopiedRefreshTokenIsRefusedWithoutTheKey(t *testing.T) {
	is := is.New(t)
	w := newDPoPWorld(t)
	if res := w.login(); res.code != 0 {
		t.Fatalf("login failed (%d):\n%s", res.code, res.stderr)
	}
	e := w.apiEntry()
	is.True(e.RefreshToken != "")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.RefreshToken}, "client_id": {e.ClientID}, "resource": {e.Resource}}
	post := func(proof string) (int, string, string) {
		req, _ := http.NewRequest("POST", e.Metadata.TokenEndpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		is.NoErr(err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var oe struct{ Error string }
		json.Unmarshal(b, &oe)
		return resp.StatusCode, oe.Error, resp.Header.Get("DPoP-Nonce")
	}
	status, code, nonce := post("")
	is.Equal(status, 400)
	is.True(code != "")

	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	proof := func(nonce string) string {
		pub := thief.PublicKey
		k := &core.DPoPKey{Key: "thief", JWK: core.JWK{Kty: "EC", Crv: "P-256", X: b64(pub.X.FillBytes(make([]byte, 32))), Y: b64(pub.Y.FillBytes(make([]byte, 32)))}}
		in, err := core.ProofInput(k, "POST", e.Metadata.TokenEndpoint, "", nonce, time.Now(), rand.Reader)
		is.NoErr(err)
		sum := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, thief, sum[:])
		is.NoErr(err)
		return core.CompactJWS(in, append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}
	if nonce == "" {
		_, _, nonce = post(proof(""))
	}
	is.True(nonce != "")
	status, code, _ = post(proof(nonce))
	is.Equal(status, 400)
	is.Equal(code, "invalid_grant") // bound to the login's key
	t.Logf("refused: %s", code)

	// The login itself still refreshes: the refused attempts spent nothing.
	expire(t, w.deviceWorld, w.api.URL)
	is.Equal(w.auth("token", w.api.URL).code, 0)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// --dpop always against a server whose metadata names no DPoP algorithm is
// refused before the browser opens (one rule in core, the browser's too):
// no authorization request, no key made, no login kept.
func TestCLI_DPoPAlwaysAgainstAServerWithoutDPoPIsRefusedBeforeTheBrowserOpens(t *testing.T) {
	is := is.New(t)
	e := newEnv(t) // the zitadel example OP: no dpop_signing_alg_values_supported
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "browser.sh")
	is.NoErr(os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755))
	r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--dpop", "always", "--browser", script, "--timeout", "10s")
	is.Equal(r.code, 1)
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "publishes no dpop_signing_alg_values_supported"))
	is.True(strings.Contains(lines[0], "auto or never"))
	is.True(!strings.Contains(r.stderr, "/auth?")) // no URL printed, no browser
	_, err := os.Stat(opened)
	is.True(os.IsNotExist(err))
	keys, _ := filepath.Glob(filepath.Join(e.cache, native.DPoPKeysDir, "*"))
	is.Equal(len(keys), 0)
	is.Equal(e.srv.Requests("authorization_code"), 0)
}
