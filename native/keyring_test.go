package native

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/matryer/is"
)

// memKeyring is an in-memory keyring that counts its calls; failing makes
// every call fail, setFailing only Set, block makes every call wait until
// it is closed.
type memKeyring struct {
	mu         sync.Mutex
	items      map[string]string
	calls      int
	failing    error
	setFailing error
	block      chan struct{}
}

func (m *memKeyring) enter() error {
	m.mu.Lock()
	m.calls++
	block, failing := m.block, m.failing
	m.mu.Unlock()
	if block != nil {
		<-block
	}
	return failing
}

func (m *memKeyring) Set(service, user, secret string) error {
	if err := m.enter(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.setFailing != nil {
		return m.setFailing
	}
	if m.items == nil {
		m.items = map[string]string{}
	}
	m.items[service+"/"+user] = secret
	return nil
}

func (m *memKeyring) Get(service, user string) (string, error) {
	if err := m.enter(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items[service+"/"+user]
	if !ok {
		return "", ErrSecretNotFound
	}
	return v, nil
}

func (m *memKeyring) Delete(service, user string) error {
	if err := m.enter(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[service+"/"+user]; !ok {
		return ErrSecretNotFound
	}
	delete(m.items, service+"/"+user)
	return nil
}

func (m *memKeyring) item(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items[DefaultKeyringService+"/"+key]
}

func (m *memKeyring) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// krFixture is a provider, a cache directory and an in-memory keyring.
type krFixture struct {
	t    *testing.T
	srv  *testidp.Server
	dir  string
	kr   *memKeyring
	warn *warnings
}

func newKRFixture(t *testing.T) *krFixture {
	return &krFixture{t: t, srv: provider(t), dir: t.TempDir(), kr: &memKeyring{}, warn: &warnings{}}
}

func (f *krFixture) key() string { return core.Key(f.srv.Issuer, clientID) }

// store is a fresh store, as each `auth` process makes one.
func (f *krFixture) store(mode StorageMode) *KeyringStore {
	return &KeyringStore{File: &FileCache{Dir: f.dir, Warn: f.warn.add}, Mode: mode, Keyring: f.kr, Timeout: 300 * time.Millisecond, Warn: f.warn.add}
}

func (f *krFixture) options(s Store) Options {
	return Options{Target: core.Target{Host: f.srv.Issuer}, ClientID: clientID, Store: s,
		HTTPOptions: HTTPOptions{Timeout: 3 * time.Second}, LockTimeout: 3 * time.Second, Warn: f.warn.add}
}

func (f *krFixture) login(s Store) (*core.Entry, error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	return Login(context.Background(), LoginOptions{
		Options: f.options(s),
		Opener:  Opener{Disabled: true},
		Timeout: 10 * time.Second,
		OnAuthorize: func(authURL string, _ <-chan error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				final, err := f.srv.Login(authURL)
				if err != nil {
					f.t.Errorf("provider login: %v", err)
					return
				}
				resp, err := http.Get(final.String())
				if err != nil {
					f.t.Errorf("callback: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		},
	})
}

func (f *krFixture) token(s Store, force bool, now func() time.Time) (*core.Entry, error) {
	o := f.options(s)
	o.Now = now
	return Token(context.Background(), TokenOptions{Options: o, Force: force})
}

// fileBytes is the cache file as it is on disk.
func (f *krFixture) fileBytes() string {
	f.t.Helper()
	b, err := os.ReadFile((&FileCache{Dir: f.dir}).Path())
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *krFixture) fileEntry() *core.Entry {
	f.t.Helper()
	_, e, err := (&FileCache{Dir: f.dir}).Load([]string{f.key()})
	if err != nil || e == nil {
		f.t.Fatalf("no cache entry: %v", err)
	}
	return e
}

// noSecrets fails when any of the secrets appears in a warning or in err.
func (f *krFixture) noSecrets(err error, secrets ...string) {
	f.t.Helper()
	texts := f.warn.all()
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, s := range secrets {
		for _, txt := range texts {
			if s != "" && strings.Contains(txt, s) {
				f.t.Errorf("a token appears in %q", txt)
			}
		}
	}
}

func TestParseStorageMode_AcceptsTheThreeModesAndDefaultsToAuto(t *testing.T) {
	is := is.New(t)
	for in, want := range map[string]StorageMode{"": StorageAuto, "auto": StorageAuto, "keyring": StorageKeyring, "File": StorageFile} {
		m, err := ParseStorageMode(in)
		is.NoErr(err)
		is.Equal(m, want)
	}
	_, err := ParseStorageMode("vault")
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "auto, keyring or file"))
}

func TestKeyringStore_LoginStoresTheRefreshTokenInTheKeyringAndNotInTheFile(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	e, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	is.True(e.RefreshToken != "")
	is.Equal(f.kr.item(f.key()), e.RefreshToken)
	raw := f.fileBytes()
	is.True(!strings.Contains(raw, e.RefreshToken)) // the file never sees it
	is.True(strings.Contains(raw, e.AccessToken))
	is.Equal(f.fileEntry().RefreshTokenIn, "keyring")
	is.Equal(len(f.warn.all()), 0)
}

func TestKeyringStore_ValidTokenPathNeverCallsTheKeyring(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	e, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	f.kr.mu.Lock()
	f.kr.calls = 0
	f.kr.block = make(chan struct{}) // a keyring that would hang
	f.kr.mu.Unlock()
	defer close(f.kr.block)
	start := time.Now()
	got, err := f.token(f.store(StorageKeyring), false, nil)
	is.NoErr(err)
	is.True(time.Since(start) < 2*time.Second) // the keyring would hang for ever
	is.Equal(got.AccessToken, e.AccessToken)
	is.Equal(got.RefreshToken, "") // the unlocked read hands out no refresh token
	is.Equal(f.kr.count(), 0)
}

func TestKeyringStore_RefreshReadsTheKeyringUnderTheLockAndStoresTheRotatedToken(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	first, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	got, err := f.token(f.store(StorageKeyring), false, later(time.Hour))
	is.NoErr(err)
	is.Equal(f.srv.Requests("refresh_token"), 1)
	is.True(got.AccessToken != first.AccessToken)
	rotated := f.kr.item(f.key())
	is.True(rotated != "" && rotated != first.RefreshToken)
	raw := f.fileBytes()
	is.True(!strings.Contains(raw, rotated))
	is.True(strings.Contains(raw, got.AccessToken))
	// The rotated token is the live one: a second refresh works.
	_, err = f.token(f.store(StorageKeyring), true, nil)
	is.NoErr(err)
	is.Equal(f.srv.Requests("refresh_token"), 2)
	f.noSecrets(nil, first.RefreshToken, rotated)
}

func TestKeyringStore_LogoutRemovesBothPartsAndRevokes(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	e, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	_, err = Logout(context.Background(), f.options(f.store(StorageKeyring)))
	is.NoErr(err)
	is.Equal(f.kr.item(f.key()), "")
	_, left, err := (&FileCache{Dir: f.dir}).Load([]string{f.key()})
	is.NoErr(err)
	is.True(left == nil)
	// What logout revoked was the keyring's token, read under the lock.
	is.Equal((&fixture{t: t, srv: f.srv}).postRefresh(e.RefreshToken), "invalid_grant")
}

func TestKeyringStore_InvalidGrantRemovesTheDeadTokenFromTheKeyring(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	e, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	is.Equal((&fixture{t: t, srv: f.srv}).postRefresh(e.RefreshToken), "") // spent behind our back
	_, err = f.token(f.store(StorageKeyring), false, later(time.Hour))
	var lr *core.LoginRequiredError
	is.True(errors.As(err, &lr))
	is.Equal(f.kr.item(f.key()), "")
	is.Equal(Location(f.fileEntry()), StorageMode(""))
}

func TestKeyringStore_StorageChangesMoveTheTokenOnTheNextSaveWithoutLosingIt(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	e, err := f.login(f.store(StorageFile))
	is.NoErr(err)
	is.Equal(f.fileEntry().RefreshToken, e.RefreshToken)
	is.Equal(f.kr.count(), 0) // file mode never asks the keyring

	// file → keyring on a refresh.
	_, err = f.token(f.store(StorageKeyring), true, nil)
	is.NoErr(err)
	inKeyring := f.kr.item(f.key())
	is.True(inKeyring != "" && inKeyring != e.RefreshToken)
	is.True(!strings.Contains(f.fileBytes(), inKeyring))
	is.Equal(Location(f.fileEntry()), StorageKeyring)

	// auto keeps it where it is.
	_, err = f.token(f.store(StorageAuto), true, nil)
	is.NoErr(err)
	is.Equal(Location(f.fileEntry()), StorageKeyring)

	// keyring → file on a refresh: the item goes, the token lands in the file.
	_, err = f.token(f.store(StorageFile), true, nil)
	is.NoErr(err)
	back := f.fileEntry()
	is.Equal(Location(back), StorageFile)
	is.Equal(f.kr.item(f.key()), "")
	_, err = f.token(f.store(StorageAuto), true, nil) // and it is the live one
	is.NoErr(err)
	is.Equal(Location(f.fileEntry()), StorageFile)
	is.Equal(f.srv.Requests("refresh_token"), 4)
}

func TestKeyringStore_ExplicitKeyringModeFailsBeforeTheBrowserAndNeverFallsBack(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	f.kr.failing = errors.New("dbus: couldn't determine address of session bus")
	start := time.Now()
	_, err := f.login(f.store(StorageKeyring))
	is.True(err != nil)
	is.True(time.Since(start) < time.Second)
	is.True(strings.Contains(err.Error(), "OS keyring (Secret Service) failed: dbus: couldn't determine address of session bus"))
	is.True(strings.Contains(err.Error(), "--storage file"))
	is.Equal(f.srv.Requests("authorization_code"), 0)
	_, statErr := os.Stat((&FileCache{Dir: f.dir}).Path())
	is.True(os.IsNotExist(statErr)) // nothing written anywhere
}

func TestKeyringStore_AutoFallsBackToTheFileAndSaysSoOnce(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	f.kr.failing = errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	s := f.store(StorageAuto)
	e, err := f.login(s)
	is.NoErr(err)
	is.Equal(f.fileEntry().RefreshToken, e.RefreshToken)
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.Equal(w[0], "keyring unavailable: the OS keyring (Secret Service) failed: The name org.freedesktop.secrets was not provided by any .service files; tokens stored in "+s.File.Path()+StorageFileHint)
	info, err := s.Resolve()
	is.NoErr(err)
	is.Equal(info.InUse, StorageFile)
	is.True(strings.HasPrefix(info.Reason, "keyring unavailable: "))
}

func TestKeyringStore_StalledKeyringFailsWithinTheDeadline(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	f.kr.block = make(chan struct{}) // a Secret Service that never answers
	defer close(f.kr.block)

	s := f.store(StorageKeyring)
	s.Timeout = time.Second
	start := time.Now()
	_, err := s.Resolve()
	took := time.Since(start)
	is.True(err != nil)
	is.True(took >= time.Second && took < 3*time.Second)
	is.Equal(err.Error(), "the OS keyring (Secret Service) did not answer within 1s (probing it); unlock the keyring, or use --storage file")

	// Under the lock, a save does not wait again now that the keyring is
	// known stalled, and keeps the token it was given in the file.
	unlock, err := s.Lock(context.Background(), f.key())
	is.NoErr(err)
	start = time.Now()
	err = s.Save(f.key(), core.Entry{AccessToken: "a", RefreshToken: "secret-refresh"})
	unlock()
	is.NoErr(err)
	is.True(time.Since(start) < s.Timeout) // it did not wait out the deadline again
	is.Equal(f.fileEntry().RefreshToken, "secret-refresh")
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.True(strings.Contains(w[0], "did not answer within 1s (storing the refresh token)"))
	f.noSecrets(nil, "secret-refresh")

	// auto mode falls back within the probe deadline.
	a := f.store(StorageAuto)
	a.ProbeTimeout, a.Timeout = 100*time.Millisecond, 3*time.Second
	start = time.Now()
	info, err := a.Resolve()
	is.NoErr(err)
	is.True(time.Since(start) < a.Timeout) // the probe's deadline, not the keyring's
	is.Equal(info.InUse, StorageFile)
	is.Equal(info.Reason, "keyring unavailable: the OS keyring (Secret Service) did not answer within 100ms")
}

func TestKeyringStore_KeepsARefreshTokenTooBigForTheKeyringInTheFileWithAWarning(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	s := f.store(StorageKeyring)
	big := strings.Repeat("r", DefaultMaxKeyringSecret+1)
	unlock, err := s.Lock(context.Background(), f.key())
	is.NoErr(err)
	defer unlock()
	err = s.Save(f.key(), core.Entry{AccessToken: "a", RefreshToken: big})
	is.NoErr(err)                             // the server issued it: never lost…
	is.Equal(f.kr.count(), 0)                 // …not sent, not truncated…
	is.Equal(f.fileEntry().RefreshToken, big) // …but kept in the file
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.True(strings.Contains(w[0], "the refresh token is 2049 bytes, more than the 2048 bytes"))
	is.True(strings.Contains(w[0], "it is kept in "+s.File.Path()))
	f.noSecrets(nil, big)
	// Exactly at the limit goes to the keyring, and leaves the file.
	is.NoErr(s.Save(f.key(), core.Entry{AccessToken: "a", RefreshToken: big[1:]}))
	is.Equal(f.kr.item(f.key()), big[1:])
	is.Equal(Location(f.fileEntry()), StorageKeyring)
	is.True(!strings.Contains(f.fileBytes(), big[1:]))
}

func TestKeyringStore_AFailedMoveToTheKeyringKeepsTheNewTokenInTheFile(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	file := f.store(StorageFile)
	unlock, err := file.Lock(context.Background(), f.key())
	is.NoErr(err)
	is.NoErr(file.Save(f.key(), core.Entry{AccessToken: "a", RefreshToken: "old-refresh"}))
	unlock()

	f.kr.failing = errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")
	s := f.store(StorageKeyring)
	unlock, err = s.Lock(context.Background(), f.key())
	is.NoErr(err)
	err = s.Save(f.key(), core.Entry{AccessToken: "b", RefreshToken: "rotated-refresh"})
	unlock()
	is.NoErr(err)
	is.Equal(f.fileEntry().RefreshToken, "rotated-refresh") // never lost
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.True(strings.HasPrefix(w[0], "could not store the refresh token in the OS keyring"))
	f.noSecrets(nil, "old-refresh", "rotated-refresh")
}

func TestKeyringStore_UnreadableKeyringUnderTheLockIsAClearError(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	_, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	f.kr.failing = errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")
	_, err = f.token(f.store(StorageKeyring), false, later(time.Hour))
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "the OS keyring (Secret Service) failed: failed to unlock correct collection"))
	is.True(strings.Contains(err.Error(), "unlock the keyring, or log in again with --storage file"))
	is.Equal(f.srv.Requests("refresh_token"), 0)
}

func TestKeyringStore_AKeyringItemRemovedBehindOurBackAsksForALogin(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	_, err := f.login(f.store(StorageKeyring))
	is.NoErr(err)
	is.NoErr(f.kr.Delete(DefaultKeyringService, f.key()))
	_, err = f.token(f.store(StorageKeyring), false, later(time.Hour))
	var lr *core.LoginRequiredError
	is.True(errors.As(err, &lr))
	is.True(strings.Contains(err.Error(), "no refresh token"))
	w := f.warn.all()
	is.Equal(len(w), 1)
	is.Equal(w[0], "the refresh token of "+f.key()+" is missing from the OS keyring (Secret Service)")
	is.Equal(f.srv.Requests("refresh_token"), 0)
}

// TestKeyringStore_ARotatedTokenTheKeyringRefusesIsKeptInTheFileAndStillWorks:
// the server has rotated the refresh token when the keyring fails to take
// the new one; in every mode the new token lands in the 0600 file with one
// warning, the stale keyring item goes, and the next refresh uses the new
// token.
func TestKeyringStore_ARotatedTokenTheKeyringRefusesIsKeptInTheFileAndStillWorks(t *testing.T) {
	for _, mode := range []StorageMode{StorageKeyring, StorageAuto} {
		t.Run(string(mode), func(t *testing.T) {
			is := is.New(t)
			f := newKRFixture(t)
			first, err := f.login(f.store(mode))
			is.NoErr(err)
			is.Equal(Location(f.fileEntry()), StorageKeyring)
			is.Equal(f.kr.item(f.key()), first.RefreshToken)

			f.kr.mu.Lock()
			f.kr.setFailing = errors.New("Cannot create an item in a locked collection")
			f.kr.mu.Unlock()
			got, err := f.token(f.store(mode), false, later(time.Hour))
			is.NoErr(err)
			is.Equal(f.srv.Requests("refresh_token"), 1)
			inFile := f.fileEntry()
			is.Equal(Location(inFile), StorageFile)
			is.True(inFile.RefreshToken != "" && inFile.RefreshToken != first.RefreshToken) // the rotated one
			is.Equal(inFile.AccessToken, got.AccessToken)
			is.Equal(f.kr.item(f.key()), "") // the spent item is gone
			w := f.warn.all()
			is.Equal(len(w), 1)
			is.True(strings.Contains(w[0], "Cannot create an item in a locked collection"))
			is.True(strings.Contains(w[0], "it is kept in "+f.store(mode).File.Path()))

			// The kept token is the live one: a further refresh works, and
			// goes back to the keyring once it takes tokens again.
			_, err = f.token(f.store(mode), true, nil)
			is.NoErr(err)
			is.Equal(f.srv.Requests("refresh_token"), 2)
			f.kr.mu.Lock()
			f.kr.setFailing = nil
			f.kr.mu.Unlock()
			_, err = f.token(f.store(StorageKeyring), true, nil)
			is.NoErr(err)
			is.Equal(f.srv.Requests("refresh_token"), 3)
			is.Equal(Location(f.fileEntry()), StorageKeyring)
			f.noSecrets(nil, first.RefreshToken, inFile.RefreshToken)
		})
	}
}

// A keyring failure names what it was reading: a client secret or a DPoP
// key is not "the refresh token".
func TestKeyringError_NamesTheItem(t *testing.T) {
	is := is.New(t)
	base := &KeyringError{Op: "read", Err: errors.New("locked")}
	is.True(strings.Contains(base.Error(), "(reading the refresh token)"))
	err := about(base, "the client secret")
	is.True(strings.Contains(err.Error(), "(reading the client secret)"))
	is.True(strings.Contains(base.Error(), "refresh token")) // the original is left as it was
	is.Equal(about(errors.New("plain"), "the DPoP key").Error(), "plain")
}
