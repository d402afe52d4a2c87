package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/gofrs/flock"
)

// Store keeps cache entries and the lock that guards their refresh. The
// file cache is the one implementation here; other backends (a keyring for
// refresh tokens) wrap it.
type Store interface {
	// Load returns the first entry found under keys, in order, and its
	// key; a nil entry when there is none.
	Load(keys []string) (string, *core.Entry, error)
	// Save stores e under key, atomically. The caller holds the lock.
	Save(key string, e core.Entry) error
	// Delete removes the entry under key. The caller holds the lock.
	Delete(key string) error
	// Lock takes the cross-process lock, waiting at most until ctx ends,
	// and returns the function that releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}

// Cache file and lock names inside the cache directory.
const (
	CacheFileName = "token-cache.json"
	LockFileName  = "token-cache.lock"
)

// Permissions set explicitly, whatever the umask (S24).
const (
	dirPerm  fs.FileMode = 0o700
	filePerm fs.FileMode = 0o600
)

// FileCache is the token cache file: {"version":1,"tokens":{KEY: entry}}
// in Dir, replaced atomically on every write, with an OS file lock next to
// it. Reads take no lock: a reader sees either the old or the new file.
type FileCache struct {
	Dir string
	// Warn receives non-fatal problems (a corrupt file moved aside).
	Warn func(string)
	// Now names moved-aside files; nil means time.Now.
	Now func() time.Time

	// snap is the cache as Entries just read it, handed to the next Load
	// within snapTTL so that `auth token` without --client-id reads the
	// file once. Lock, Save and Delete drop it: under the lock every read
	// is fresh.
	snap   *core.CacheFile
	snapAt time.Time
}

const snapTTL = time.Second

// DefaultCacheDir is $DUALAUTH_CACHE_DIR, else os.UserCacheDir()/dualauth.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("DUALAUTH_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w (set DUALAUTH_CACHE_DIR)", err)
	}
	return filepath.Join(d, "dualauth"), nil
}

// Path is the cache file.
func (c *FileCache) Path() string { return filepath.Join(c.Dir, CacheFileName) }

// LockPath is the lock file.
func (c *FileCache) LockPath() string { return filepath.Join(c.Dir, LockFileName) }

func (c *FileCache) warn(msg string) {
	if c.Warn != nil {
		c.Warn(msg)
	}
}

func (c *FileCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// errCorrupt marks a cache file that exists but cannot be decoded.
type errCorrupt struct{ err error }

func (e errCorrupt) Error() string { return e.err.Error() }

// read returns the cache file's contents and decoded form. A missing file
// is an empty cache.
func (c *FileCache) read() ([]byte, *core.CacheFile, error) {
	b, err := os.ReadFile(c.Path())
	if errors.Is(err, fs.ErrNotExist) {
		f, _ := core.DecodeCacheFile(nil)
		return nil, f, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the token cache: %w", err)
	}
	f, err := core.DecodeCacheFile(b)
	if err != nil {
		return b, nil, errCorrupt{err}
	}
	return b, f, nil
}

// Load implements [Store]. A corrupt file is a cache miss: it is moved
// aside under the lock (so that a file another process has just replaced
// is never moved by mistake) and a warning names where it went (S24).
func (c *FileCache) Load(keys []string) (string, *core.Entry, error) {
	f, err := c.snap, error(nil)
	c.snap = nil
	if f == nil || time.Since(c.snapAt) > snapTTL {
		_, f, err = c.read()
	}
	var bad errCorrupt
	if errors.As(err, &bad) {
		f, err = c.recover()
	}
	if err != nil {
		return "", nil, err
	}
	for _, k := range keys {
		if e, ok := f.Tokens[k]; ok {
			return k, &e, nil
		}
	}
	return "", nil, nil
}

// Entries returns every entry in the cache (for commands that list or
// search logins).
func (c *FileCache) Entries() (map[string]core.Entry, error) {
	_, f, err := c.read()
	var bad errCorrupt
	if errors.As(err, &bad) {
		f, err = c.recover()
	}
	if err != nil {
		return nil, err
	}
	c.snap, c.snapAt = f, time.Now()
	return maps.Clone(f.Tokens), nil
}

// recover moves a corrupt cache file aside while holding the lock, and
// returns what the cache holds afterwards.
func (c *FileCache) recover() (*core.CacheFile, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultLockTimeout)
	defer cancel()
	unlock, err := c.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, f, err := c.readRepairing()
	return f, err
}

// readRepairing reads the file; when it is corrupt it moves it aside with a
// warning and returns an empty cache. The caller holds the lock.
func (c *FileCache) readRepairing() ([]byte, *core.CacheFile, error) {
	b, f, err := c.read()
	var bad errCorrupt
	if !errors.As(err, &bad) {
		return b, f, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", c.Path(), c.now().UTC().Format("20060102T150405.000000000Z"))
	if rerr := os.Rename(c.Path(), aside); rerr != nil {
		return nil, nil, fmt.Errorf("the token cache %s is corrupt (%v) and could not be moved aside: %w", c.Path(), bad.err, rerr)
	}
	c.warn(fmt.Sprintf("the token cache %s was corrupt (%v); moved it to %s and starting empty", c.Path(), bad.err, aside))
	f, _ = core.DecodeCacheFile(nil)
	return nil, f, nil
}

// Save implements [Store]: read, change, write to a temporary file in the
// same directory, fsync, rename over the cache, fsync the directory (S21).
// Other keys' entries are carried over untouched.
func (c *FileCache) Save(key string, e core.Entry) error {
	return c.update(func(f *core.CacheFile) { f.Tokens[key] = e })
}

// Delete implements [Store].
func (c *FileCache) Delete(key string) error {
	return c.update(func(f *core.CacheFile) { delete(f.Tokens, key) })
}

func (c *FileCache) update(change func(*core.CacheFile)) error {
	c.snap = nil
	if err := c.ensureDir(); err != nil {
		return err
	}
	_, f, err := c.readRepairing()
	if err != nil {
		return err
	}
	change(f)
	f.Version = core.CacheVersion
	return writeAtomic(c.Path(), f.Encode())
}

// ensureDir creates the cache directory 0700 and tightens an existing one
// that is looser.
func (c *FileCache) ensureDir() error {
	if err := os.MkdirAll(c.Dir, dirPerm); err != nil {
		return fmt.Errorf("creating the token cache directory: %w", err)
	}
	st, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("token cache directory: %w", err)
	}
	if st.Mode().Perm() != dirPerm {
		if err := os.Chmod(c.Dir, dirPerm); err != nil {
			return fmt.Errorf("setting the token cache directory to 0700: %w", err)
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(filePerm); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // the rename itself survives a crash
		d.Close()
	}
	return nil
}

// DefaultLockTimeout is how long a process waits for another one holding
// the cache lock. A holder does at most one token request (≤ the HTTP
// timeout) while it holds it; a dead holder's lock is released by the
// kernel at once.
const DefaultLockTimeout = 30 * time.Second

const lockPoll = 10 * time.Millisecond

// Lock implements [Store] with an OS file lock (flock) on LockPath. The
// kernel releases it when the holder dies, even by kill -9.
func (c *FileCache) Lock(ctx context.Context) (func(), error) {
	c.snap = nil
	if err := c.ensureDir(); err != nil {
		return nil, err
	}
	l := flock.New(c.LockPath(), flock.SetPermissions(filePerm))
	ok, err := l.TryLockContext(ctx, lockPoll)
	if err == nil && !ok {
		err = ctx.Err()
	}
	if err != nil {
		l.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("another auth process holds the token cache lock %s; gave up waiting", c.LockPath())
		}
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("stopped waiting for the token cache lock %s", c.LockPath())
		}
		return nil, fmt.Errorf("locking the token cache %s: %w", c.LockPath(), err)
	}
	return func() { l.Unlock(); l.Close() }, nil
}
