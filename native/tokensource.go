package native

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"golang.org/x/oauth2"
)

// TokenSource returns an oauth2.TokenSource over a cached login (made by
// `auth login`): valid tokens come from memory or the cache file; expired
// ones are refreshed under the same cross-process lock as `auth token`, so
// a Go program and the CLI never race on a rotating refresh token.
// ctx bounds every refresh. With o.Store nil each token request opens its
// own store; sources (and goroutines) may also share one o.Store: either
// way N of them on an expired token refresh it once (see [Store]).
//
// An oauth2.Token is sent as "Authorization: TYPE token" and nothing else,
// so a login whose tokens are bound to a DPoP key fails here with a
// *core.DPoPBoundError rather than give out a token no API would take
// without its proof: call such APIs with [CallResource].
func TokenSource(ctx context.Context, o TokenOptions) oauth2.TokenSource {
	o.BearerOnly = true
	return &tokenSource{ctx: ctx, o: o}
}

// HTTPClient returns an *http.Client that sends the login's access token
// with every request (see [TokenSource]).
func HTTPClient(ctx context.Context, o TokenOptions) *http.Client {
	return oauth2.NewClient(ctx, TokenSource(ctx, o))
}

type tokenSource struct {
	ctx  context.Context
	o    TokenOptions
	mu   sync.Mutex
	last *core.Entry
}

func (ts *tokenSource) Token() (*oauth2.Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	skew := ts.o.Skew
	if skew == 0 {
		skew = core.DefaultSkew
	}
	now := time.Now
	if ts.o.Now != nil {
		now = ts.o.Now
	}
	if ts.last != nil && ts.last.Valid(now(), skew) {
		return ts.last.Token(), nil
	}
	e, err := Token(ts.ctx, ts.o)
	if err != nil {
		return nil, err
	}
	ts.last = e
	return e.Token(), nil
}
