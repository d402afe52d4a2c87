package native

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dualauth/dualauth/core"
)

// DPoP keys (RFC 9449): one ES256 key per login, made at login by the
// [core.CreateKey] effect and used by [core.Sign]. The private key stays
// where it was made — the OS keyring when the store keeps refresh tokens
// there, else a 0600 file in DPoPKeysDir beside the cache — and is never
// printed or copied into the cache file; the entry records only its name,
// public key and thumbprint. The name says where it is:
// "dpop:keyring:ID" or "dpop:file:ID" (S36).

// DPoPKeysDir is the directory (0700) beside the token cache that holds
// DPoP keys kept in files, one 0600 PKCS #8 PEM file per key.
const DPoPKeysDir = "dpop-keys"

const (
	dpopPrefix  = "dpop:"
	dpopKeyring = "keyring"
	dpopFile    = "file"
)

// maxDPoPKey caps a stored key: a P-256 PKCS #8 PEM is about 240 bytes.
const maxDPoPKey = 4 << 10

// DPoPKeyStore keeps the private keys of DPoP logins.
type DPoPKeyStore interface {
	// CreateDPoPKey makes a new P-256 key for the login under cacheKey and
	// returns its name and public key.
	CreateDPoPKey(cacheKey string) (string, core.JWK, error)
	// DPoPKey returns the key by its name.
	DPoPKey(name string) (*SigningKey, error)
	// DeleteDPoPKey removes the key; a missing one is no error.
	DeleteDPoPKey(name string) error
}

func parseDPoPName(name string) (where, id string, err error) {
	rest, ok := strings.CutPrefix(name, dpopPrefix)
	where, id, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || (where != dpopKeyring && where != dpopFile) || id == "" || strings.ContainsAny(id, `/\.`) {
		return "", "", fmt.Errorf("%q is not the name of a DPoP key", name)
	}
	return where, id, nil
}

// newDPoPKey makes a P-256 key: its PKCS #8 PEM, its public JWK and a
// random ID.
func newDPoPKey() (pemBytes []byte, jwk core.JWK, id string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, core.JWK{}, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, core.JWK{}, "", err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, core.JWK{}, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), dpopPublicJWK(&k.PublicKey), base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func dpopPublicJWK(k *ecdsa.PublicKey) core.JWK {
	return core.JWK{Kty: "EC", Crv: "P-256", X: b64(k.X, 32), Y: b64(k.Y, 32)}
}

func parseDPoPKey(raw []byte, name string) (*SigningKey, error) {
	k, err := parseSigningKey(raw, "of "+name)
	if err != nil {
		return nil, err
	}
	if k.Alg != core.AlgES256 {
		return nil, fmt.Errorf("the DPoP key %s is not an ES256 key", name)
	}
	return k, nil
}

func (c *FileCache) dpopPath(id string) string { return filepath.Join(c.Dir, DPoPKeysDir, id+".key") }

// CreateDPoPKey implements [DPoPKeyStore]: a 0600 file in DPoPKeysDir.
func (c *FileCache) CreateDPoPKey(string) (string, core.JWK, error) {
	p, jwk, id, err := newDPoPKey()
	if err != nil {
		return "", core.JWK{}, err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, DPoPKeysDir), dirPerm); err != nil {
		return "", core.JWK{}, fmt.Errorf("creating the DPoP key directory: %w", err)
	}
	if d, err := os.Open(filepath.Join(c.Dir, DPoPKeysDir)); err == nil {
		// One made by an older dualauth or by hand may be open to others.
		if st, err := d.Stat(); err == nil {
			if fix := looseMode(d, st, dirPerm, ""); fix != nil {
				c.repairModes("the DPoP key directory "+d.Name(), "log in again for new keys", fix)
			}
		}
		d.Close()
	}
	// A new name: O_EXCL, so nothing that was there (a link) is written through.
	f, err := os.OpenFile(c.dpopPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return "", core.JWK{}, fmt.Errorf("writing the DPoP key: %w", err)
	}
	_, err = f.Write(p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(c.dpopPath(id))
		return "", core.JWK{}, fmt.Errorf("writing the DPoP key: %w", err)
	}
	return dpopPrefix + dpopFile + ":" + id, jwk, nil
}

// DPoPKey implements [DPoPKeyStore] for keys in files.
func (c *FileCache) DPoPKey(name string) (*SigningKey, error) {
	where, id, err := parseDPoPName(name)
	if err != nil {
		return nil, err
	}
	if where != dpopFile {
		return nil, fmt.Errorf("the DPoP key of this login is in the OS keyring: use the keyring storage (not --storage file) to use it")
	}
	f, err := os.Open(c.dpopPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the DPoP key of this login is gone (%s): log in again", c.dpopPath(id))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the DPoP key: %w", err)
	}
	defer f.Close()
	c.repairDPoPModes(f)
	raw, err := readCappedFile(f, maxDPoPKey)
	if err != nil {
		return nil, fmt.Errorf("reading the DPoP key: %w", err)
	}
	return parseDPoPKey(raw, name)
}

// repairDPoPModes sets a key file that others may read to 0600, and its
// directory to 0700, with one warning, as the cache file is (S24, S36).
func (c *FileCache) repairDPoPModes(f *os.File) {
	var fixes []modeFix
	if st, err := f.Stat(); err == nil {
		fixes = looseMode(f, st, filePerm, "")
	}
	d, err := os.Open(filepath.Dir(f.Name()))
	if err == nil {
		defer d.Close()
		if st, err := d.Stat(); err == nil {
			fixes = append(fixes, looseMode(d, st, dirPerm, "its directory")...)
		}
	}
	c.repairModes("the DPoP key "+f.Name(), "log in again for a new key", fixes)
}

// DeleteDPoPKey implements [DPoPKeyStore].
func (c *FileCache) DeleteDPoPKey(name string) error {
	where, id, err := parseDPoPName(name)
	if err != nil || where != dpopFile {
		return err
	}
	if err := os.Remove(c.dpopPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the DPoP key: %w", err)
	}
	return nil
}

func dpopUser(id string) string { return "dpop-key " + id }

// CreateDPoPKey implements [DPoPKeyStore]: in the OS keyring when the
// store keeps refresh tokens there, else (or when the keyring fails, with
// a warning) in a file.
func (s *KeyringStore) CreateDPoPKey(cacheKey string) (string, core.JWK, error) {
	info, err := s.Resolve()
	if err != nil || info.InUse != StorageKeyring {
		if s.mode() == StorageKeyring {
			return "", core.JWK{}, err
		}
		return s.File.CreateDPoPKey(cacheKey)
	}
	p, jwk, id, err := newDPoPKey()
	if err != nil {
		return "", core.JWK{}, err
	}
	if kerr := s.set(dpopUser(id), string(p)); kerr != nil {
		s.warn(fmt.Sprintf("could not store the DPoP key in the OS keyring: %v; it is kept in %s (0600) instead", kerr, filepath.Join(s.File.Dir, DPoPKeysDir)))
		return s.File.CreateDPoPKey(cacheKey)
	}
	return dpopPrefix + dpopKeyring + ":" + id, jwk, nil
}

// DPoPKey implements [DPoPKeyStore].
func (s *KeyringStore) DPoPKey(name string) (*SigningKey, error) {
	where, id, err := parseDPoPName(name)
	if err != nil {
		return nil, err
	}
	if where == dpopFile {
		return s.File.DPoPKey(name)
	}
	v, err := s.get(dpopUser(id))
	if errors.Is(err, ErrSecretNotFound) {
		return nil, fmt.Errorf("the DPoP key of this login is missing from the OS keyring (%s): log in again", KeyringName())
	}
	if err != nil {
		return nil, about(wrap("read", err), "the DPoP key")
	}
	return parseDPoPKey([]byte(v), name)
}

// DeleteDPoPKey implements [DPoPKeyStore].
func (s *KeyringStore) DeleteDPoPKey(name string) error {
	where, id, err := parseDPoPName(name)
	if err != nil {
		return err
	}
	if where == dpopFile {
		return s.File.DeleteDPoPKey(name)
	}
	return s.del(dpopUser(id))
}

// dpopKeys is the store's key store.
func dpopKeys(s Store) (DPoPKeyStore, error) {
	if k, ok := s.(DPoPKeyStore); ok {
		return k, nil
	}
	return nil, errors.New("this token store cannot keep DPoP keys: log in with --dpop never")
}

func (d *Driver) createDPoPKey(e core.CreateKey) core.KeyCreated {
	if e.Alg != core.AlgES256 {
		return core.KeyCreated{Err: fmt.Errorf("DPoP keys are ES256, not %s", e.Alg)}
	}
	ks, err := dpopKeys(d.Store)
	if err != nil {
		return core.KeyCreated{Err: err}
	}
	name, jwk, err := ks.CreateDPoPKey(e.For)
	return core.KeyCreated{Key: name, JWK: jwk, Err: err}
}

// signDPoP signs with the DPoP key named in e.
func (d *Driver) signDPoP(e core.Sign) ([]byte, error) {
	ks, err := dpopKeys(d.Store)
	if err != nil {
		return nil, err
	}
	k, err := ks.DPoPKey(e.Key)
	if err != nil {
		return nil, err
	}
	return k.Sign(e.Alg, e.Input)
}

// dropDPoPKey removes a key no entry uses any more; failing is a warning.
func (d *Driver) dropDPoPKey(name string) {
	if name == "" {
		return
	}
	ks, err := dpopKeys(d.Store)
	if err == nil {
		err = ks.DeleteDPoPKey(name)
	}
	if err != nil {
		d.warn(fmt.Sprintf("the old DPoP key stays: %v", err))
	}
}

// IsDPoPKey reports whether a Sign effect's key names a DPoP key.
func IsDPoPKey(name string) bool { return strings.HasPrefix(name, dpopPrefix) }

// Proof signs a DPoP proof (RFC 9449 §7) for one request — method and
// target URL — to a resource with e's access token (ath), with nonce, or
// the latest one the resource sent. It fails for a bearer login.
func (o *Options) Proof(e *core.Entry, method, target, nonce string) (string, error) {
	s, err := o.store()
	if err != nil {
		return "", err
	}
	d := o.driver(s)
	sg, err := core.ResourceProof(e, method, target, nonce, d.now(), rand.Reader)
	if err != nil {
		return "", err
	}
	sig, err := d.sign(sg)
	if err != nil {
		return "", fmt.Errorf("signing the DPoP proof: %w", err)
	}
	return core.CompactJWS(sg.Input, sig), nil
}

// DPoPKeyPath is where the file store keeps the DPoP key named name, for
// `auth describe` (never the key itself); "" for a key in the keyring.
func (c *FileCache) DPoPKeyPath(name string) (string, error) {
	where, id, err := parseDPoPName(name)
	if err != nil || where != dpopFile {
		return "", err
	}
	return c.dpopPath(id), nil
}

// DPoPKeyLocation says where the DPoP key named name is kept, for `auth
// describe`: the OS keyring item (service and user, as `secret-tool
// lookup` takes them) or the 0600 file — never the key.
func (s *KeyringStore) DPoPKeyLocation(name string) (string, error) {
	where, id, err := parseDPoPName(name)
	if err != nil {
		return "", err
	}
	if where == dpopFile {
		p, _ := s.File.DPoPKeyPath(name)
		return p + " (0600)", nil
	}
	return fmt.Sprintf("the OS keyring (%s, service %q, username %q)", KeyringName(), s.service(), dpopUser(id)), nil
}
