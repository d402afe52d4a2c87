//go:build keyring

package keyringtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// A DPoP login with --storage keyring against oidc-provider (DPoP with
// server nonces required, the device client registered for bound tokens):
// the private key is a Secret Service item (secret-tool finds it, and it
// is the key of the entry's public JWK), no dpop-keys/ file exists, and
// the cache file holds nothing of the key. A refresh after expiry is
// proved with that key; logout removes the item (S36).
func TestSecretService_DPoPKeyLivesInTheKeyringThroughRefreshAndLogout(t *testing.T) {
	is := is.New(t)
	op, err := deviceop.Start(deviceop.Options{DPoP: true, Interval: time.Second})
	is.NoErr(err)
	t.Cleanup(func() {
		op.Close()
		if t.Failed() {
			t.Logf("device-op stderr:\n%s", op.Stderr())
		}
	})
	w := &world{t: t, home: t.TempDir(), bus: sessionBus}
	w.cache = filepath.Join(w.home, "cache")
	is.NoErr(os.Mkdir(filepath.Join(w.home, "run"), 0o700))
	key := core.Key(op.Issuer, op.ClientID)
	lookup := func(user string) (string, bool) {
		cmd := exec.Command("secret-tool", "lookup", "service", native.DefaultKeyringService, "username", user)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=" + w.bus, "HOME=" + w.home}
		out, err := cmd.Output()
		return string(out), err == nil
	}
	var dpopUser string
	t.Cleanup(func() { // leave the shared keyring as found, even after a failure
		for _, u := range []string{key, dpopUser} {
			if u != "" {
				cmd := exec.Command("secret-tool", "clear", "service", native.DefaultKeyringService, "username", u)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=" + w.bus, "HOME=" + w.home}
				cmd.Run()
			}
		}
		w.checkNoSecretsOnStderr()
	})

	// The device login: approve the code auth shows on stderr.
	login := exec.Command(authBin, "login", op.Issuer, "--client-id", op.ClientID, "--device", "--dpop", "always", "--storage", "keyring", "--timeout", "40s")
	login.Env = w.environ()
	login.WaitDelay = 5 * time.Second
	errPipe, err := login.StderrPipe()
	is.NoErr(err)
	is.NoErr(login.Start())
	t.Cleanup(func() {
		if login.ProcessState == nil {
			login.Process.Kill()
			login.Wait()
		}
	})
	var stderr bytes.Buffer
	sc := bufio.NewScanner(errPipe)
	approved := false
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if u := strings.TrimSpace(line); !approved && strings.Contains(u, "/device?user_code=") && strings.HasPrefix(u, "http") {
			is.NoErr(op.Approve(t.Context(), u))
			approved = true
		}
	}
	if err := login.Wait(); err != nil {
		t.Fatalf("device login with DPoP failed: %v\n%s", err, stderr.String())
	}
	w.mu.Lock()
	w.stderrs = append(w.stderrs, stderr.String())
	w.mu.Unlock()
	is.True(approved)

	entry := func() core.Entry {
		t.Helper()
		f, err := core.DecodeCacheFile([]byte(w.fileRaw()))
		is.NoErr(err)
		e, ok := f.Tokens[key]
		is.True(ok)
		w.secret(e.AccessToken)
		return e
	}
	e := entry()
	is.Equal(e.TokenType, "DPoP")
	is.True(e.DPoP != nil)
	is.True(strings.HasPrefix(e.DPoP.Key, "dpop:keyring:"))
	is.Equal(e.RefreshTokenIn, "keyring")
	dpopUser = "dpop-key " + strings.TrimPrefix(e.DPoP.Key, "dpop:keyring:")

	// The private key is the keyring item, and it is the key of the
	// entry's public JWK.
	pemKey, ok := lookup(dpopUser)
	is.True(ok)
	blk, _ := pem.Decode([]byte(pemKey))
	is.True(blk != nil)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	is.NoErr(err)
	ek, ok := k.(*ecdsa.PrivateKey)
	is.True(ok)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	is.Equal(b64(ek.X.FillBytes(make([]byte, 32))), e.DPoP.JWK.X)
	is.Equal(b64(ek.Y.FillBytes(make([]byte, 32))), e.DPoP.JWK.Y)
	w.secret(strings.TrimSpace(pemKey))

	// No file holds it: no dpop-keys/ file, nothing of it in the cache.
	files, _ := filepath.Glob(filepath.Join(w.cache, native.DPoPKeysDir, "*"))
	is.Equal(len(files), 0)
	raw := w.fileRaw()
	is.True(!strings.Contains(raw, "PRIVATE KEY"))
	is.True(!strings.Contains(raw, b64(ek.D.FillBytes(make([]byte, 32)))))
	for _, l := range strings.Split(pemKey, "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			is.True(!strings.Contains(raw, l))
		}
	}

	// Expired: the refresh (refresh token from the keyring, proof signed
	// with the keyring's key) gets a new DPoP token.
	f, err := core.DecodeCacheFile([]byte(raw))
	is.NoErr(err)
	exp := f.Tokens[key]
	exp.Expiry = time.Now().Add(-time.Minute)
	f.Tokens[key] = exp
	is.NoErr(os.WriteFile(filepath.Join(w.cache, native.CacheFileName), f.Encode(), 0o600))
	r := w.auth(nil, "token", op.Issuer, "--client-id", op.ClientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, `"token_type": "DPoP"`))
	e2 := entry()
	is.True(e2.AccessToken != e.AccessToken)
	is.Equal(e2.DPoP.Key, e.DPoP.Key)
	refreshed := 0
	for _, rq := range op.Requests() {
		if rq.Path == "/token" && rq.GrantType == "refresh_token" && rq.Status == 200 {
			refreshed++
		}
	}
	is.Equal(refreshed, 1)

	// describe says where the key is, never what.
	r = w.auth(nil, "describe", op.Issuer, "--client-id", op.ClientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, `service "dualauth", username "`+dpopUser+`"`))
	is.True(!strings.Contains(r.stdout, "PRIVATE KEY"))

	// Logout removes the key from the keyring, with the refresh token.
	r = w.auth(nil, "logout", op.Issuer, "--client-id", op.ClientID)
	is.Equal(r.code, 0)
	_, ok = lookup(dpopUser)
	is.True(!ok)
	_, ok = lookup(key)
	is.True(!ok)
	for _, r := range w.stderrs {
		is.True(!strings.Contains(r, "PRIVATE KEY"))
	}
}
