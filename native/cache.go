package native

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/gofrs/flock"
)

// Store keeps cache entries and the per-login locks that guard their
// refresh. The file cache is the one implementation here; other backends
// (a keyring for refresh tokens) wrap it.
//
// The stores here may be shared by goroutines: the lock of a login
// serialises them as it serialises processes, and a Load made while the
// store holds that login's lock always reads the file afresh, so N
// goroutines on an expired token cause one refresh. A store cannot tell
// which goroutine holds a lock, though: while one holds the lock of a
// login, a Load of that login by another counts as made under the lock too
// (a [KeyringStore] then reads the refresh token from the keyring). To keep
// every fast path off the keyring, give each concurrent flow its own store
// on the same directory, as [TokenSource] does when Options.Store is nil.
type Store interface {
	// Load returns the first entry found under keys, in order, and its
	// key; a nil entry when there is none.
	Load(keys []string) (string, *core.Entry, error)
	// Save stores e under key, atomically. The caller holds key's lock.
	Save(key string, e core.Entry) error
	// Delete removes the entry under key. The caller holds key's lock.
	Delete(key string) error
	// Lock takes the cross-process lock of the login under key, waiting
	// at most until ctx ends, and returns the function that releases it.
	// Logins under other keys are not held up by it (S39).
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// A Reserver is a [Store] that can make sure, before a refresh token is
// spent, that the entry refreshed with it can be saved (S38). The caller
// holds key's lock.
type Reserver interface {
	Reserve(key string) error
}

// Cache file and lock names inside the cache directory.
const (
	CacheFileName = "token-cache.json"
	// LockFileName is the lock of the cache file itself, held only while
	// the file is read, changed and replaced (milliseconds), never across
	// a network request.
	LockFileName = "token-cache.lock"
	// LocksDirName holds one lock file per login (cache key), held across
	// its refresh, login save or logout.
	LocksDirName = "locks"
)

// Permissions set explicitly, whatever the umask (S24).
const (
	dirPerm  fs.FileMode = 0o700
	filePerm fs.FileMode = 0o600
)

// reserveMargin is the least room a reservation leaves for the cache file
// to grow by (see [FileCache.Reserve]).
const reserveMargin = 64 << 10

// FileCache is the token cache file: {"version":1,"tokens":{KEY: entry}}
// in Dir, replaced atomically on every write. A Load without a lock takes
// none (the file is only ever replaced by a rename, so it sees the old or
// the new file). Each login has its own OS file lock (in Dir/locks, named
// by a hash of its key), held across its refresh; the file itself has a
// short lock (LockFileName) held only while a write reads, changes and
// replaces it, and while a corrupt file is moved aside. A Load of a login
// made while this FileCache holds that login's lock reads the file
// afresh, never a snapshot.
//
// A save that fails (a full disk, say) keeps the entry in a rescue file
// next to the cache (RescuePath), which Load finds and merges back; see
// [FileCache.Save] and docs/STORAGE.md.
//
// A FileCache is safe for use by several goroutines (see [Store]).
type FileCache struct {
	Dir string
	// Warn receives non-fatal problems (a corrupt file moved aside).
	Warn func(string)
	// Now names moved-aside files; nil means time.Now.
	Now func() time.Time

	// mu guards the fields below; it is never held while waiting for a
	// file lock.
	mu sync.Mutex
	// snap is the cache as Entries just read it, handed to the next Load
	// within snapTTL so that `auth token` without --client-id reads the
	// file once; never while a login lock is held: then every read is
	// fresh. gen counts Locks and writes: Entries keeps its snapshot only
	// when none came in while it read.
	snap   *core.CacheFile
	snapAt time.Time
	gen    uint64
	// held counts, per key, the login locks this FileCache holds.
	held map[string]int
	// reserved is the reservation file of a key (see Reserve), open.
	reserved map[string]*os.File

	// wmu serialises this process's writes and repairs of the cache file;
	// the file lock serialises them with other processes.
	wmu sync.Mutex
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

// LockPath is the lock of the cache file itself.
func (c *FileCache) LockPath() string { return filepath.Join(c.Dir, LockFileName) }

// keyHash names a login's files: a hash, so that no part of the issuer or
// client ID becomes a path.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// KeyLockPath is the lock file of the login under key.
func (c *FileCache) KeyLockPath(key string) string {
	return filepath.Join(c.Dir, LocksDirName, keyHash(key)+".lock")
}

// RescuePath is where a login whose save failed is kept until it can be
// merged back into the cache file.
func (c *FileCache) RescuePath(key string) string {
	return filepath.Join(c.Dir, "token-cache.rescue-"+keyHash(key)+".json")
}

// reservePath is the file Reserve allocates for key's next save.
func (c *FileCache) reservePath(key string) string {
	return filepath.Join(c.Dir, CacheFileName+".reserve-"+keyHash(key))
}

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
// is an empty cache. A file that others may read is set to 0600 on the
// spot, with a warning (S24). A file written by a newer dualauth is an
// error, not corruption: it is left as it is.
func (c *FileCache) read() ([]byte, *core.CacheFile, error) {
	fh, err := os.Open(c.Path())
	if errors.Is(err, fs.ErrNotExist) {
		f, _ := core.DecodeCacheFile(nil)
		return nil, f, nil
	}
	// The errors name the file ("open PATH: …"); what was being done when
	// it failed, the flows say ("reading the token cache: …").
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fix := looseMode(fh, st, filePerm, ""); fix != nil {
		c.repairModes("the token cache "+c.Path(), "log in again to replace its tokens", fix)
	}
	b, err := readAll(fh, st.Size())
	if err != nil {
		return nil, nil, err
	}
	f, err := core.DecodeCacheFile(b)
	var newer *core.NewerCacheError
	if errors.As(err, &newer) {
		return b, nil, fmt.Errorf("%s: %w", c.Path(), err)
	}
	if err != nil {
		return b, nil, errCorrupt{err}
	}
	return b, f, nil
}

// readAll reads fh to its end, size being its size as last seen: the file
// is read with one buffer, as os.ReadFile does.
func readAll(fh *os.File, size int64) ([]byte, error) {
	b := make([]byte, 0, size+512)
	for {
		n, err := fh.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// modeFix is an open file or directory that group or others may use, and
// the mode it gets instead; label names it beside the thing warned about
// ("" for that thing, "its directory" for the directory holding it).
type modeFix struct {
	f          *os.File
	label      string
	mode, want fs.FileMode
}

// looseMode is the fix of f (whose Stat is st) when its mode has group or
// other bits: none when it has not.
func looseMode(f *os.File, st fs.FileInfo, want fs.FileMode, label string) []modeFix {
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return []modeFix{{f: f, label: label, mode: mode, want: want}}
	}
	return nil
}

// repairModes sets files and directories that others could use back to
// their own modes, with one warning for them all (S24): what names the
// thing ("the token cache PATH"), redo what to do if others read it
// meanwhile. A mode that cannot be set is said so, with the chmod to run.
func (c *FileCache) repairModes(what, redo string, fixes []modeFix) {
	if len(fixes) == 0 {
		return
	}
	var was, now, failed []string
	for _, fx := range fixes {
		subject := "it"
		if fx.label != "" {
			subject = fx.label
		}
		was = append(was, strings.TrimSpace(fx.label+" mode")+fmt.Sprintf(" %04o", fx.mode))
		if err := fx.f.Chmod(fx.want); err != nil {
			failed = append(failed, fmt.Sprintf("%v; run chmod %o %s", err, fx.want, fx.f.Name()))
			continue
		}
		now = append(now, fmt.Sprintf("%s is now %04o", subject, fx.want))
	}
	if len(failed) > 0 {
		c.warn(fmt.Sprintf("%s can be read by other users (%s) and could not be set right: %s", what, strings.Join(was, ", "), strings.Join(failed, "; ")))
		return
	}
	c.warn(fmt.Sprintf("%s could be read by other users (%s); %s. If others share this machine, %s", what, strings.Join(was, ", "), strings.Join(now, " and "), redo))
}

// Load implements [Store]. A corrupt file is a cache miss: it is moved
// aside under the file lock (so that a file another process has just
// replaced is never moved by mistake) and a warning names where it went
// (S24). A login kept in a rescue file (see [FileCache.Save]) is found
// under its lock, and merged back into the cache file when it can be
// written; and when the cache file has none of keys.
func (c *FileCache) Load(keys []string) (string, *core.Entry, error) {
	f, err := c.load()
	if err != nil {
		return "", nil, err
	}
	for _, k := range keys {
		e, ok := f.Tokens[k]
		if c.lockHeld(k) {
			if r := c.rescued(k, e, ok); r != nil {
				return k, r, nil
			}
		}
		if ok {
			return k, &e, nil
		}
	}
	for _, k := range keys {
		if r := c.rescued(k, core.Entry{}, false); r != nil {
			return k, r, nil
		}
	}
	return "", nil, nil
}

// load returns the cache: Entries' snapshot when it is fresh and no login
// lock is held, else the file as it is now, a corrupt one moved aside.
func (c *FileCache) load() (*core.CacheFile, error) {
	c.mu.Lock()
	f, at := c.snap, c.snapAt
	c.snap = nil
	fresh := len(c.held) > 0
	c.mu.Unlock()
	if !fresh && f != nil && time.Since(at) <= snapTTL {
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
	if c.gen == gen && len(c.held) == 0 {
		c.snap, c.snapAt = f, time.Now()
	}
	c.mu.Unlock()
	return maps.Clone(f.Tokens), nil
}

// recover moves a corrupt cache file aside under the file lock, and
// returns what the cache holds afterwards.
func (c *FileCache) recover() (*core.CacheFile, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	unlock, err := c.lockFile()
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, f, err := c.readRepairing()
	return f, err
}

// readRepairing reads the file; when it is corrupt it moves it aside with a
// warning and returns an empty cache. The caller holds the file lock and
// c.wmu.
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

// Save implements [Store]: under the file lock, read, change, write to a
// temporary file in the same directory (the one Reserve allocated, when
// there is one), fsync, rename over the cache, fsync the directory (S21).
// Other keys' entries are carried over untouched.
//
// When the cache file cannot be written (no space left, say) the entry is
// kept in RescuePath(key) instead — written into the reserved space when
// there is some, and without its access token if only that fits — with a
// warning, and Save succeeds: the server may have spent the refresh token
// this one replaces, so it must outlive this process (S38). Load merges it
// back. A cache written by a newer dualauth is never worked around.
func (c *FileCache) Save(key string, e core.Entry) error {
	err := c.update(key, func(f *core.CacheFile) { f.Tokens[key] = e })
	if err == nil {
		c.dropRescue(key)
		return nil
	}
	var newer *core.NewerCacheError
	if errors.As(err, &newer) {
		return err
	}
	if rerr := c.rescue(key, e); rerr != nil {
		return fmt.Errorf("%w; keeping the login in %s failed too: %v", err, c.RescuePath(key), rerr)
	}
	c.warn(fmt.Sprintf("could not write the token cache (%v); the login is kept in %s, which the next auth call merges back into %s once it can be written", err, c.RescuePath(key), c.Path()))
	return nil
}

// Delete implements [Store].
func (c *FileCache) Delete(key string) error {
	if err := c.update(key, func(f *core.CacheFile) { delete(f.Tokens, key) }); err != nil {
		return err
	}
	c.dropRescue(key)
	return nil
}

// update replaces the cache file with change applied, under the file
// lock, through key's reservation when it has one.
func (c *FileCache) update(key string, change func(*core.CacheFile)) error {
	c.mu.Lock()
	c.snap = nil
	c.gen++
	c.mu.Unlock()
	return c.underFileLock(func() error {
		_, f, err := c.readRepairing()
		if err != nil {
			return err
		}
		change(f)
		f.Version = core.CacheVersion
		return c.write(key, c.Path(), f.Encode())
	})
}

// underFileLock runs rmw holding the cache file's own lock (and c.wmu):
// for the read-modify-write of a file that several logins share.
func (c *FileCache) underFileLock(rmw func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ensureDir(); err != nil {
		return err
	}
	unlock, err := c.lockFile()
	if err != nil {
		return err
	}
	defer unlock()
	return rmw()
}

// write puts data at path atomically: through key's reserved file when
// Reserve made one (which is then used up), else a new temporary file.
func (c *FileCache) write(key, path string, data []byte) error {
	c.mu.Lock()
	r := c.reserved[key]
	c.mu.Unlock()
	if r == nil {
		return writeAtomic(path, data)
	}
	if err := replaceWith(r, path, data); err != nil {
		return err // the reservation stays, for a rescue
	}
	c.mu.Lock()
	delete(c.reserved, key)
	c.mu.Unlock()
	r.Close()
	return nil
}

// rescue keeps e in key's rescue file: the whole entry, else (when even
// that does not fit) the entry without its access and ID tokens, which
// the next call then refreshes with the refresh token kept. The caller
// holds key's lock.
func (c *FileCache) rescue(key string, e core.Entry) error {
	one := func(e core.Entry) []byte {
		return (&core.CacheFile{Version: core.CacheVersion, Tokens: map[string]core.Entry{key: e}}).Encode()
	}
	err := c.write(key, c.RescuePath(key), one(e))
	if err != nil && (e.AccessToken != "" || e.IDToken != "") {
		e.AccessToken, e.IDToken = "", ""
		err = c.write(key, c.RescuePath(key), one(e))
	}
	return err
}

// rescued returns key's rescued entry when there is one that is newer
// than inFile (the cache file's entry, when has), and, when this
// FileCache holds key's lock, merges it into the cache file (removing the
// rescue file) if the file can be written now. A stale rescue file is
// removed under the lock.
func (c *FileCache) rescued(key string, inFile core.Entry, has bool) *core.Entry {
	b, err := os.ReadFile(c.RescuePath(key))
	if err != nil {
		return nil
	}
	f, err := core.DecodeCacheFile(b)
	if err != nil {
		c.warn(fmt.Sprintf("the rescue file %s cannot be read (%v); it is left as it is", c.RescuePath(key), err))
		return nil
	}
	r, ok := f.Tokens[key]
	if !ok {
		return nil
	}
	held := c.lockHeld(key)
	if has && inFile.ObtainedAt.After(r.ObtainedAt) {
		// Saved since (by an older auth that knows no rescue files).
		if held {
			c.dropRescue(key)
		}
		return nil
	}
	if held && c.update(key, func(f *core.CacheFile) { f.Tokens[key] = r }) == nil {
		c.dropRescue(key)
	}
	return &r
}

func (c *FileCache) dropRescue(key string) {
	if err := os.Remove(c.RescuePath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.warn(fmt.Sprintf("could not remove %s: %v", c.RescuePath(key), err))
	}
}

// Reserve implements [Reserver]: it allocates, next to the cache file,
// the file key's next Save will write and rename into place: as large as
// the cache file plus room for it to grow (its own size again, at least
// 64 KiB). Once that space is held, neither the save of the refreshed
// entry nor, if the cache grows past it meanwhile, its rescue can fail
// for want of space. A disk too full for it is an error before the
// refresh token is spent. The caller holds key's lock; the reservation is
// released with it.
func (c *FileCache) Reserve(key string) error {
	if err := c.ensureDir(); err != nil {
		return err
	}
	n := c.roomToSave()
	c.dropReservation(key)
	path := c.reservePath(key)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|oNoFollow, filePerm)
	if err != nil {
		return fmt.Errorf("reserving space for the token cache: %w", err)
	}
	err = f.Chmod(filePerm)
	if err == nil {
		err = allocate(f, n)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("reserving %d KiB for the token cache in %s: %w", n>>10, c.Dir, err)
	}
	c.mu.Lock()
	if c.reserved == nil {
		c.reserved = map[string]*os.File{}
	}
	c.reserved[key] = f
	c.mu.Unlock()
	return nil
}

// dropReservation removes key's unused reservation.
func (c *FileCache) dropReservation(key string) {
	c.mu.Lock()
	f := c.reserved[key]
	delete(c.reserved, key)
	c.mu.Unlock()
	if f != nil {
		f.Close()
		os.Remove(f.Name())
	}
}

// writeOut writes n bytes into f from its start (allocate's fallback).
func writeOut(f *os.File, n int64) error {
	buf := make([]byte, min(n, 64<<10))
	for i := range buf {
		buf[i] = '\n'
	}
	for off := int64(0); off < n; {
		m, err := f.WriteAt(buf[:min(int64(len(buf)), n-off)], off)
		if err != nil {
			return err
		}
		off += int64(m)
	}
	return nil
}

// roomToSave is the space a save may need: the cache file's size, and as
// much again (at least reserveMargin) for it to grow.
func (c *FileCache) roomToSave() int64 {
	size := int64(0)
	if st, err := os.Stat(c.Path()); err == nil {
		size = st.Size()
	}
	return size + max(size, reserveMargin)
}

// CheckWritable makes sure a login can be saved, before the user is sent
// to sign in (auth login): the directory can be made and written, the disk
// has room (as a refresh's reservation would ask), and the cache file is
// not one written by a newer dualauth.
func (c *FileCache) CheckWritable() error {
	if err := c.ensureDir(); err != nil {
		return err
	}
	if _, _, err := c.read(); err != nil {
		var bad errCorrupt
		if !errors.As(err, &bad) {
			return err // a corrupt file is moved aside by the save
		}
	}
	f, err := os.CreateTemp(c.Dir, CacheFileName+".check-*")
	if err != nil {
		return fmt.Errorf("the token cache directory %s cannot be written: %w", c.Dir, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := allocate(f, c.roomToSave()); err != nil {
		return fmt.Errorf("the token cache directory %s cannot take a login: %w", c.Dir, err)
	}
	return c.ensureLockDir()
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

// ensureLockDir creates Dir/locks 0700; an existing one (or a link to a
// directory) is used as it is: the lock files in it are opened without
// following links.
func (c *FileCache) ensureLockDir() error {
	if err := c.ensureDir(); err != nil {
		return err
	}
	d := filepath.Join(c.Dir, LocksDirName)
	if err := os.Mkdir(d, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating the token cache lock directory: %w", err)
	} else if err == nil {
		os.Chmod(d, dirPerm)
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
	syncDir(dir)
	return nil
}

// replaceWith writes data into the allocated file f from its start, cuts
// it to size, fsyncs it and renames it to path. Writing within the
// allocation needs no new space.
func replaceWith(f *os.File, path string, data []byte) error {
	if _, err := f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing the token cache: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename in dir survive a crash.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// DefaultLockTimeout is how long a process waits for another one holding
// a login's lock. A holder does at most one token request (≤ the HTTP
// timeout) while it holds it; a dead holder's lock is released by the
// kernel at once.
const DefaultLockTimeout = 30 * time.Second

// fileLockTimeout bounds the wait for the cache file's own lock, which is
// held for one read-modify-write (milliseconds).
const fileLockTimeout = 10 * time.Second

const lockPoll = 10 * time.Millisecond

// Lock implements [Store] with an OS file lock (flock) on KeyLockPath(key),
// opened without following a symbolic link. The kernel releases it when
// the holder dies, even by kill -9. Other logins' locks are other files:
// a slow refresh of one login never holds up another (S39).
func (c *FileCache) Lock(ctx context.Context, key string) (func(), error) {
	if err := c.ensureLockDir(); err != nil {
		return nil, err
	}
	release, err := flockPath(ctx, c.KeyLockPath(key), "the lock of this login")
	if err != nil {
		return nil, err
	}
	// Only one holder at a time, in this process as across processes: the
	// flock on a fresh descriptor excludes other descriptors.
	c.mu.Lock()
	if c.held == nil {
		c.held = map[string]int{}
	}
	c.held[key]++
	c.snap = nil
	c.gen++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.dropReservation(key)
			c.mu.Lock()
			if c.held[key]--; c.held[key] <= 0 {
				delete(c.held, key)
			}
			c.mu.Unlock()
			release()
		})
	}, nil
}

// lockFile takes the cache file's own lock (for one read-modify-write).
func (c *FileCache) lockFile() (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), fileLockTimeout)
	defer cancel()
	return flockPath(ctx, c.LockPath(), "the token cache lock")
}

// flockPath takes an exclusive flock on path, created 0600 and opened
// without following a symbolic link, polling until ctx ends.
func flockPath(ctx context.Context, path, what string) (func(), error) {
	l := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDONLY|oNoFollow), flock.SetPermissions(filePerm))
	ok, err := l.TryLockContext(ctx, lockPoll)
	if err == nil && !ok {
		err = ctx.Err()
	}
	if err != nil {
		l.Close()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("another auth process holds %s %s; gave up waiting", what, path)
		case errors.Is(err, context.Canceled):
			return nil, fmt.Errorf("stopped waiting for %s %s", what, path)
		case isSymlink(path):
			return nil, fmt.Errorf("%s %s is a symbolic link, which auth does not follow: remove it", what, path)
		}
		return nil, fmt.Errorf("taking %s %s: %w", what, path, err)
	}
	return func() {
		l.Unlock()
		l.Close()
	}, nil
}

func isSymlink(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// lockHeld reports whether this FileCache holds the lock of the login under
// key (taken by Lock and not yet released).
func (c *FileCache) lockHeld(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key] > 0
}
