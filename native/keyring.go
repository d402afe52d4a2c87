package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/zalando/go-keyring"
)

// StorageMode says where a login's refresh token is kept: auto, keyring or
// file. The access token, its expiry and the server metadata always stay in
// the file cache, so `auth token` on a valid token never waits on a keyring.
type StorageMode string

// Storage modes.
const (
	// StorageAuto uses the OS keyring when it answers a probe at login,
	// else the file, and says so.
	StorageAuto StorageMode = "auto"
	// StorageKeyring keeps refresh tokens in the OS keyring; a keyring
	// that does not answer is an error, never a silent fallback.
	StorageKeyring StorageMode = "keyring"
	// StorageFile keeps refresh tokens in the 0600 cache file.
	StorageFile StorageMode = "file"
)

// ParseStorageMode reads a --storage value, DUALAUTH_STORAGE or a profile's
// `storage` key; "" is auto.
func ParseStorageMode(s string) (StorageMode, error) {
	switch m := StorageMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return StorageAuto, nil
	case StorageAuto, StorageKeyring, StorageFile:
		return m, nil
	}
	return "", fmt.Errorf("storage must be auto, keyring or file, not %q", s)
}

// Keyring is what the store needs from an OS keyring: go-keyring's Set, Get
// and Delete. Get and Delete return [ErrSecretNotFound] for a missing item.
// Tests swap in stubs (one that blocks, one that fails).
type Keyring interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// ErrSecretNotFound is what a [Keyring] returns for a missing item.
var ErrSecretNotFound = keyring.ErrNotFound

// OSKeyring is the system keyring through github.com/zalando/go-keyring:
// the Secret Service over D-Bus on Linux, the Keychain on macOS, the
// Credential Manager on Windows.
var OSKeyring Keyring = osKeyring{}

type osKeyring struct{}

func (osKeyring) Set(service, user, secret string) error {
	if err := sessionBus(); err != nil {
		return err
	}
	return keyring.Set(service, user, secret)
}

func (osKeyring) Get(service, user string) (string, error) {
	if err := sessionBus(); err != nil {
		return "", err
	}
	return keyring.Get(service, user)
}

func (osKeyring) Delete(service, user string) error {
	if err := sessionBus(); err != nil {
		return err
	}
	return keyring.Delete(service, user)
}

// sessionBus checks, where the keyring is the Secret Service, that there
// is a D-Bus session bus to ask, as godbus finds one. Without one godbus
// runs dbus-launch, which (with dbus-x11 installed) starts a bus and a
// keyring daemon that outlive auth; we say "no session bus" instead.
func sessionBus() error {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return nil
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	for _, f := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(fmt.Sprintf("/run/user/%d/%s", os.Getuid(), f)); err == nil {
			return nil
		}
	}
	return errNoSessionBus
}

var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")

// KeyringName names the OS keyring in messages.
func KeyringName() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	}
	return "Secret Service"
}

// Defaults of [KeyringStore].
const (
	// DefaultKeyringService is the service name of the keyring items; the
	// item's user is the cache key (issuer and client ID).
	DefaultKeyringService = "dualauth"
	// DefaultKeyringTimeout bounds every keyring call. A healthy keyring
	// answers in a few ms; a broken Secret Service can block for 120 s.
	DefaultKeyringTimeout = 3 * time.Second
	// DefaultProbeTimeout bounds the probe that auto mode makes at login.
	DefaultProbeTimeout = time.Second
	// DefaultMaxKeyringSecret is the largest refresh token put in the
	// keyring: macOS limits an item to ~4 KiB, Windows to 2.5 KiB.
	DefaultMaxKeyringSecret = 2048
)

// refreshTokenInKeyring is the marker in [core.Entry.RefreshTokenIn].
const refreshTokenInKeyring = "keyring"

// probeUser is the keyring item the probe looks up; it never exists.
const probeUser = "dualauth-probe"

// KeyringError is a keyring call that failed or did not answer in time. It
// names the keyring and the fix; it never contains a token.
type KeyringError struct {
	// Op is what was asked: "probe", "read", "store" or "remove".
	Op string
	// Timeout is the deadline that passed; 0 when the keyring answered
	// with an error.
	Timeout time.Duration
	Err     error
	// Item is what was read or written: "" means the refresh token.
	Item string
}

// about names the item of a keyring error (a client secret, a DPoP key).
func about(err error, item string) error {
	var ke *KeyringError
	if !errors.As(err, &ke) {
		return err
	}
	c := *ke
	c.Item = item
	return &c
}

// Reason is the error without the fix: what the login notice and
// `auth describe` show.
func (e *KeyringError) Reason() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("the OS keyring (%s) did not answer within %s", KeyringName(), e.Timeout)
	}
	return fmt.Sprintf("the OS keyring (%s) failed: %s", KeyringName(), oneLine(e.Err.Error()))
}

func (e *KeyringError) Error() string {
	fix := "unlock the keyring, or use --storage file"
	switch {
	case errors.Is(e.Err, errNoSessionBus):
		fix = "use --storage file, or run auth in a session with a keyring"
	case e.Op == "read":
		fix = "unlock the keyring, or log in again with --storage file"
	}
	item := e.Item
	if item == "" {
		item = "the refresh token"
	}
	what := map[string]string{"probe": "probing it", "read": "reading " + item, "store": "storing " + item, "remove": "removing " + item}[e.Op]
	return fmt.Sprintf("%s (%s); %s", e.Reason(), what, fix)
}

func (e *KeyringError) Unwrap() error { return e.Err }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// StorageInfo says where refresh tokens go and why: the login notice and
// `auth describe` show it.
type StorageInfo struct {
	// Requested is the configured mode; InUse is keyring or file, or ""
	// when the keyring was requested and is unavailable.
	Requested, InUse StorageMode
	// Reason explains InUse in words, e.g. "keyring unavailable: …".
	Reason string
	// File is the cache file; Keyring names the OS keyring.
	File, Keyring string
}

// KeyringStore is a [Store] that keeps refresh tokens in the OS keyring and
// everything else in a [FileCache]: the file entry has an empty
// refresh_token and refresh_token_in "keyring". Load fills the refresh
// token from the keyring only while this store holds the lock — the core
// loads without the lock for the fast path (access token and expiry only)
// and again under the lock before a refresh or a logout — so `auth token` on
// a valid token never calls the keyring.
//
// Every keyring call ends within Timeout: go-keyring takes no context, so
// the call runs in a goroutine that is abandoned at the deadline (a CLI
// exits soon after). After a timeout, further calls fail at once.
//
// Mode decides where Save puts a refresh token: keyring, file, or for auto
// what [KeyringStore.Resolve] found at login, else wherever the entry's
// token already is. An entry stored the other way moves on its next save
// (login or refresh) and is never lost: the new copy is written before the
// old one is removed. When the keyring cannot take a token that Save is
// given (locked, no answer, too big), in any mode, the token is kept in
// the 0600 file with a warning rather than lost: the server has already
// issued it, and a rotating server has spent the one it replaces.
//
// Whether the lock is held is the FileCache's to say (see [Store] for
// sharing a store between goroutines).
type KeyringStore struct {
	File *FileCache
	Mode StorageMode
	// Keyring is the keyring; nil means OSKeyring.
	Keyring Keyring
	// Service names the keyring items; "" means DefaultKeyringService.
	Service string
	// Timeout bounds each keyring call; 0 means DefaultKeyringTimeout.
	// ProbeTimeout bounds auto mode's login probe; 0 means the smaller
	// of DefaultProbeTimeout and Timeout.
	Timeout, ProbeTimeout time.Duration
	// MaxSecret is the largest refresh token put in the keyring; 0 means
	// DefaultMaxKeyringSecret. A larger one is refused, never truncated.
	MaxSecret int
	// Warn receives non-fatal problems; nil writes them to stderr.
	Warn func(string)

	mu       sync.Mutex
	resolved *StorageInfo
	stalled  *KeyringError
	known    map[string]string // key → refresh token the keyring holds, as last read or written
}

// NewKeyringStore wraps the file cache for the storage mode named by mode
// ("" is auto).
func NewKeyringStore(file *FileCache, mode string) (*KeyringStore, error) {
	m, err := ParseStorageMode(mode)
	if err != nil {
		return nil, err
	}
	return &KeyringStore{File: file, Mode: m, Warn: file.Warn}, nil
}

func (s *KeyringStore) keyring() Keyring {
	if s.Keyring != nil {
		return s.Keyring
	}
	return OSKeyring
}

func (s *KeyringStore) service() string {
	if s.Service != "" {
		return s.Service
	}
	return DefaultKeyringService
}

func (s *KeyringStore) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultKeyringTimeout
}

func (s *KeyringStore) probeTimeout() time.Duration {
	if s.ProbeTimeout > 0 {
		return s.ProbeTimeout
	}
	return min(DefaultProbeTimeout, s.timeout())
}

func (s *KeyringStore) maxSecret() int {
	if s.MaxSecret > 0 {
		return s.MaxSecret
	}
	return DefaultMaxKeyringSecret
}

func (s *KeyringStore) mode() StorageMode {
	if s.Mode == "" {
		return StorageAuto
	}
	return s.Mode
}

func (s *KeyringStore) warn(msg string) {
	if s.Warn != nil {
		s.Warn(msg)
		return
	}
	fmt.Fprintln(os.Stderr, "warning:", core.Sanitize(msg))
}

// call runs f with a deadline. A timeout is a *KeyringError; f's own
// errors come back as they are (ErrSecretNotFound included).
func call[T any](s *KeyringStore, op string, timeout time.Duration, f func(Keyring) (T, error)) (T, error) {
	var zero T
	s.mu.Lock()
	stalled := s.stalled
	s.mu.Unlock()
	if stalled != nil {
		return zero, &KeyringError{Op: op, Timeout: stalled.Timeout}
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1) // the abandoned call's send never blocks
	kr := s.keyring()
	go func() {
		v, err := f(kr)
		ch <- result{v, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		err := &KeyringError{Op: op, Timeout: timeout}
		s.mu.Lock()
		s.stalled = err
		s.mu.Unlock()
		return zero, err
	}
}

// wrap turns a keyring's own error into a *KeyringError.
func wrap(op string, err error) error {
	var ke *KeyringError
	if err == nil || errors.As(err, &ke) {
		return err
	}
	return &KeyringError{Op: op, Err: err}
}

func (s *KeyringStore) get(key string) (string, error) {
	v, err := call(s, "read", s.timeout(), func(k Keyring) (string, error) { return k.Get(s.service(), key) })
	if err == nil {
		s.remember(key, v)
	}
	return v, err
}

func (s *KeyringStore) set(key, secret string) error {
	_, err := call(s, "store", s.timeout(), func(k Keyring) (struct{}, error) { return struct{}{}, k.Set(s.service(), key, secret) })
	if err == nil {
		s.remember(key, secret)
	}
	return wrap("store", err)
}

func (s *KeyringStore) del(key string) error {
	_, err := call(s, "remove", s.timeout(), func(k Keyring) (struct{}, error) { return struct{}{}, k.Delete(s.service(), key) })
	s.remember(key, "")
	if errors.Is(err, ErrSecretNotFound) {
		return nil
	}
	return wrap("remove", err)
}

func (s *KeyringStore) remember(key, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		s.known = map[string]string{}
	}
	if v == "" {
		delete(s.known, key)
		return
	}
	s.known[key] = v
}

func (s *KeyringStore) holds(key, v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return v != "" && s.known[key] == v
}

// Probe asks the keyring for an item that does not exist: "not found"
// means it answers. Auto mode waits ProbeTimeout, keyring mode Timeout.
func (s *KeyringStore) Probe() error {
	timeout := s.probeTimeout()
	if s.mode() == StorageKeyring {
		timeout = s.timeout() // no fallback to hurry to: give it the full deadline
	}
	_, err := call(s, "probe", timeout, func(k Keyring) (string, error) { return k.Get(s.service(), probeUser) })
	if err == nil || errors.Is(err, ErrSecretNotFound) {
		return nil
	}
	return wrap("probe", err)
}

// Resolve decides where a login's refresh token goes, once per store: file
// mode without asking the keyring; keyring and auto modes by a probe. An
// unavailable keyring is an error in keyring mode (no fallback) and the
// file in auto mode, with the reason in the info. `auth login` calls it
// before opening the browser; `auth describe` shows its result.
func (s *KeyringStore) Resolve() (StorageInfo, error) {
	s.mu.Lock()
	if r := s.resolved; r != nil {
		s.mu.Unlock()
		if r.InUse == "" {
			return *r, errors.New(r.Reason)
		}
		return *r, nil
	}
	s.mu.Unlock()
	info := StorageInfo{Requested: s.mode(), File: s.File.Path(), Keyring: KeyringName()}
	var err error
	switch info.Requested {
	case StorageFile:
		info.InUse, info.Reason = StorageFile, "storage mode file: refresh tokens are kept in the cache file"
	default:
		start := time.Now()
		if perr := s.Probe(); perr != nil {
			var ke *KeyringError
			errors.As(perr, &ke)
			if info.Requested == StorageKeyring {
				info.Reason = perr.Error()
				err = perr
			} else {
				info.InUse, info.Reason = StorageFile, "keyring unavailable: "+ke.Reason()
			}
		} else {
			info.InUse = StorageKeyring
			info.Reason = fmt.Sprintf("the OS keyring (%s) answered in %s", KeyringName(), time.Since(start).Round(time.Millisecond))
		}
	}
	s.mu.Lock()
	s.resolved = &info
	s.mu.Unlock()
	return info, err
}

// Location says where an entry's refresh token is: "keyring", "file", or
// "" when it has none.
func Location(e *core.Entry) StorageMode {
	switch {
	case e == nil:
		return ""
	case e.RefreshTokenIn == refreshTokenInKeyring:
		return StorageKeyring
	case e.RefreshToken != "":
		return StorageFile
	}
	return ""
}

// Lock implements [Store]: the file cache's lock of the login, which also
// tells Load that it may read the keyring for it.
func (s *KeyringStore) Lock(ctx context.Context, key string) (func(), error) {
	return s.File.Lock(ctx, key)
}

// Reserve implements [Reserver]: the cache file's reservation (the entry
// goes there, with or without its refresh token). A keyring has no
// notion of space; one that refuses the token is handled by Save.
func (s *KeyringStore) Reserve(key string) error { return s.File.Reserve(key) }

// CheckWritable is the file cache's (see [FileCache.CheckWritable]).
func (s *KeyringStore) CheckWritable() error { return s.File.CheckWritable() }

// Load implements [Store]. Without the lock an entry whose refresh token
// is in the keyring comes back without it (the fast path needs none);
// under the lock it is read from the keyring, within the deadline.
func (s *KeyringStore) Load(keys []string) (string, *core.Entry, error) {
	k, e, err := s.File.Load(keys)
	if err != nil || e == nil || !s.File.lockHeld(k) {
		return k, e, err
	}
	if err := s.fillSecret(k, e); err != nil {
		return "", nil, err
	}
	if e.RefreshTokenIn != refreshTokenInKeyring {
		return k, e, nil
	}
	rt, err := s.get(k)
	switch {
	case errors.Is(err, ErrSecretNotFound):
		s.warn(fmt.Sprintf("the refresh token of %s is missing from the OS keyring (%s)", k, KeyringName()))
		return k, e, nil
	case err != nil:
		return "", nil, wrap("read", err)
	}
	e.RefreshToken = rt
	return k, e, nil
}

// Entries returns every entry in the cache file, refresh tokens in the
// keyring left out.
func (s *KeyringStore) Entries() (map[string]core.Entry, error) { return s.File.Entries() }

// target is where Save puts a refresh token, given the entry it replaces.
func (s *KeyringStore) target(old *core.Entry) StorageMode {
	switch s.mode() {
	case StorageKeyring:
		return StorageKeyring
	case StorageFile:
		return StorageFile
	}
	s.mu.Lock()
	r := s.resolved
	s.mu.Unlock()
	if r != nil && r.InUse != "" {
		return r.InUse
	}
	if Location(old) == StorageKeyring {
		return StorageKeyring
	}
	return StorageFile
}

// current is the file's entry under key, read without taking the lock
// (the caller holds it); a corrupt file has none, and the file cache's
// write moves it aside.
func (s *KeyringStore) current(key string) (*core.Entry, error) {
	_, f, err := s.File.read()
	var bad errCorrupt
	if errors.As(err, &bad) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e, ok := f.Tokens[key]; ok {
		return &e, nil
	}
	return nil, nil
}

// Save implements [Store]; the caller holds the lock. The refresh token
// goes to the keyring or the file (see [KeyringStore]); the new copy is
// written before the old one is removed.
func (s *KeyringStore) Save(key string, e core.Entry) error {
	old, err := s.current(key)
	if err != nil {
		return err
	}
	if err := s.putSecret(key, &e, old); err != nil {
		return err
	}
	wasInKeyring := Location(old) == StorageKeyring
	rt := e.RefreshToken
	e.RefreshTokenIn = ""
	if rt != "" && s.target(old) == StorageKeyring {
		kerr := s.toKeyring(key, rt)
		if kerr == nil {
			e.RefreshToken, e.RefreshTokenIn = "", refreshTokenInKeyring
			return s.File.Save(key, e)
		}
		// The server has issued this token (and a rotating one has spent
		// the token it replaces): keep it in the file rather than lose
		// it. The move to the keyring is retried on the next save.
		if err := s.File.Save(key, e); err != nil {
			return err
		}
		s.warn(fmt.Sprintf("could not store the refresh token in the OS keyring: %v; it is kept in %s (0600) instead", kerr, s.File.Path()))
		if wasInKeyring {
			s.del(key) // best effort: the keyring has just failed, and its item is stale
		}
		return nil
	}
	if err := s.File.Save(key, e); err != nil {
		return err
	}
	if wasInKeyring {
		if err := s.del(key); err != nil {
			s.warn(fmt.Sprintf("the old refresh token of %s stays in the OS keyring: %v", key, err))
		}
	}
	return nil
}

func (s *KeyringStore) toKeyring(key, rt string) error {
	if n := len(rt); n > s.maxSecret() {
		return fmt.Errorf("the refresh token is %d bytes, more than the %d bytes dualauth puts in the OS keyring (%s); use --storage file", n, s.maxSecret(), KeyringName())
	}
	if s.holds(key, rt) {
		return nil // unchanged (a server that does not rotate)
	}
	return s.set(key, rt)
}

// Delete implements [Store]; the caller holds the lock. The file entry
// goes first, so a broken keyring never keeps a login around; a keyring
// item that cannot be removed is a warning (logout has revoked its token).
func (s *KeyringStore) Delete(key string) error {
	old, err := s.current(key)
	if err != nil {
		return err
	}
	if err := s.File.Delete(key); err != nil {
		return err
	}
	if err := s.dropSecret(key, SecretLocation(old)); err != nil {
		return err
	}
	if Location(old) == StorageKeyring || s.mode() == StorageKeyring {
		if err := s.del(key); err != nil {
			s.warn(fmt.Sprintf("logged out, but the refresh token stays in the OS keyring: %v", err))
		}
	}
	return nil
}
