package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dualauth/dualauth/core"
)

// SecretsFileName is the 0600 file beside the token cache that keeps the
// client secrets of logins without a person when the keyring does not
// (storage file, or a keyring that is unavailable). It is read only under
// the cache lock, when a grant is made: `auth token` on a valid token never
// opens it.
const SecretsFileName = "client-secrets.json"

// Where [core.Entry.ClientSecretIn] says a client secret is.
const (
	secretInKeyring = "keyring"
	secretInFile    = "file"
)

// maxSecretsFile caps the secrets file: a few secrets of a few hundred bytes.
const maxSecretsFile = 1 << 20

// SecretLocation says where an entry's client secret is: "keyring",
// "file", or "" when it has none stored (a public client, a key, or a
// secret read from a Databricks CLI config file each time).
func SecretLocation(e *core.Entry) StorageMode {
	switch {
	case e == nil:
		return ""
	case e.ClientSecretIn == secretInKeyring:
		return StorageKeyring
	case e.ClientSecretIn == secretInFile:
		return StorageFile
	}
	return ""
}

// SecretsPath is the file that keeps client secrets when the keyring does not.
func (s *KeyringStore) SecretsPath() string { return filepath.Join(s.File.Dir, SecretsFileName) }

func secretUser(key string) string { return key + " client_secret" }

func (s *KeyringStore) readSecrets() (map[string]string, error) {
	m := map[string]string{}
	b, err := readCapped(s.SecretsPath(), maxSecretsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the client secrets file: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the client secrets file %s is not valid JSON: log in again", s.SecretsPath())
	}
	return m, nil
}

// changeSecrets rewrites the secrets file (0600, atomically); the caller
// holds the login's lock, and the file's read-modify-write is done under
// the cache file's own lock (other logins may be saved meanwhile). An
// empty map removes the file.
func (s *KeyringStore) changeSecrets(change func(map[string]string)) error {
	return s.File.underFileLock(func() error { return s.changeSecretsLocked(change) })
}

func (s *KeyringStore) changeSecretsLocked(change func(map[string]string)) error {
	m, err := s.readSecrets()
	if err != nil {
		return err
	}
	n := len(m)
	change(m)
	if len(m) == 0 {
		if n == 0 {
			return nil
		}
		if err := os.Remove(s.SecretsPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the client secrets file: %w", err)
		}
		return nil
	}
	b, _ := json.MarshalIndent(m, "", "  ") // a string map always marshals
	return writeAtomic(s.SecretsPath(), append(b, '\n'))
}

// secretTarget is where a client secret goes, given the entry it replaces:
// as a refresh token would, except that in auto mode without a probe (a
// repeated grant) it stays where it is.
func (s *KeyringStore) secretTarget(old *core.Entry) StorageMode {
	switch s.mode() {
	case StorageKeyring, StorageFile:
		return s.mode()
	}
	s.mu.Lock()
	r := s.resolved
	s.mu.Unlock()
	if r != nil && r.InUse != "" {
		return r.InUse
	}
	if SecretLocation(old) == StorageKeyring {
		return StorageKeyring
	}
	return StorageFile
}

// putSecret moves e's client secret out of the entry, to the keyring or
// the secrets file, before the entry is saved; the caller holds the lock.
// The new copy is written before the old one is removed. An entry without
// a secret removes any stored one.
func (s *KeyringStore) putSecret(key string, e *core.Entry, old *core.Entry) error {
	secret := e.ClientSecret
	e.ClientSecret, e.ClientSecretIn = "", ""
	was := SecretLocation(old)
	if secret == "" {
		return s.dropSecret(key, was)
	}
	if s.secretTarget(old) == StorageKeyring {
		kerr := s.toKeyringSecret(key, secret)
		if kerr == nil {
			e.ClientSecretIn = secretInKeyring
			if was == StorageFile {
				return s.changeSecrets(func(m map[string]string) { delete(m, key) })
			}
			return nil
		}
		s.warn(fmt.Sprintf("could not store the client secret in the OS keyring: %v; it is kept in %s (0600) instead", kerr, s.SecretsPath()))
	}
	if err := s.changeSecrets(func(m map[string]string) { m[key] = secret }); err != nil {
		return err
	}
	e.ClientSecretIn = secretInFile
	if was == StorageKeyring {
		if err := s.del(secretUser(key)); err != nil {
			s.warn(fmt.Sprintf("the old client secret of %s stays in the OS keyring: %v", key, err))
		}
	}
	return nil
}

func (s *KeyringStore) toKeyringSecret(key, secret string) error {
	if n := len(secret); n > s.maxSecret() {
		return fmt.Errorf("the client secret is %d bytes, more than the %d bytes dualauth puts in the OS keyring (%s)", n, s.maxSecret(), KeyringName())
	}
	if s.holds(secretUser(key), secret) {
		return nil
	}
	return s.set(secretUser(key), secret)
}

// dropSecret removes the client secret stored for key at where.
func (s *KeyringStore) dropSecret(key string, where StorageMode) error {
	switch where {
	case StorageKeyring:
		if err := s.del(secretUser(key)); err != nil {
			s.warn(fmt.Sprintf("the client secret of %s stays in the OS keyring: %v", key, err))
		}
	case StorageFile:
		return s.changeSecrets(func(m map[string]string) { delete(m, key) })
	}
	return nil
}

// fillSecret puts the stored client secret into e; only the lock holder
// calls it. A secret that is gone leaves e without one: the grant then
// asks for a new login.
func (s *KeyringStore) fillSecret(key string, e *core.Entry) error {
	switch SecretLocation(e) {
	case StorageKeyring:
		v, err := s.get(secretUser(key))
		switch {
		case errors.Is(err, ErrSecretNotFound):
			s.warn(fmt.Sprintf("the client secret of %s is missing from the OS keyring (%s)", key, KeyringName()))
		case err != nil:
			return about(wrap("read", err), "the client secret")
		}
		e.ClientSecret = v
	case StorageFile:
		m, err := s.readSecrets()
		if err != nil {
			return err
		}
		e.ClientSecret = m[key]
	}
	return nil
}
