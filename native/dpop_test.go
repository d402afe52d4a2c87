package native

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// verifies checks an ES256 signature by the public JWK.
func verifies(t *testing.T, jwk core.JWK, input, sig []byte) bool {
	t.Helper()
	x, _ := base64.RawURLEncoding.DecodeString(jwk.X)
	y, _ := base64.RawURLEncoding.DecodeString(jwk.Y)
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	sum := sha256.Sum256(input)
	return len(sig) == 64 && ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func keyFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, DPoPKeysDir, "*.key"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The keyring store keeps a DPoP key in the OS keyring when refresh tokens
// go there: no file, the driver signs with it, delete removes it (S36).
func TestDPoPKey_InTheKeyringWhenStorageAllows(t *testing.T) {
	is := is.New(t)
	f := &krFixture{t: t, dir: t.TempDir(), kr: &memKeyring{}, warn: &warnings{}}
	s := f.store(StorageKeyring)
	d := &Driver{Store: s}
	k := d.createDPoPKey(core.CreateKey{Alg: core.AlgES256, For: "x"})
	is.NoErr(k.Err)
	is.True(strings.HasPrefix(k.Key, "dpop:keyring:"))
	is.Equal(len(keyFiles(t, f.dir)), 0)
	_, id, _ := parseDPoPName(k.Key)
	is.True(strings.Contains(f.kr.item(dpopUser(id)), "PRIVATE KEY"))

	sig, err := d.sign(core.Sign{Key: k.Key, Alg: core.AlgES256, Input: []byte("a.b")})
	is.NoErr(err)
	is.True(verifies(t, k.JWK, []byte("a.b"), sig))

	is.NoErr(s.DeleteDPoPKey(k.Key))
	is.Equal(f.kr.item(dpopUser(id)), "")
	_, err = d.sign(core.Sign{Key: k.Key, Alg: core.AlgES256, Input: []byte("a.b")})
	is.True(err != nil) // gone: log in again
}

// Without a keyring (storage file, or a keyring that refuses the key) the
// key is a 0600 file in a 0700 directory beside the cache.
func TestDPoPKey_InA0600FileOtherwise(t *testing.T) {
	for _, c := range []struct {
		name string
		mode StorageMode
		kr   *memKeyring
	}{
		{"StorageFile", StorageFile, &memKeyring{}},
		{"KeyringRefusesTheKey", StorageAuto, &memKeyring{setFailing: errors.New("locked")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			f := &krFixture{t: t, dir: t.TempDir(), kr: c.kr, warn: &warnings{}}
			s := f.store(c.mode)
			d := &Driver{Store: s}
			k := d.createDPoPKey(core.CreateKey{Alg: core.AlgES256})
			is.NoErr(k.Err)
			is.True(strings.HasPrefix(k.Key, "dpop:file:"))
			files := keyFiles(t, f.dir)
			is.Equal(len(files), 1)
			st, err := os.Stat(files[0])
			is.NoErr(err)
			is.Equal(st.Mode().Perm(), os.FileMode(0o600))
			dst, err := os.Stat(filepath.Join(f.dir, DPoPKeysDir))
			is.NoErr(err)
			is.Equal(dst.Mode().Perm(), os.FileMode(0o700))
			sig, err := d.sign(core.Sign{Key: k.Key, Alg: core.AlgES256, Input: []byte("in")})
			is.NoErr(err)
			is.True(verifies(t, k.JWK, []byte("in"), sig))
			is.NoErr(s.DeleteDPoPKey(k.Key))
			is.Equal(len(keyFiles(t, f.dir)), 0)
		})
	}
}

func TestDPoPKey_NamesOutsideTheStoreAreRefused(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	for _, n := range []string{"dpop:file:../../etc/passwd", "dpop:file:", "dpop:other:x", "/keys/a.pem"} {
		_, err := c.DPoPKey(n)
		is.True(err != nil)
	}
}

// Which DPoP key no login uses is the core's call (core.DropKey): the
// driver deletes the key named, and only that one; saving or deleting an
// entry leaves keys alone.
func TestDPoPKey_DropKeyDeletesTheNamedKeyOnly(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	d := &Driver{Store: &FileCache{Dir: dir}}
	ctx := context.Background()
	key := "https://as.example c1"
	a := d.createDPoPKey(core.CreateKey{Alg: core.AlgES256})
	b := d.createDPoPKey(core.CreateKey{Alg: core.AlgES256})
	is.NoErr(a.Err)
	is.NoErr(b.Err)
	e := core.Entry{Host: "https://as.example", ClientID: "c1", AccessToken: "at", TokenType: "DPoP",
		DPoP: &core.DPoPKey{Key: b.Key, JWK: b.JWK, JKT: b.JWK.Thumbprint()}}
	is.NoErr(d.perform(ctx, core.Lock{Key: key}).(core.Locked).Err)
	is.NoErr(d.perform(ctx, core.Save{Key: key, Entry: e}).(core.Saved).Err)
	is.NoErr(d.perform(ctx, core.Delete{Key: key}).(core.Saved).Err)
	d.perform(ctx, core.Unlock{Key: key})
	is.Equal(len(keyFiles(t, dir)), 2) // no effect but DropKey drops a key

	is.Equal(d.perform(ctx, core.DropKey{Key: a.Key}), nil) // needs no answer
	files := keyFiles(t, dir)
	is.Equal(len(files), 1)
	_, id, _ := parseDPoPName(b.Key)
	is.Equal(filepath.Base(files[0]), id+".key")
}
