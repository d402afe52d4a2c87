package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/gofrs/flock"
)

// Store keeps cache entries and the lock that guards their refresh. The
// file cache is the one implementation here; other backends (a keyring for
// refresh tokens) wrap it.
//
// The stores here may be shared by goroutines: the file lock serialises
// them as it serialises processes, and a Load made while the store holds
// the lock always reads the file afresh, so N goroutines on an expired
// token cause one refresh. A store cannot tell which goroutine holds its
// lock, though: while one holds it, a Load by another counts as made under
// the lock too (a [KeyringStore] then reads the refresh token from the
// keyring). To keep every fast path off the keyring, give each concurrent
// flow its own store on the same directory, as [TokenSource] does when
// Options.Store is nil.
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

// A Reserver is a [Store] that can make sure, before a refresh token is
// spent, that the entry refreshed with it can be saved (S38). The caller
// holds the lock.
type Reserver interface {
	Reserve(key string) error
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
// it. A Load without the lock takes none (the file is only ever replaced by
// a rename, so it sees the old or the new file); writes, and moving a
// corrupt file aside, happen only under the lock. A Load made while this
// FileCache holds the lock reads the file afresh, never a snapshot.
// A FileCache is safe for use by several goroutines (see [Store]).
type FileCache struct {
	Dir string
	// Warn receives non-fatal problems (a corrupt file moved aside).
	Warn func(string)
	// Now names moved-aside files; nil means time.Now.
	Now func() time.Time

	// mu guards the fields below, and serialises this process's writes
	// and repairs of the file (it is never held while waiting for the
	// file lock).
	mu sync.Mutex
	// snap is the cache as Entries just read it, handed to the next Load
	// within snapTTL so that `auth token` without --client-id reads the
	// file once; never while the lock is held: under the lock every read
	// is fresh. gen counts Locks and writes: Entries keeps its snapshot
	// only when none came in while it read.
	snap   *core.CacheFile
	snapAt time.Time
	gen    uint64
	// held is true between a successful Lock and its unlock.
	held bool
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
	f, err := c.load()
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

// load returns the cache: Entries' snapshot when it is fresh and the lock
// is not held, else the file as it is now, a corrupt one moved aside.
func (c *FileCache) load() (*core.CacheFile, error) {
	c.mu.Lock()
	f, at := c.snap, c.snapAt
	c.snap = nil
	if c.held {
		// Under the lock: read the file itself, and repair it here, since
		// locking again would wait for ourselves.
		defer c.mu.Unlock()
		_, f, err := c.readRepairing()
		return f, err
	}
	c.mu.Unlock()
	if f != nil && time.Since(at) <= snapTTL {
		return f, nil
	}
	_, f, err := c.read()
	var bad errCorrupt
	if errors.As(err, &bad) {
		return c.recover()
	}
	return f, err
}

// Entries returns every entry in the cache (for commands that list or
// search logins).
func (c *FileCache) Entries() (map[string]core.Entry, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	_, f, err := c.read()
	var bad errCorrupt
	if errors.As(err, &bad) {
		f, err = c.recover()
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen && !c.held {
		c.snap, c.snapAt = f, time.Now()
	}
	c.mu.Unlock()
	return maps.Clone(f.Tokens), nil
}

// recover moves a corrupt cache file aside under the lock, and returns what
// the cache holds afterwards. When this FileCache holds the lock already it
// repairs at once (Lock would wait for ourselves).
func (c *FileCache) recover() (*core.CacheFile, error) {
	c.mu.Lock()
	if c.held {
		defer c.mu.Unlock()
		_, f, err := c.readRepairing()
		return f, err
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultLockTimeout)
	defer cancel()
	unlock, err := c.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, f, err := c.readRepairing()
	return f, err
}

// readRepairing reads the file; when it is corrupt it moves it aside with a
// warning and returns an empty cache. The caller holds the lock and c.mu.
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = nil
	c.gen++
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

// ensureDir creates the cache directory, and any missing parent, 0700
// whatever the umask. An existing directory is left as it is: it may be
// one the user shares or owns for other reasons (--cache-dir /tmp), and
// the files in it are 0600 anyway.
func (c *FileCache) ensureDir() error {
	if st, err := os.Stat(c.Dir); err == nil && st.IsDir() {
		return nil
	}
	var missing []string
	for d := filepath.Clean(c.Dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(c.Dir, dirPerm); err != nil {
		return fmt.Errorf("creating the token cache directory: %w", err)
	}
	for _, d := range missing {
		if err := os.Chmod(d, dirPerm); err != nil {
			return fmt.Errorf("setting the token cache directory %s to 0700: %w", d, err)
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
	// Only one holder at a time, in this process as across processes: the
	// flock on a fresh descriptor excludes other descriptors.
	c.mu.Lock()
	c.held, c.snap = true, nil
	c.gen++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.held = false
			c.mu.Unlock()
			l.Unlock()
			l.Close()
		})
	}, nil
}

// lockHeld reports whether this FileCache holds the lock (taken by Lock and
// not yet released).
func (c *FileCache) lockHeld() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}
