package native

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// TestMain doubles as a helper process: with DUALAUTH_TEST_HOLD_LOCK=DIR
// it takes the cache lock in DIR, says so on stdout and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DUALAUTH_TEST_HOLD_LOCK"); dir != "" {
		c := &FileCache{Dir: dir}
		if _, err := c.Lock(context.Background(), heldKey); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// heldKey is the login whose lock the helper process holds.
const heldKey = "https://held.example cli"

func entry(issuer, client, access string) core.Entry {
	return core.Entry{
		Host: issuer, ClientID: client, AccessToken: access, TokenType: "Bearer", RefreshToken: "rt-" + access,
		Expiry: time.Now().Add(time.Hour), Metadata: core.Metadata{Issuer: issuer, TokenEndpoint: issuer + "/token"},
	}
}

func save(t *testing.T, c *FileCache, e core.Entry) {
	t.Helper()
	unlock, err := c.Lock(context.Background(), e.Key())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := c.Save(e.Key(), e); err != nil {
		t.Fatal(err)
	}
}

func TestFileCache_CreatesDirs0700AndFiles0600EvenWithUmaskZero(t *testing.T) {
	is := is.New(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	parent := filepath.Join(t.TempDir(), "new-parent")
	dir := filepath.Join(parent, "cache")
	c := &FileCache{Dir: dir}
	save(t, c, entry("https://a.example", "cli", "tok-a"))
	for _, d := range []string{parent, dir} { // every directory it created
		st, err := os.Stat(d)
		is.NoErr(err)
		is.Equal(st.Mode().Perm(), os.FileMode(0o700))
	}
	for _, f := range []string{c.Path(), c.LockPath()} {
		st, err := os.Stat(f)
		is.NoErr(err)
		is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	}
}

// An existing directory named by --cache-dir (a shared one, /tmp, $HOME)
// keeps its mode: only directories the cache creates are made 0700, and
// the files are 0600 whatever the directory is.
func TestFileCache_LeavesAnExistingDirectoryModeAloneAndKeepsFiles0600(t *testing.T) {
	for _, mode := range []os.FileMode{0o755, 0o775, os.ModeSticky | 0o777} {
		t.Run(mode.String(), func(t *testing.T) {
			is := is.New(t)
			old := syscall.Umask(0)
			defer syscall.Umask(old)
			dir := filepath.Join(t.TempDir(), "shared")
			is.NoErr(os.Mkdir(dir, 0o700))
			is.NoErr(os.Chmod(dir, mode))
			c := &FileCache{Dir: dir}
			save(t, c, entry("https://a.example", "cli", "tok-a"))
			st, err := os.Stat(dir)
			is.NoErr(err)
			is.Equal(st.Mode()&(os.ModePerm|os.ModeSticky), mode) // untouched
			for _, f := range []string{c.Path(), c.LockPath()} {
				st, err := os.Stat(f)
				is.NoErr(err)
				is.Equal(st.Mode().Perm(), os.FileMode(0o600))
			}
		})
	}
}

func TestFileCache_MovesCorruptFileAsideWithWarningAndKeepsItsBytes(t *testing.T) {
	for _, garbage := range []string{"{not json", `{"version":0,"tokens":{}}`, "\x00\x01binary"} {
		t.Run(fmt.Sprintf("%q", garbage), func(t *testing.T) {
			is := is.New(t)
			var warnings []string
			c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warnings = append(warnings, m) }}
			is.NoErr(os.WriteFile(c.Path(), []byte(garbage), 0o600))

			k, e, err := c.Load([]string{core.Key("https://a.example", "cli")})
			is.NoErr(err) // a corrupt file is a cache miss…
			is.Equal(k, "")
			is.True(e == nil)
			is.Equal(len(warnings), 1) // …with a warning…
			is.True(strings.Contains(warnings[0], "corrupt"))
			aside, _ := filepath.Glob(c.Path() + ".corrupt-*")
			is.Equal(len(aside), 1) // …and the bad file is kept aside, byte for byte
			b, err := os.ReadFile(aside[0])
			is.NoErr(err)
			is.Equal(string(b), garbage)
			is.True(strings.Contains(warnings[0], aside[0]))

			save(t, c, entry("https://a.example", "cli", "tok-a"))
			_, e, err = c.Load([]string{core.Key("https://a.example", "cli")})
			is.NoErr(err)
			is.Equal(e.AccessToken, "tok-a")
		})
	}
}

func TestFileCache_SaveAndDeleteKeepOtherEntries(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	a, b := entry("https://a.example", "cli", "tok-a"), entry("https://b.example", "cli", "tok-b")
	save(t, c, a)
	save(t, c, b)
	a.AccessToken = "tok-a2"
	save(t, c, a)
	_, got, err := c.Load([]string{b.Key()})
	is.NoErr(err)
	is.Equal(got.AccessToken, "tok-b")
	unlock, err := c.Lock(context.Background(), a.Key())
	is.NoErr(err)
	is.NoErr(c.Delete(a.Key()))
	unlock()
	_, got, err = c.Load([]string{a.Key()})
	is.NoErr(err)
	is.True(got == nil)
	_, got, err = c.Load([]string{b.Key()})
	is.NoErr(err)
	is.Equal(got.AccessToken, "tok-b")
}

// TestFileCache_ReplacesFileAtomically: every save renames a complete,
// synced temporary file over the cache (a new inode, no temp left over),
// so a reader running at the same time never sees a partial file (S21).
func TestFileCache_ReplacesFileAtomically(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	e := entry("https://a.example", "cli", "tok")
	save(t, c, e)
	// Held open, the first file's inode cannot be reused by a later save
	// (which would make SameFile below true by accident).
	first, err := os.Open(c.Path())
	is.NoErr(err)
	defer first.Close()
	before, err := first.Stat()
	is.NoErr(err)
	firstBytes, err := os.ReadFile(c.Path())
	is.NoErr(err)

	stop := make(chan struct{})
	var bad []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(c.Path())
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if _, err := core.DecodeCacheFile(b); err != nil || len(b) == 0 {
				bad = append(bad, fmt.Sprintf("partial read of %d bytes", len(b)))
			}
		}
	}()
	for i := range 200 {
		e.AccessToken = strings.Repeat("x", i*50)
		save(t, c, e)
	}
	close(stop)
	wg.Wait()
	is.Equal(bad, nil)

	after, err := os.Stat(c.Path())
	is.NoErr(err)
	is.True(!os.SameFile(before, after)) // replaced by rename, not rewritten in place
	still, err := io.ReadAll(first)
	is.NoErr(err)
	is.Equal(string(still), string(firstBytes)) // the old file was never written to
	left, _ := filepath.Glob(filepath.Join(c.Dir, "*.tmp-*"))
	is.Equal(len(left), 0)
}

func TestFileCache_UnwritableDirIsAClearError(t *testing.T) {
	is := is.New(t)
	// A regular file where the directory should be: unwritable even for
	// root, which ignores permission bits.
	blocker := filepath.Join(t.TempDir(), "file")
	is.NoErr(os.WriteFile(blocker, []byte("x"), 0o600))
	c := &FileCache{Dir: filepath.Join(blocker, "cache")}
	_, err := c.Lock(context.Background(), "k")
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "token cache directory"))
	is.True(!strings.Contains(err.Error(), "\n"))
}

func TestLock_WaitsAtMostTheTimeoutForAnotherHolder(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	unlock, err := c.Lock(context.Background(), "k")
	is.NoErr(err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = (&FileCache{Dir: c.Dir}).Lock(ctx, "k")
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "holds the lock of this login"))
	is.True(time.Since(start) < 2*time.Second)
}

func TestLock_IsReleasedWhenTheHolderIsKilled(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DUALAUTH_TEST_HOLD_LOCK="+dir)
	var out bytes.Buffer
	pr, pw, err := os.Pipe()
	is.NoErr(err)
	cmd.Stdout = pw
	is.NoErr(cmd.Start())
	pw.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 64)
	n, _ := pr.Read(buf)
	out.Write(buf[:n])
	is.Equal(strings.TrimSpace(out.String()), "locked")

	// Held: a short wait fails.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = (&FileCache{Dir: dir}).Lock(ctx, heldKey)
	cancel()
	is.True(err != nil)

	is.NoErr(cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	start := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unlock, err := (&FileCache{Dir: dir}).Lock(ctx, heldKey)
	is.NoErr(err)
	unlock()
	is.True(time.Since(start) < time.Second)
}

// TestFileCache_ReadsFreshUnderTheLock: the one-read shortcut between
// Entries and Load never hides another process's write from a reader that
// holds the lock.
func TestFileCache_ReadsFreshUnderTheLock(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	e := entry("https://a.example", "cli", "old")
	save(t, c, e)
	_, err := c.Entries()
	is.NoErr(err)

	other := &FileCache{Dir: c.Dir} // another process
	e.AccessToken = "new"
	save(t, other, e)

	unlock, err := c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	defer unlock()
	_, got, err := c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.AccessToken, "new")
}

// TestFileCache_LoadUnderTheLockNeverServesTheSnapshot: a snapshot taken by
// Entries while the lock is held (another goroutine listing logins) is not
// what the lock holder's reload sees; it reads the file.
func TestFileCache_LoadUnderTheLockNeverServesTheSnapshot(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	e := entry("https://a.example", "cli", "old")
	save(t, c, e)

	unlock, err := c.Lock(context.Background(), e.Key())
	is.NoErr(err)
	defer unlock()
	_, err = c.Entries() // sees "old"
	is.NoErr(err)
	// The file changes under the snapshot (as when the snapshot was read
	// before another writer's save and stored after it).
	f, _ := core.DecodeCacheFile(nil)
	e.AccessToken = "new"
	f.Tokens[e.Key()] = e
	is.NoErr(writeAtomic(c.Path(), f.Encode()))

	_, got, err := c.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(got.AccessToken, "new")
}

// TestFileCache_CorruptFileSeenUnderTheLockIsRepairedWithoutWaitingForItself:
// a reload under the lock that finds a corrupt file moves it aside at once
// instead of waiting the whole lock timeout for its own lock.
func TestFileCache_CorruptFileSeenUnderTheLockIsRepairedWithoutWaitingForItself(t *testing.T) {
	is := is.New(t)
	var warned []string
	c := &FileCache{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
	unlock, err := c.Lock(context.Background(), core.Key("https://a.example", "cli"))
	is.NoErr(err)
	defer unlock()
	is.NoErr(os.WriteFile(c.Path(), []byte("{not json"), 0o600))

	start := time.Now()
	k, e, err := c.Load([]string{core.Key("https://a.example", "cli")})
	is.True(time.Since(start) < time.Second)
	is.NoErr(err)
	is.Equal(k, "")
	is.True(e == nil) // an empty cache
	aside, _ := filepath.Glob(c.Path() + ".corrupt-*")
	is.Equal(len(aside), 1)
	_, statErr := os.Stat(c.Path())
	is.True(os.IsNotExist(statErr))
	is.Equal(len(warned), 1)
}

// TestFileCache_IsSafeForConcurrentUse: Load, Entries, Lock, Save and Delete
// from several goroutines on one FileCache (run with -race).
func TestFileCache_IsSafeForConcurrentUse(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	e := entry("https://a.example", "cli", "tok")
	save(t, c, e)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := c.Entries(); err != nil {
					t.Error(err)
				}
				if _, _, err := c.Load([]string{e.Key()}); err != nil {
					t.Error(err)
				}
				mine := entry("https://a.example", fmt.Sprint("cli", i), "tok")
				unlock, err := c.Lock(context.Background(), mine.Key())
				if err != nil {
					t.Error(err)
					return
				}
				if err := c.Save(mine.Key(), mine); err != nil {
					t.Error(err)
				}
				if err := c.Delete(mine.Key()); err != nil {
					t.Error(err)
				}
				unlock()
			}
		}()
	}
	wg.Wait()
	all, err := c.Entries()
	is.NoErr(err)
	is.Equal(len(all), 1)
}
