package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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
