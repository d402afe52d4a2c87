package native

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/matryer/is"
)

// writeKey writes key as a PKCS #8 PEM file (0600) and returns its path.
func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	is.New(t).NoErr(err)
	p := filepath.Join(t.TempDir(), "key.pem")
	is.New(t).NoErr(os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return p
}

func b64int(n *big.Int, size int) string {
	if size == 0 {
		return base64.RawURLEncoding.EncodeToString(n.Bytes())
	}
	return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, size)))
}

// publicJWK is the public JWK of an EC P-256 or RSA key.
func publicJWK(key any) map[string]any {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64int(k.X, 32), "y": b64int(k.Y, 32), "alg": "ES256", "use": "sig"}
	case *rsa.PrivateKey:
		return map[string]any{"kty": "RSA", "n": b64int(k.N, 0), "e": b64int(big.NewInt(int64(k.E)), 0), "alg": "RS256", "use": "sig"}
	}
	panic("unsupported key")
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.New(t).NoErr(err)
	return k
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		is.New(t).NoErr(err)
		rsaKey = k
	})
	return rsaKey
}

// ciIdP is the test's own "CI identity provider": it signs subject tokens
// with a key whose JWKS the authorization server trusts.
type ciIdP struct {
	key      *ecdsa.PrivateKey
	keyPath  string
	issuer   string
	audience string
}

func newCIIdP(t *testing.T) *ciIdP {
	k := newECKey(t)
	return &ciIdP{key: k, keyPath: writeKey(t, k), issuer: "https://ci.example.com", audience: "dualauth-test"}
}

// token signs a subject token that lives ttl (negative: already expired).
func (c *ciIdP) token(t *testing.T, ttl time.Duration, key string) string {
	t.Helper()
	is := is.New(t)
	now := time.Now()
	claims := map[string]any{"iss": c.issuer, "aud": c.audience, "sub": "repo:dualauth/dualauth:ref:refs/heads/main", "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	in, err := core.SigningInput(core.AlgES256, "JWT", nil, claims)
	is.NoErr(err)
	sk, err := LoadSigningKey(key)
	is.NoErr(err)
	sig, err := sk.Sign(core.AlgES256, in)
	is.NoErr(err)
	return core.CompactJWS(in, sig)
}

const (
	basicSecret = "basic-SECRET-0123456789"
	postSecret  = "post-SECRET-9876543210"
)

// m2mServer is oidc-provider with a client per authentication method.
type m2mServer struct {
	*deviceop.Server
	ec, rsa *ecdsa.PrivateKey
	ecPath  string
	rsaPath string
	ci      *ciIdP
}

func startM2M(t *testing.T) *m2mServer {
	t.Helper()
	is := is.New(t)
	ec := newECKey(t)
	rk := newRSAKey(t)
	ci := newCIIdP(t)
	cc := []string{"client_credentials"}
	m := &deviceop.M2M{Clients: []map[string]any{
		{"client_id": "svc-basic", "client_secret": basicSecret, "token_endpoint_auth_method": "client_secret_basic", "grant_types": cc, "redirect_uris": []string{}, "response_types": []string{}, "scope": "api"},
		{"client_id": "svc-post", "client_secret": postSecret, "token_endpoint_auth_method": "client_secret_post", "grant_types": cc, "redirect_uris": []string{}, "response_types": []string{}},
		{"client_id": "svc-key", "token_endpoint_auth_method": "private_key_jwt", "grant_types": cc, "redirect_uris": []string{}, "response_types": []string{},
			"jwks": map[string]any{"keys": []any{publicJWK(ec), publicJWK(rk)}}},
		{"client_id": "svc-fed", "token_endpoint_auth_method": "none", "grant_types": []string{core.TokenExchangeGrantType}, "redirect_uris": []string{}, "response_types": []string{}},
	}}
	m.PostOnly = []string{"svc-post"}
	m.Subject.JWKS = map[string]any{"keys": []any{publicJWK(ci.key)}}
	m.Subject.Issuer, m.Subject.Audience = ci.issuer, ci.audience
	srv, err := deviceop.Start(deviceop.Options{M2M: m})
	is.NoErr(err)
	t.Cleanup(srv.Close)
	return &m2mServer{Server: srv, ec: ec, ecPath: writeKey(t, ec), rsaPath: writeKey(t, rk), ci: ci}
}

func grantOpts(t *testing.T, srv *m2mServer, client string) GrantOptions {
	dir := t.TempDir()
	return GrantOptions{Options: Options{
		Target:   core.Target{Host: srv.Issuer},
		ClientID: client,
		Store:    &KeyringStore{File: &FileCache{Dir: dir}, Mode: StorageFile},
		Getenv:   func(string) string { return "" },
	}}
}

func expire(t *testing.T, s Store, e *core.Entry) {
	t.Helper()
	is := is.New(t)
	unlock, err := s.Lock(context.Background(), e.Key())
	is.NoErr(err)
	defer unlock()
	_, cur, err := s.Load([]string{e.Key()})
	is.NoErr(err)
	cur.Expiry = time.Now().Add(-time.Minute)
	is.NoErr(s.Save(e.Key(), *cur))
}

func TestGrantLogin_AgainstOIDCProvider(t *testing.T) {
	srv := startM2M(t)
	t.Run("ClientSecretBasic", func(t *testing.T) {
		is := is.New(t)
		o := grantOpts(t, srv, "svc-basic")
		o.ClientSecret = basicSecret
		o.Grant = core.Grant{Type: core.ClientCredentialsGrantType, Scopes: []string{"api"}}
		e, err := GrantLogin(context.Background(), o)
		is.NoErr(err)
		is.Equal(e.Grant.ClientAuth, core.AuthSecretBasic)
		is.True(e.AccessToken != "")
		is.Equal(e.Scopes, []string{"api"})
		n := srv.Count("client_credentials")

		// Expired: auth token makes the grant again, with the stored secret.
		expire(t, o.Store, e)
		e2, err := Token(context.Background(), TokenOptions{Options: o.Options})
		is.NoErr(err)
		is.True(e2.AccessToken != e.AccessToken)
		is.Equal(srv.Count("client_credentials"), n+1)
	})
	t.Run("ClientSecretPostAfterBasicIsRefused", func(t *testing.T) {
		is := is.New(t)
		o := grantOpts(t, srv, "svc-post")
		o.ClientSecret = postSecret
		o.Grant = core.Grant{Type: core.ClientCredentialsGrantType}
		before := len(srv.Requests())
		e, err := GrantLogin(context.Background(), o)
		is.NoErr(err)
		is.Equal(e.Grant.ClientAuth, core.AuthSecretPost)
		reqs := srv.Requests()[before:]
		is.Equal(len(reqs), 2)
		is.True(reqs[0].Authorization) // basic first…
		is.Equal(reqs[0].Error, "invalid_client")
		is.True(!reqs[1].Authorization) // …then post, remembered:
		expire(t, o.Store, e)
		_, err = Token(context.Background(), TokenOptions{Options: o.Options})
		is.NoErr(err)
		reqs = srv.Requests()[before:]
		is.Equal(len(reqs), 3)
		is.True(!reqs[2].Authorization)
		is.Equal(reqs[2].Status, 200)
	})
	for _, k := range []struct{ name, path, alg string }{{"PrivateKeyJWT_ES256", srv.ecPath, core.AlgES256}, {"PrivateKeyJWT_RS256", srv.rsaPath, core.AlgRS256}} {
		t.Run(k.name, func(t *testing.T) {
			is := is.New(t)
			o := grantOpts(t, srv, "svc-key")
			o.Grant = core.Grant{Type: core.ClientCredentialsGrantType, Key: k.path}
			e, err := GrantLogin(context.Background(), o)
			is.NoErr(err)
			is.Equal(e.Grant.ClientAuth, core.AuthPrivateKeyJWT)
			is.Equal(e.Grant.Alg, k.alg)
			is.Equal(e.Grant.Key, k.path) // referenced, not copied
			// A second assertion is fresh: oidc-provider refuses a seen jti.
			expire(t, o.Store, e)
			_, err = Token(context.Background(), TokenOptions{Options: o.Options})
			is.NoErr(err)
		})
	}
	t.Run("TokenExchangeFromFileReadAfresh", func(t *testing.T) {
		is := is.New(t)
		o := grantOpts(t, srv, "svc-fed")
		path := filepath.Join(t.TempDir(), "token")
		is.NoErr(os.WriteFile(path, []byte(srv.ci.token(t, time.Hour, srv.ci.keyPath)+"\n"), 0o600))
		o.Grant = core.Grant{Type: core.TokenExchangeGrantType, SubjectToken: "file:" + path}
		e, err := GrantLogin(context.Background(), o)
		is.NoErr(err)
		// The kubelet replaces the file; the next exchange reads the new one.
		is.NoErr(os.WriteFile(path, []byte(srv.ci.token(t, -time.Minute, srv.ci.keyPath)), 0o600))
		expire(t, o.Store, e)
		_, err = Token(context.Background(), TokenOptions{Options: o.Options})
		is.True(err != nil) // the expired one was sent, and refused
		is.True(strings.Contains(err.Error(), "refused the subject token from file:"))
	})
	t.Run("TokenExchangeFromGitHubActions", func(t *testing.T) {
		is := is.New(t)
		var asked []string
		gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gh-request-token" {
				http.Error(w, "bad bearer", http.StatusUnauthorized)
				return
			}
			asked = append(asked, r.URL.Query().Get("audience"))
			json.NewEncoder(w).Encode(map[string]string{"value": srv.ci.token(t, time.Hour, srv.ci.keyPath)})
		}))
		defer gh.Close()
		o := grantOpts(t, srv, "svc-fed")
		env := map[string]string{EnvActionsIDTokenURL: gh.URL + "/idtoken?api-version=2.0", EnvActionsIDTokenToken: "gh-request-token"}
		o.Getenv = func(k string) string { return env[k] }
		o.Grant = core.Grant{Type: core.TokenExchangeGrantType, SubjectToken: "github-actions:" + srv.ci.audience}
		_, err := GrantLogin(context.Background(), o)
		is.NoErr(err)
		is.Equal(asked, []string{srv.ci.audience})
	})
	t.Run("ForgedSubjectTokenSavesNothing", func(t *testing.T) {
		is := is.New(t)
		o := grantOpts(t, srv, "svc-fed")
		forged := srv.ci.token(t, time.Hour, srv.ecPath) // signed by a key the server does not trust
		o.Getenv = func(k string) string { return map[string]string{"CI_TOKEN": forged}[k] }
		o.Grant = core.Grant{Type: core.TokenExchangeGrantType, SubjectToken: "env:CI_TOKEN"}
		_, err := GrantLogin(context.Background(), o)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "invalid_grant"))
		is.True(!strings.Contains(err.Error(), forged))
		_, e, _ := o.Store.Load(core.IssuerKeys(o.Target, "svc-fed"))
		is.Equal(e, nil)
	})
	t.Run("WrongSecretSavesNothing", func(t *testing.T) {
		is := is.New(t)
		o := grantOpts(t, srv, "svc-basic")
		o.ClientSecret = "not-the-secret-4242"
		o.Grant = core.Grant{Type: core.ClientCredentialsGrantType}
		_, err := GrantLogin(context.Background(), o)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "invalid_client"))
		is.True(!strings.Contains(err.Error(), "not-the-secret-4242"))
		_, e, _ := o.Store.Load(core.IssuerKeys(o.Target, "svc-basic"))
		is.Equal(e, nil)
		_, err = os.Stat(o.Store.(*KeyringStore).SecretsPath())
		is.True(os.IsNotExist(err))
	})
}

// Where the client secret is kept: never in the cache file; in the keyring
// when the store uses it, else in a 0600 secrets file; read back only
// under the lock (S33).
func TestKeyringStore_ClientSecretKeptApart(t *testing.T) {
	e := core.Entry{Host: "https://idp.example.com", ClientID: "svc", AccessToken: "at", Metadata: core.Metadata{Issuer: "https://idp.example.com", TokenEndpoint: "https://idp.example.com/token"},
		Grant: &core.Grant{Type: core.ClientCredentialsGrantType, ClientAuth: core.AuthSecretBasic}, ClientSecret: "the-SECRET"}
	key := e.Key()
	for _, mode := range []StorageMode{StorageKeyring, StorageFile} {
		t.Run(string(mode), func(t *testing.T) {
			is := is.New(t)
			kr := &memKeyring{}
			s := &KeyringStore{File: &FileCache{Dir: t.TempDir()}, Mode: mode, Keyring: kr}
			unlock, err := s.Lock(context.Background(), key)
			is.NoErr(err)
			is.NoErr(s.Save(key, e))
			unlock()
			raw, err := os.ReadFile(s.File.Path())
			is.NoErr(err)
			is.True(!strings.Contains(string(raw), "the-SECRET"))
			st, err := os.Stat(s.SecretsPath())
			if mode == StorageKeyring {
				is.True(os.IsNotExist(err))
				is.Equal(kr.items[DefaultKeyringService+"/"+secretUser(key)], "the-SECRET")
			} else {
				is.NoErr(err)
				is.Equal(st.Mode().Perm(), os.FileMode(0o600))
			}

			_, got, err := s.Load([]string{key}) // no lock: no secret
			is.NoErr(err)
			is.Equal(got.ClientSecret, "")
			is.Equal(SecretLocation(got), mode)
			calls := kr.calls

			unlock, err = s.Lock(context.Background(), key)
			is.NoErr(err)
			_, got, err = s.Load([]string{key})
			is.NoErr(err)
			is.Equal(got.ClientSecret, "the-SECRET")
			is.NoErr(s.Delete(key))
			unlock()
			if mode == StorageFile {
				is.Equal(kr.calls, calls) // the keyring never asked
			}
			_, err = os.Stat(s.SecretsPath())
			is.True(os.IsNotExist(err))
			is.Equal(len(kr.items), 0)
		})
	}
}

func TestLoadSigningKey(t *testing.T) {
	is := is.New(t)
	ec := newECKey(t)
	k, err := LoadSigningKey(writeKey(t, ec))
	is.NoErr(err)
	is.Equal(k.Alg, core.AlgES256)
	sig, err := k.Sign(core.AlgES256, []byte("a.b"))
	is.NoErr(err)
	is.Equal(len(sig), 64) // R||S
	_, err = k.Sign(core.AlgRS256, []byte("a.b"))
	is.True(err != nil) // the login's alg, or nothing

	r, err := LoadSigningKey(writeKey(t, newRSAKey(t)))
	is.NoErr(err)
	is.Equal(r.Alg, core.AlgRS256)

	// A JWK file is welcome too.
	jwk := publicJWK(ec)
	jwk["d"] = b64int(ec.D, 32)
	b, _ := json.Marshal(jwk)
	p := filepath.Join(t.TempDir(), "key.jwk")
	is.NoErr(os.WriteFile(p, b, 0o600))
	j, err := LoadSigningKey(p)
	is.NoErr(err)
	is.Equal(j.Alg, core.AlgES256)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	is.NoErr(err)
	for name, path := range map[string]string{
		"P384":    writeKey(t, p384),
		"Missing": filepath.Join(t.TempDir(), "nope.pem"),
		"NotAKey": func() string {
			p := filepath.Join(t.TempDir(), "cert.pem")
			os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}), 0o600)
			return p
		}(),
		"PublicJWK": func() string {
			b, _ := json.Marshal(publicJWK(ec))
			p := filepath.Join(t.TempDir(), "pub.jwk")
			os.WriteFile(p, b, 0o600)
			return p
		}(),
	} {
		_, err := LoadSigningKey(path)
		is.True(err != nil) // name
		t.Log(name, err)
	}
}

func TestReadSubjectToken_Sources(t *testing.T) {
	is := is.New(t)
	env := map[string]string{"CI_JWT": "from-env"}
	d := &Driver{Getenv: func(k string) string { return env[k] }}
	got, err := d.readSubjectToken(context.Background(), "env:CI_JWT")
	is.NoErr(err)
	is.Equal(got, "from-env")
	_, err = d.readSubjectToken(context.Background(), "env:NOPE")
	is.True(strings.Contains(err.Error(), "NOPE is not set"))

	p := filepath.Join(t.TempDir(), "tok")
	is.NoErr(os.WriteFile(p, []byte("one"), 0o600))
	got, _ = d.readSubjectToken(context.Background(), "file:"+p)
	is.Equal(got, "one")
	is.NoErr(os.WriteFile(p, []byte("two"), 0o600))
	got, _ = d.readSubjectToken(context.Background(), "file:"+p)
	is.Equal(got, "two") // afresh each time

	_, err = d.readSubjectToken(context.Background(), "github-actions")
	is.True(strings.Contains(err.Error(), "ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set"))
}

func TestGrantLogin_BadKeyFailsBeforeAnyRequest(t *testing.T) {
	is := is.New(t)
	o := GrantOptions{Options: Options{Target: core.Target{Host: "https://127.0.0.1:1"}, ClientID: "svc", Store: &KeyringStore{File: &FileCache{Dir: t.TempDir()}, Mode: StorageFile}}}
	o.Grant = core.Grant{Type: core.ClientCredentialsGrantType, Key: filepath.Join(t.TempDir(), "missing.pem")}
	_, err := GrantLogin(context.Background(), o)
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "reading the private key"))
}
