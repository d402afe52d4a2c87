package native

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/hostile"
	"github.com/matryer/is"
)

// TestLock_IsPerLoginAndTheFileIsNotHeldAcrossIt: while one login's lock
// is held (a refresh waiting on its server), another login locks, saves
// and unlocks at once (S39).
func TestLock_IsPerLoginAndTheFileIsNotHeldAcrossIt(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	a, b := entry("https://a.example", "cli", "tok-a"), entry("https://b.example", "cli", "tok-b")
	holder := &FileCache{Dir: dir}
	unlockA, err := holder.Lock(context.Background(), a.Key())
	is.NoErr(err)
	defer unlockA()

	other := &FileCache{Dir: dir} // another process
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	unlockB, err := other.Lock(ctx, b.Key())
	is.NoErr(err) // not held up by A
	is.NoErr(other.Reserve(b.Key()))
	start := time.Now()
	is.NoErr(other.Save(b.Key(), b))
	is.True(time.Since(start) < 2*time.Second) // the file lock is free too: no wait for it,
	_, err = os.Stat(other.RescuePath(b.Key()))
	is.True(errors.Is(err, fs.ErrNotExist)) // and no rescue file instead of the cache
	all, err := other.Entries()
	is.NoErr(err)
	is.Equal(all[b.Key()].AccessToken, "tok-b") // B is in the cache file itself
	unlockB()

	// A itself is still exclusive.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = other.Lock(ctx, a.Key())
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "holds the lock of this login"))
	is.True(strings.Contains(err.Error(), holder.KeyLockPath(a.Key())))
}

// TestLock_DoesNotFollowASymbolicLink: a lock file replaced by a link to
// a file elsewhere is refused with a clear error, and the link's target is
// neither created nor touched.
func TestLock_DoesNotFollowASymbolicLink(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	key := core.Key("https://a.example", "cli")
	is.NoErr(os.MkdirAll(filepath.Join(c.Dir, LocksDirName), 0o700))
	target := filepath.Join(t.TempDir(), "victim")
	is.NoErr(os.Symlink(target, c.KeyLockPath(key)))
	_, err := c.Lock(context.Background(), key)
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "is a symbolic link, which auth does not follow"))
	_, statErr := os.Lstat(target)
	is.True(errors.Is(statErr, os.ErrNotExist)) // never created through the link

	// The cache file's own lock too: a write refuses it (and keeps the
	// login in its rescue file rather than losing it).
	is.NoErr(os.Remove(c.KeyLockPath(key)))
	is.NoErr(os.Symlink(target, c.LockPath()))
	_, err = c.lockFile()
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "is a symbolic link"))
	_, statErr = os.Lstat(target)
	is.True(errors.Is(statErr, os.ErrNotExist))
}

// TestFileCache_NewerVersionIsLeftAloneWithAnError: a cache written by a
// newer dualauth is not corrupt: it is neither moved aside nor
// overwritten, and the error says what happened.
func TestFileCache_NewerVersionIsLeftAloneWithAnError(t *testing.T) {
	is := is.New(t)
	var warned []string
	c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
	newer := `{"version":2,"tokens":{},"something_new":true}`
	is.NoErr(os.WriteFile(c.Path(), []byte(newer), 0o600))
	key := core.Key("https://a.example", "cli")

	_, _, err := c.Load([]string{key})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "written by a newer dualauth"))
	_, err = c.Entries()
	is.True(err != nil)
	unlock, err := c.Lock(context.Background(), key)
	is.NoErr(err)
	err = c.Save(key, entry("https://a.example", "cli", "tok"))
	unlock()
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "written by a newer dualauth"))
	is.True(errors.Is(c.CheckWritable(), err) || strings.Contains(c.CheckWritable().Error(), "newer dualauth"))

	b, err := os.ReadFile(c.Path())
	is.NoErr(err)
	is.Equal(string(b), newer) // untouched
	aside, _ := filepath.Glob(c.Path() + ".corrupt-*")
	is.Equal(len(aside), 0)
	_, err = os.Stat(c.RescuePath(key))
	is.True(errors.Is(err, os.ErrNotExist))
	is.Equal(len(warned), 0)
}

// TestFileCache_AFileOthersCanReadIsFixedOnTheNextRead: group/other bits
// on the cache file are removed by the next read, fast path included,
// with a warning (S24).
func TestFileCache_AFileOthersCanReadIsFixedOnTheNextRead(t *testing.T) {
	is := is.New(t)
	var warned []string
	c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
	e := entry("https://a.example", "cli", "tok")
	save(t, c, e)
	is.NoErr(os.Chmod(c.Path(), 0o644))

	_, got, err := c.Load([]string{e.Key()}) // no lock, no write
	is.NoErr(err)
	is.Equal(got.AccessToken, "tok")
	st, err := os.Stat(c.Path())
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	is.Equal(len(warned), 1)
	is.True(strings.Contains(warned[0], "could be read by other users (mode 0644); it is now 0600"))

	_, _, err = c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(len(warned), 1) // once
}

// TestFileCache_ReserveFailsOnAFullDiskBeforeAnythingIsSpent: with no
// space, Reserve is an error (the refresh is not sent) and the cache is
// unchanged; with space, the save goes through the reserved file even
// after the disk has filled up meanwhile (S38).
func TestFileCache_ReserveFailsOnAFullDiskBeforeAnythingIsSpent(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: filepath.Join(hostile.Tmpfs(t, 1<<20), "cache")}
	e := entry("https://a.example", "cli", "tok")
	save(t, c, e)
	before, err := os.ReadFile(c.Path())
	is.NoErr(err)

	filler := hostile.Fill(t, filepath.Dir(c.Dir))
	unlock, err := c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	err = c.Reserve(e.Key())
	unlock()
	is.True(errors.Is(err, syscall.ENOSPC))
	is.True(strings.Contains(err.Error(), "reserving"))
	after, err := os.ReadFile(c.Path())
	is.NoErr(err)
	is.Equal(string(after), string(before))
	left, _ := filepath.Glob(filepath.Join(c.Dir, "*.reserve-*"))
	is.Equal(len(left), 0)

	is.NoErr(os.Remove(filler))
	unlock, err = c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	is.NoErr(c.Reserve(e.Key()))
	filler = hostile.Fill(t, filepath.Dir(c.Dir)) // the disk fills during the refresh
	e.AccessToken, e.RefreshToken = "tok-2", "rotated"
	is.NoErr(c.Save(e.Key(), e))
	left, _ = filepath.Glob(filepath.Join(c.Dir, "*.reserve-*"))
	is.Equal(len(left), 0) // used up by the rename, before the unlock would drop it
	unlock()
	_, got, err := c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.RefreshToken, "rotated")
	os.Remove(filler)
}

// TestFileCache_ASaveThatCannotBeWrittenIsRescuedAndMergedBack: when the
// cache has grown past the reservation on a full disk, the entry goes to
// its rescue file (inside the reserved space) with a warning, Save
// succeeds, and the next load under the lock finds it and merges it back
// once there is space (S38).
func TestFileCache_ASaveThatCannotBeWrittenIsRescuedAndMergedBack(t *testing.T) {
	is := is.New(t)
	var warned []string
	c := &FileCache{Dir: filepath.Join(hostile.Tmpfs(t, 2<<20), "cache"), Warn: func(m string) { warned = append(warned, m) }}
	e := entry("https://a.example", "cli", "tok")
	save(t, c, e)

	unlock, err := c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	is.NoErr(c.Reserve(e.Key()))
	// Meanwhile another login adds 300 kB to the file, then the disk fills.
	big := entry("https://big.example", "cli", strings.Repeat("b", 300<<10))
	other := &FileCache{Dir: c.Dir}
	save(t, other, big)
	filler := hostile.Fill(t, filepath.Dir(c.Dir))
	e.AccessToken, e.RefreshToken, e.ObtainedAt = "tok-2", "rotated", time.Now()
	is.NoErr(c.Save(e.Key(), e)) // kept, not lost
	unlock()
	is.Equal(len(warned), 1)
	is.True(strings.Contains(warned[0], "no space left on device"))
	is.True(strings.Contains(warned[0], "the login is kept in "+c.RescuePath(e.Key())))
	is.True(!strings.Contains(warned[0], "rotated"))

	// Without the lock, the cache file's entry (old, expired by then) is
	// what a fast path sees; it then takes the lock, which finds the
	// rescued entry, even with the disk still full.
	_, got, err := c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.RefreshToken, "rt-tok")
	unlock, err = c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	_, got, err = c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.RefreshToken, "rotated")
	is.Equal(got.AccessToken, "tok-2")
	unlock()
	_, err = os.Stat(c.RescuePath(e.Key()))
	is.NoErr(err) // still there: the cache could not take it yet

	is.NoErr(os.Remove(filler))
	unlock, err = c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	_, got, err = c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.RefreshToken, "rotated")
	unlock()
	_, err = os.Stat(c.RescuePath(e.Key()))
	is.True(errors.Is(err, os.ErrNotExist)) // merged back
	all, err := c.Entries()
	is.NoErr(err)
	is.Equal(all[e.Key()].RefreshToken, "rotated")
	is.Equal(all[big.Key()].AccessToken, big.AccessToken)
}

// TestLogin_AnUnusableCacheFailsBeforeTheUserIsSentAnywhere: both login
// flows check the cache first; neither the browser nor the device code is
// ever shown, and the server is never asked (issue 11, item 5).
func TestLogin_AnUnusableCacheFailsBeforeTheUserIsSentAnywhere(t *testing.T) {
	is := is.New(t)
	a, err := hostile.Start()
	is.NoErr(err)
	defer a.Close()
	blocker := filepath.Join(t.TempDir(), "file")
	is.NoErr(os.WriteFile(blocker, []byte("x"), 0o600))
	o := Options{Target: core.Target{Host: a.Issuer}, ClientID: "cli", Store: &FileCache{Dir: filepath.Join(blocker, "cache")}}

	shown := false
	_, err = DeviceLogin(context.Background(), DeviceOptions{Options: o, ShowCode: func(core.ShowCode) { shown = true }})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "cannot log in: creating the token cache directory"))
	is.True(!shown)

	opened := false
	_, err = Login(context.Background(), LoginOptions{Options: o, OnAuthorize: func(string, <-chan error) { opened = true }})
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "cannot log in"))
	is.True(!opened)
	is.Equal(a.Requests("authorization_code"), 0)
}
