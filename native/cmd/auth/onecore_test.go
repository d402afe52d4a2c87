package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// TestGitCredential_ConcurrentErasesOfOneTokenRefreshOnce: git processes
// that were all refused the same token run erase together; the first
// refreshes it, the others find under the lock that it was replaced and
// hand out the new one (core.RefreshConfig.Refused), so the server sees
// one refresh, not one per erase.
func TestGitCredential_ConcurrentErasesOfOneTokenRefreshOnce(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	first := e.login()
	// A slow token endpoint keeps the first refresh in flight while the
	// other erases read the cache.
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	})
	in := "protocol=https\nhost=git.example.com\nusername=oauth2\npassword=" + first.AccessToken + "\n\n"
	const erases = 3
	results := make([]result, erases)
	var wg sync.WaitGroup
	for i := range erases {
		wg.Go(func() { results[i] = e.authIn(in, nil, "git-credential", e.srv.Issuer, "erase") })
	}
	wg.Wait()
	for _, r := range results {
		is.Equal(r.code, 0) // each erase succeeds
		is.Equal(r.stdout, "")
	}
	is.Equal(e.srv.Requests("refresh_token"), 1) // one refresh for all of them
	now := e.entry()
	is.True(now.AccessToken != first.AccessToken)

	// A later erase of the old token: already replaced, nothing to do.
	r := e.authIn(in, nil, "git-credential", e.srv.Issuer, "erase")
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 1)
	is.Equal(e.entry().AccessToken, now.AccessToken)
	is.True(!strings.Contains(r.stderr, now.AccessToken))
}

// gatedCache is the cache as one process sees it: its second read waits
// for gate, as when the scheduler stops that process right there.
type gatedCache struct {
	*native.FileCache
	loads atomic.Int32
	gate  chan struct{}
}

func (g *gatedCache) Load(keys []string) (string, *core.Entry, error) {
	if g.loads.Add(1) == 2 {
		<-g.gate
	}
	return g.FileCache.Load(keys)
}

// TestGitErase_AnEraseStoppedBetweenItsReadsDoesNotRefreshAgain: erase B
// has read the refused token and is stopped before its next read; erase A
// of the same token comes along. Whatever the order, one refresh: B's
// second read is under the lock (one pass, core.RefreshConfig.Refused), so
// A waits for B, then finds the token replaced. (Two passes, the second
// forced, let A refresh meanwhile and B refresh again.)
func TestGitErase_AnEraseStoppedBetweenItsReadsDoesNotRefreshAgain(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	first := e.login()
	in, err := readGitRequest(strings.NewReader("protocol=https\nhost=git.example.com\nusername=oauth2\npassword=" + first.AccessToken + "\n\n"))
	is.NoErr(err)
	options := func(s native.Store) native.Options {
		return native.Options{Target: core.Target{Host: e.srv.Issuer}, ClientID: clientID, Store: s, LockTimeout: 20 * time.Second, Warn: func(string) {}}
	}
	b := &gatedCache{FileCache: &native.FileCache{Dir: e.cache}, gate: make(chan struct{})}
	bDone := make(chan error, 1)
	go func() { bDone <- gitErase(options(b), in, 0) }()
	for deadline := time.Now().Add(10 * time.Second); b.loads.Load() < 2; {
		is.True(time.Now().Before(deadline)) // erase B reached its second read
		time.Sleep(5 * time.Millisecond)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- gitErase(options(&native.FileCache{Dir: e.cache}), in, 0) }()
	select {
	case err := <-aDone: // A did not wait for B
		aDone <- err
	case <-time.After(time.Second): // A waits for the lock B holds
	}
	close(b.gate)
	is.NoErr(<-bDone)
	is.NoErr(<-aDone)
	is.Equal(e.srv.Requests("refresh_token"), 1) // one refresh for both erases
	is.True(e.entry().AccessToken != first.AccessToken)
}
