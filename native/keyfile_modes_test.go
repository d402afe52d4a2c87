package native

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestDPoPKey_ALoosenedKeyFileIsSetBackWithOneWarning (issue 19, item 3):
// a DPoP key file at 0644 in a 0755 dpop-keys/ is set back to 0600/0700 by
// its next use, with one warning naming both; a directory alone is set
// back too; a key made in a loosened directory sets it back first. The
// cache file's own repair does the same (TestFileCache_AFileOthersCanReadIsFixedOnTheNextRead).
func TestDPoPKey_ALoosenedKeyFileIsSetBackWithOneWarning(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file, dir os.FileMode
		want      string
	}{
		{"FileAndDirectory", 0o644, 0o755, "could be read by other users (mode 0644, its directory mode 0755); it is now 0600 and its directory is now 0700"},
		{"FileOnly", 0o640, 0o700, "could be read by other users (mode 0640); it is now 0600. If others share this machine, log in again for a new key"},
		{"DirectoryOnly", 0o600, 0o711, "could be read by other users (its directory mode 0711); its directory is now 0700"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var warned []string
			c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
			d := &Driver{Store: c, Warn: func(m string) { warned = append(warned, m) }}
			k := d.createDPoPKey(core.CreateKey{Alg: core.AlgES256})
			is.NoErr(k.Err)
			path, err := c.DPoPKeyPath(k.Key)
			is.NoErr(err)
			dir := filepath.Dir(path)
			is.NoErr(os.Chmod(path, tc.file))
			is.NoErr(os.Chmod(dir, tc.dir))

			sig, err := d.sign(core.Sign{Key: k.Key, Alg: core.AlgES256, Input: []byte("a.b")})
			is.NoErr(err)
			is.True(verifies(t, k.JWK, []byte("a.b"), sig)) // the key still works
			is.Equal(mode(t, path), os.FileMode(0o600))
			is.Equal(mode(t, dir), os.FileMode(0o700))
			is.Equal(len(warned), 1)
			is.True(strings.Contains(warned[0], "the DPoP key "+path+" "))
			is.True(strings.Contains(warned[0], tc.want))
			is.True(!strings.Contains(warned[0], "PRIVATE KEY"))

			_, err = d.sign(core.Sign{Key: k.Key, Alg: core.AlgES256, Input: []byte("a.b")})
			is.NoErr(err)
			is.Equal(len(warned), 1) // once
		})
	}
	t.Run("ANewKeyInALoosenedDirectory", func(t *testing.T) {
		is := is.New(t)
		var warned []string
		c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
		dir := filepath.Join(c.Dir, DPoPKeysDir)
		is.NoErr(os.Mkdir(dir, 0o700))
		is.NoErr(os.Chmod(dir, 0o755))
		_, _, err := c.CreateDPoPKey("k")
		is.NoErr(err)
		is.Equal(mode(t, dir), os.FileMode(0o700))
		is.Equal(len(warned), 1)
		is.True(strings.Contains(warned[0], "the DPoP key directory "+dir+" could be read by other users (mode 0755); it is now 0700"))
	})
}

// TestSign_AClientKeyOthersCanReadIsWarnedAboutButLeftAsItIs (issue 19,
// item 3): a --client-key file readable by group or others gets one
// warning per run, naming the file and the chmod; its mode is not changed.
// A 0600 key gets none.
func TestSign_AClientKeyOthersCanReadIsWarnedAboutButLeftAsItIs(t *testing.T) {
	is := is.New(t)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.NoErr(err)
	path := writeKey(t, k)
	var warned []string
	d := &Driver{Warn: func(m string) { warned = append(warned, m) }}
	_, err = d.sign(core.Sign{Key: path, Alg: core.AlgES256, Input: []byte("a.b")})
	is.NoErr(err)
	is.Equal(len(warned), 0) // 0600: nothing to say

	is.NoErr(os.Chmod(path, 0o644))
	for range 2 {
		_, err = d.sign(core.Sign{Key: path, Alg: core.AlgES256, Input: []byte("a.b")})
		is.NoErr(err)
	}
	is.Equal(len(warned), 1) // once per run
	is.True(strings.Contains(warned[0], "the private key "+path+" can be read by other users (mode 0644)"))
	is.True(strings.Contains(warned[0], "chmod 600 "+path))
	is.Equal(mode(t, path), os.FileMode(0o644)) // the user's file: not changed
}
