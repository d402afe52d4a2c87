package native

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestTokenSource_GoroutinesOnAnExpiredTokenRefreshItOnceWithoutInvalidGrant:
// two goroutines, each with its own TokenSource over the same options (one
// shared Store, or none so that each builds its own), ask for an expired
// token at once, round after round. The file lock and the fresh reload
// under it make one of them refresh and the other take its result: one
// refresh per round, never a spent rotating refresh token sent (which the
// provider answers with invalid_grant). Run with -race.
func TestTokenSource_GoroutinesOnAnExpiredTokenRefreshItOnceWithoutInvalidGrant(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     StorageMode // of the login, and of the shared store
		shared   bool        // one Store in the options; else none
		clientID string      // "" makes each source list the cache (Entries)
	}{
		{"shared file cache", StorageFile, true, clientID},
		{"shared file cache, client from the cache", StorageFile, true, ""},
		{"shared keyring store", StorageKeyring, true, clientID},
		{"shared keyring store, client from the cache", StorageKeyring, true, ""},
		{"a store per source", StorageFile, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			f := newKRFixture(t)
			_, err := f.login(f.store(tc.mode))
			is.NoErr(err)

			o := f.options(nil)
			o.ClientID = tc.clientID
			if tc.shared {
				s := f.store(tc.mode)
				if tc.mode == StorageFile {
					o.Store = s.File // the bare FileCache
				} else {
					o.Store = s
				}
			} else {
				t.Setenv("DUALAUTH_CACHE_DIR", f.dir)
				t.Setenv("DUALAUTH_STORAGE", string(tc.mode))
			}
			const rounds = 5
			for r := 1; r <= rounds; r++ {
				o.Now = later(time.Duration(r) * time.Hour) // the last token has expired
				start := make(chan struct{})
				var wg sync.WaitGroup
				tokens := make([]string, 2)
				errs := make([]error, 2)
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ts := TokenSource(context.Background(), TokenOptions{Options: o})
						<-start
						tok, err := ts.Token()
						errs[i] = err
						if err == nil {
							tokens[i] = tok.AccessToken
						}
					}()
				}
				close(start)
				wg.Wait()
				for _, err := range errs {
					is.NoErr(err) // no invalid_grant, no forced login
				}
				is.Equal(tokens[0], tokens[1])               // both got the one refreshed token…
				is.Equal(f.srv.Requests("refresh_token"), r) // …from exactly one refresh
				is.True(!strings.Contains(strings.Join(f.warn.all(), "\n"), "invalid_grant"))
			}
			is.Equal(len(f.warn.all()), 0)
		})
	}
}

// refreshedWhileWaiting is a store on which another process refreshes the
// login while this one waits for the lock: its Lock returns once that
// refresh is in the file.
type refreshedWhileWaiting struct {
	*FileCache
	once   sync.Once
	change func(*FileCache)
}

func (s *refreshedWhileWaiting) Lock(ctx context.Context, key string) (func(), error) {
	unlock, err := s.FileCache.Lock(ctx, key)
	if err == nil {
		s.once.Do(func() { s.change(s.FileCache) })
	}
	return unlock, err
}

// TestToken_JudgesTheReloadedTokenAtTheTimeTheLockWasGranted: the token
// another process saved while this one waited for the lock is checked
// against the clock when the lock was granted, not when the wait began; one
// that has expired meanwhile is refreshed, not handed out.
func TestToken_JudgesTheReloadedTokenAtTheTimeTheLockWasGranted(t *testing.T) {
	is := is.New(t)
	f := newKRFixture(t)
	_, err := f.login(f.store(StorageFile))
	is.NoErr(err)

	t0 := time.Now().Add(time.Hour) // the login's token has expired
	t1 := t0.Add(30 * time.Minute)  // when the lock is granted
	var calls atomic.Int32
	clock := func() time.Time {
		if calls.Add(1) == 1 {
			return t0
		}
		return t1
	}
	s := &refreshedWhileWaiting{FileCache: &FileCache{Dir: f.dir}, change: func(c *FileCache) {
		_, e, err := c.Load([]string{f.key()})
		if err != nil || e == nil {
			t.Errorf("no entry under the lock: %v", err)
			return
		}
		e.AccessToken, e.Expiry = "refreshed-by-another", t0.Add(10*time.Minute) // valid at t0, not at t1
		if err := c.Save(f.key(), *e); err != nil {
			t.Error(err)
		}
	}}
	o := f.options(s)
	o.Now = clock
	got, err := Token(context.Background(), TokenOptions{Options: o})
	is.NoErr(err)
	is.True(got.AccessToken != "refreshed-by-another")
	is.Equal(f.srv.Requests("refresh_token"), 1)
}
