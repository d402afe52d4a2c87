package core

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// loggedIn returns a world with a Databricks login whose token lives ttl.
func loggedIn(t *testing.T, ttl int) *world {
	t.Helper()
	srv := newFakeServer(dbxIssuer)
	srv.tokenTTL = ttl
	w := newWorld(t, srv)
	is.New(t).NoErr(w.login(dbxLogin()).Err)
	srv.requests = nil
	w.log = nil
	return w
}

func refreshRequests(s *fakeServer) int {
	n := 0
	for _, r := range s.requests {
		if r.Form.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

func TestRefresh_ValidTokenNeedsNoLockAndNoNetwork(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	d := w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(len(w.srv.requests), 0)
	is.Equal(w.log[1:2], []string{`Load ["https://adb-123.4.azuredatabricks.net/oidc databricks-cli" "https://adb-123.4.azuredatabricks.net databricks-cli"] → found`})
	is.Equal(len(w.log), 3)            // header, Load, Done: no Lock
	is.Equal(d.Token.RefreshToken, "") // callers never get the refresh token
}

func TestRefresh_InvalidGrantDropsRefreshTokenAndAsksForLogin(t *testing.T) { // S22
	is := is.New(t)
	w := loggedIn(t, 3600)
	key := Key(dbxIssuer, "databricks-cli")
	e := w.cache[key]
	delete(w.srv.refresh, e.RefreshToken) // revoked at the server
	w.now = w.now.Add(2 * time.Hour)

	d := w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
	is.True(errors.Is(d.Err, ErrInvalidGrant))
	is.True(strings.Contains(d.Err.Error(), "run `auth login "+dbxHost+"`"))
	is.Equal(w.cache[key].RefreshToken, "") // dropped
	is.Equal(refreshRequests(w.srv), 1)     // no retry loop

	// The next call does not send the dead token again.
	d = w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
	is.Equal(refreshRequests(w.srv), 1)
}

func TestRefresh_Skew(t *testing.T) { // S23
	for _, tc := range []struct {
		name    string
		ttl     int
		skew    time.Duration
		age     time.Duration
		refresh bool
	}{
		{"FreshTokenServed", 3600, 0, 10 * time.Minute, false},
		{"WithinDefaultSkewRefreshed", 3600, 0, 3600*time.Second - DefaultSkew + time.Second, true},
		{"JustOutsideDefaultSkewServed", 3600, 0, 3600*time.Second - DefaultSkew - time.Second, false},
		{"ConfiguredSkewHonoured", 3600, 10 * time.Minute, 51 * time.Minute, true},
		{"ConfiguredSkewHonouredBefore", 3600, 10 * time.Minute, 49 * time.Minute, false},
		{"ShortLivedTokenUsedForHalfItsLife", 20, 0, 9 * time.Second, false},
		{"ShortLivedTokenRefreshedAfterHalf", 20, 0, 11 * time.Second, true},
		{"ExpiredRefreshed", 60, 0, 2 * time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := loggedIn(t, tc.ttl)
			w.now = w.now.Add(tc.age)
			cfg := dbxToken()
			cfg.Skew = tc.skew
			is.NoErr(w.token(cfg).Err)
			is.Equal(refreshRequests(w.srv) == 1, tc.refresh)
		})
	}
}

func TestRefresh_ShortLivedTokenIsNotRefreshedOnEveryCall(t *testing.T) { // S23
	is := is.New(t)
	w := loggedIn(t, 5) // shorter than the skew
	for i := 0; i < 10; i++ {
		is.NoErr(w.token(dbxToken()).Err)
	}
	is.Equal(refreshRequests(w.srv), 0)
}

func TestRefresh_AnotherProcessRefreshedWhileWaitingForLock(t *testing.T) { // S20 (core part)
	is := is.New(t)
	w := loggedIn(t, 3600)
	w.now = w.now.Add(2 * time.Hour)
	key := Key(dbxIssuer, "databricks-cli")
	// While this caller waits for the lock, another one refreshes.
	w.onLock = func() error {
		e := w.cache[key]
		e.AccessToken, e.Expiry, e.ObtainedAt = "fresh-from-other", w.now.Add(time.Hour), w.now
		w.cache[key] = e
		return nil
	}
	d := w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "fresh-from-other")
	is.Equal(refreshRequests(w.srv), 0)
}

func TestRefresh_ForceRefreshesValidTokenOnce(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	cfg := dbxToken()
	cfg.Force = true
	d := w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(refreshRequests(w.srv), 1)
	is.True(d.Token.AccessToken != "access-2")

	// Forced, but another process refreshed meanwhile: use theirs.
	key := Key(dbxIssuer, "databricks-cli")
	w.onLock = func() error {
		e := w.cache[key]
		e.AccessToken = "theirs"
		w.cache[key] = e
		return nil
	}
	d = w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "theirs")
	is.Equal(refreshRequests(w.srv), 1)
}

// ForceSharesNew (the Databricks forms' --force-refresh): a token obtained
// in the last minute, at most a tenth of its lifetime, is what a refresh
// would give, so it is handed out from the cache (no lock, no request); an
// older one is refreshed once, as Force alone does.
func TestRefresh_ForceSharesATokenObtainedJustNow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ttl     int
		age     time.Duration
		refresh bool
	}{
		{"one hour token, 5 s old", 3600, 5 * time.Second, false},
		{"one hour token, 59 s old", 3600, 59 * time.Second, false},
		{"one hour token, 61 s old", 3600, 61 * time.Second, true},
		{"five minute token, 29 s old", 300, 29 * time.Second, false},
		{"five minute token, 31 s old", 300, 31 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := loggedIn(t, tc.ttl)
			w.now = w.now.Add(tc.age)
			cfg := dbxToken()
			cfg.Force, cfg.ForceSharesNew = true, true
			d := w.token(cfg)
			is.NoErr(d.Err)
			is.Equal(refreshRequests(w.srv) == 1, tc.refresh)
			if !tc.refresh {
				is.Equal(len(w.log), 3) // header, Load, Done: no Lock
			}
		})
	}
}

func TestRefresh_RotationSavedAndOldKeptWhenNoneReturned(t *testing.T) { // S21 (core part)
	is := is.New(t)
	w := loggedIn(t, 60)
	key := Key(dbxIssuer, "databricks-cli")
	w.now = w.now.Add(time.Hour)
	is.NoErr(w.token(dbxToken()).Err)
	is.Equal(w.cache[key].RefreshToken, "refresh-3") // rotated one saved

	w.now = w.now.Add(time.Hour)
	w.onFetch = func(Request) (Response, error) {
		return jsonResponse(200, map[string]any{"access_token": "no-rotation", "expires_in": "60"}), nil
	}
	d := w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "no-rotation")
	is.Equal(w.cache[key].RefreshToken, "refresh-3") // old one kept
	is.Equal(w.cache[key].TokenType, "Bearer")
	is.Equal(w.cache[key].Expiry, w.now.Add(time.Minute))
}

func TestRefresh_Failures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		age       time.Duration
		fetch     func(Request) (Response, error)
		lock      error
		save      error
		wantErr   string
		wantToken string
		wantWarn  bool
	}{
		{name: "ServerDownAfterExpiry", age: 2 * time.Hour, fetch: func(Request) (Response, error) { return Response{}, errors.New("connection refused") }, wantErr: "connection refused; the login is kept: run the command again once the server answers"},
		{name: "ServerErrorAfterExpiry", age: 2 * time.Hour, fetch: func(Request) (Response, error) { return Response{Status: 503}, nil }, wantErr: "HTTP 503"},
		{name: "EarlyRefreshFailureServesStillValidToken", age: 59*time.Minute + 30*time.Second, fetch: func(Request) (Response, error) { return Response{Status: 502}, nil }, wantToken: "access-2", wantWarn: true},
		{name: "LockTimeout", age: 2 * time.Hour, lock: errors.New("timed out after 30s"), wantErr: "timed out"},
		{name: "SaveFails", age: 2 * time.Hour, save: errors.New("read-only file system"), wantErr: "read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := loggedIn(t, 3600)
			w.now = w.now.Add(tc.age)
			w.onFetch, w.onLock, w.onSave = tc.fetch, func() error { return tc.lock }, func() error { return tc.save }
			d := w.token(dbxToken())
			if tc.wantErr != "" {
				is.True(d.Err != nil)
				is.True(strings.Contains(d.Err.Error(), tc.wantErr))
			} else {
				is.NoErr(d.Err)
				is.Equal(d.Token.AccessToken, tc.wantToken)
			}
			is.Equal(len(w.warnings) == 1, tc.wantWarn)
		})
	}
}

func TestRefresh_NoRefreshTokenOrEntryGone(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 60)
	key := Key(dbxIssuer, "databricks-cli")
	e := w.cache[key]
	e.RefreshToken = ""
	w.cache[key] = e
	w.now = w.now.Add(time.Hour)
	d := w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
	is.True(strings.Contains(d.Err.Error(), "no refresh token"))

	// Logged out by another process while this one waited for the lock.
	w = loggedIn(t, 60)
	w.now = w.now.Add(time.Hour)
	w.onLock = func() error { delete(w.cache, key); return nil }
	d = w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
}

func TestRefresh_AbortUnderLockUnlocks(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 60)
	w.now = w.now.Add(time.Hour)
	r := NewRefresh(dbxToken())
	ev := w.perform(r.Step(Start{Now: w.now})[0]) // Loaded
	ev = w.perform(r.Step(ev)[0])                 // Locked
	_ = w.perform(r.Step(ev)[0])                  // reloaded; now it would fetch
	effs := r.Step(Aborted{Err: errors.New("interrupted")})
	is.Equal(effs[0], Effect(Unlock{Key: Key(dbxIssuer, "databricks-cli")}))
	is.Equal(effs[1].(Done).Err.Error(), "interrupted")

	effs = NewRefresh(dbxToken()).Step(Aborted{Err: errors.New("x")})
	is.Equal(len(effs), 1) // nothing held, nothing to unlock
	effs = NewRefresh(dbxToken()).Step(Saved{})
	is.True(strings.Contains(effs[0].(Done).Err.Error(), "unexpected"))
}

func TestEntry_Valid(t *testing.T) {
	is := is.New(t)
	var nilEntry *Entry
	is.True(!nilEntry.Valid(t0, 0))
	is.True(!(&Entry{}).Valid(t0, 0))
	is.True((&Entry{AccessToken: "a"}).Valid(t0, time.Hour)) // no expiry: valid
	is.True(!(&Entry{AccessToken: "a", Expiry: t0}).Valid(t0, 0))
}

func TestLogout_DeletesThenRevokes(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	key := Key(dbxIssuer, "databricks-cli")
	rt := w.cache[key].RefreshToken
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	_, still := w.cache[key]
	is.True(!still)
	is.True(!w.srv.refresh[rt]) // revoked at the server
	is.Equal(w.srv.requests[0].Form.Get("token_type_hint"), "refresh_token")
	is.True(!w.locked)

	// Again: nothing to log out of, which is no error (both targets say
	// "already logged out").
	d = Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.True(d.Entry == nil) // nothing removed
}

func TestLogout_RevocationFailureIsAWarning(t *testing.T) {
	for name, fetch := range map[string]func(Request) (Response, error){
		"Unreachable": func(Request) (Response, error) { return Response{}, errors.New("refused") },
		"Refused":     func(Request) (Response, error) { return Response{Status: 503}, nil },
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			w := loggedIn(t, 3600)
			w.onFetch = fetch
			d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
			is.NoErr(d.Err)
			is.Equal(len(w.cache), 0) // the local entry is gone regardless
			is.Equal(len(w.warnings), 1)
		})
	}
}

func TestLogout_WithoutRevocationEndpoint(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	key := Key(dbxIssuer, "databricks-cli")
	e := w.cache[key]
	e.Metadata.RevocationEndpoint = ""
	w.cache[key] = e
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.Equal(len(w.srv.requests), 0)
	is.Equal(d.Entry.Host, dbxHost)
}

func TestLogout_FailuresAndAbort(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	w.onLock = func() error { return errors.New("lock busy") }
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.True(strings.Contains(d.Err.Error(), "lock busy"))
	is.Equal(len(w.cache), 1)

	l := NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"})
	w.onLock = nil
	ev := w.perform(l.Step(Start{Now: w.now})[0])
	ev = w.perform(l.Step(ev)[0]) // locked
	l.Step(ev)                    // Delete issued
	effs := l.Step(Aborted{Err: errors.New("stop")})
	is.Equal(effs[0], Effect(Unlock{Key: Key(dbxIssuer, "databricks-cli")}))
	w.locked = false

	effs = NewLogout(Target{Host: dbxHost}, Client{ID: "c"}).Step(Loaded{Err: errors.New("io")})
	is.True(strings.Contains(effs[0].(Done).Err.Error(), "unexpected"))
}

func TestLogout_RevokesWhatIsUnderTheLock(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	key := Key(dbxIssuer, "databricks-cli")
	// A store that hands the refresh token only to the lock holder.
	rt := w.cache[key].RefreshToken
	e := w.cache[key]
	e.RefreshToken = ""
	w.cache[key] = e
	w.onLock = func() error {
		e := w.cache[key]
		e.RefreshToken = rt
		w.cache[key] = e
		return nil
	}
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.Equal(w.srv.requests[0].Form.Get("token"), rt)

	// Logged out by someone else while waiting for the lock.
	w = loggedIn(t, 3600)
	w.onLock = func() error { delete(w.cache, key); return nil }
	d = Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.True(d.Entry == nil) // nothing removed
	is.True(!w.locked)
	is.Equal(len(w.srv.requests), 0)
}

func TestLogout_StillRemovesTheLoginWhenTheReloadFails(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	key := Key(dbxIssuer, "databricks-cli")
	access := w.cache[key].AccessToken
	l := NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"})
	var revoked []string
	d := Drive(l, Start{Now: w.now}, func(e Effect) Event {
		if ld, ok := e.(Load); ok && w.locked {
			w.logf("Load %q → keyring locked", ld.Keys)
			return Loaded{Err: errors.New("keyring locked")}
		}
		if f, ok := e.(Fetch); ok {
			revoked = append(revoked, f.Request.Form.Get("token"))
		}
		return w.perform(e)
	})
	is.NoErr(d.Err)
	is.Equal(len(w.cache), 0)    // the login is gone anyway
	is.Equal(len(w.warnings), 1) // and the user is told why revocation is partial
	is.True(strings.Contains(w.warnings[0], "keyring locked"))
	is.Equal(len(revoked), 1)
	is.True(revoked[0] != "" && (revoked[0] == access || strings.HasPrefix(revoked[0], "refresh-")))
	is.True(!w.locked)
}

// A stored login that cannot be read blocks no logout: the logout takes
// the lock on its key and deletes it, and says that nothing was revoked.
// The token machine reports it as ErrUnreadableEntry, not as a login.
func TestLogout_RemovesAnUnreadableEntry(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	key := Key(dbxIssuer, "databricks-cli")
	w.unreadable = map[string]bool{key: true}
	d := w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrUnreadableEntry))
	d = Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.Equal(len(w.unreadable), 0)   // deleted
	is.Equal(len(w.srv.requests), 0) // nothing to revoke
	is.Equal(len(w.warnings), 1)
	is.True(strings.Contains(w.warnings[0], "cannot be read"))
	is.True(!w.locked)
	// Now there is nothing left to log out of.
	d = Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.True(d.Entry == nil)
}

func TestLogout_InterruptedRevocationIsStillALogout(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	l := NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"})
	d := Drive(l, Start{Now: w.now}, func(e Effect) Event {
		if _, ok := e.(Fetch); ok {
			return Aborted{Err: errors.New("interrupted")}
		}
		return w.perform(e)
	})
	is.NoErr(d.Err)
	is.Equal(len(w.cache), 0)
	is.Equal(len(w.warnings), 1)
	is.True(!w.locked)
}

// S38: a refresh token is never spent when the new one cannot be saved.
func TestRefresh_ReserveFailsBeforeTheRefreshTokenIsSpent(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 60)
	w.now = w.now.Add(2 * time.Hour)
	w.onReserve = func() error { return errors.New("no space left on device") }
	d := w.token(dbxToken())
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "refresh token was not used"))
	is.True(strings.Contains(d.Err.Error(), "no space left"))
	is.True(!errors.Is(d.Err, ErrNotLoggedIn)) // the login is intact
	is.Equal(refreshRequests(w.srv), 0)

	w.onReserve = nil // space again: the same refresh token still works
	d = w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(refreshRequests(w.srv), 1)
}

// S38: an answer that rotated the refresh token but is otherwise unusable
// leaves the new refresh token in the cache, and the next call uses it.
func TestRefresh_RotatedRefreshTokenInUnusableAnswerIsKept(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 60)
	w.now = w.now.Add(2 * time.Hour)
	key := Key(dbxIssuer, "databricks-cli")
	w.onFetch = func(r Request) (Response, error) {
		// The server rotates (the old token is now spent) and then sends
		// no access token.
		rt := r.Form.Get("refresh_token")
		is.True(w.srv.refresh[rt])
		delete(w.srv.refresh, rt)
		w.srv.refresh["rotated-rt"] = true
		return Response{Status: 200, ContentType: "application/json", Body: []byte(`{"refresh_token":"rotated-rt","expires_in":"soon"}`)}, nil
	}
	d := w.token(dbxToken())
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "new refresh token was kept"))
	is.True(!strings.Contains(d.Err.Error(), "rotated-rt"))
	is.Equal(w.cache[key].RefreshToken, "rotated-rt")

	w.onFetch = nil // the server behaves again
	d = w.token(dbxToken())
	is.NoErr(d.Err)
}

// --min-ttl: a token with 10 minutes left is kept for 1m and refreshed once
// for 20m; the token that comes back is handed out even when the server's
// tokens live shorter than the asked minimum.
func TestRefresh_MinTTLRefreshesWhenLessIsLeft(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	w.now = w.now.Add(50 * time.Minute) // 10 minutes left
	cfg := dbxToken()
	cfg.MinTTL = time.Minute
	d := w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(refreshRequests(w.srv), 0)

	cfg.MinTTL = 20 * time.Minute
	d = w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(refreshRequests(w.srv), 1)
	d = w.token(cfg) // the new token has an hour: kept
	is.NoErr(d.Err)
	is.Equal(refreshRequests(w.srv), 1)
}

// A bearer-only use (kubectl, git, env) of a DPoP-bound login fails at the
// first load, valid token or expired: no lock, no request, the entry as it
// was. A bearer login is handed out as before.
func TestRefresh_BearerOnlyRefusesADPoPBoundLoginBeforeLockAndNetwork(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	cfg := dbxToken()
	cfg.BearerOnly = true
	d := w.token(cfg)
	is.NoErr(d.Err) // a bearer login
	is.Equal(d.Token.AccessToken, w.cache[Key(dbxIssuer, "databricks-cli")].AccessToken)

	key := Key(dbxIssuer, "databricks-cli")
	e := w.cache[key]
	e.TokenType, e.DPoP = "DPoP", &DPoPKey{Key: "dpop:file:k1", JWK: fakeJWK("dpop:file:k1"), JKT: "jkt-1"}
	w.cache[key] = e
	for _, later := range []time.Duration{0, 2 * time.Hour} { // valid, then expired
		w.now = w.now.Add(later)
		w.log = nil
		d = w.token(cfg)
		var be *DPoPBoundError
		is.True(errors.As(d.Err, &be))
		is.Equal(be.Host, dbxHost)
		is.Equal(be.JKT, "jkt-1")
		is.True(!strings.Contains(d.Err.Error(), e.AccessToken))
		is.Equal(len(w.log), 3) // header, Load, Done: no Lock, no Fetch
		is.True(strings.HasPrefix(w.log[2], "Done error: "))
		is.Equal(len(w.srv.requests), 0)
		is.Equal(w.cache[key].AccessToken, e.AccessToken)
	}

	// auth token itself (not bearer-only) still hands out the DPoP token.
	w.now = w.now.Add(-2 * time.Hour)
	d = w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.TokenType, "DPoP")

	// Proofs answered with a Bearer token (RFC 9449 §5): the key stays for
	// the refreshes, and the bearer token goes to bearer-only tools.
	e.TokenType = "Bearer"
	w.cache[key] = e
	d = w.token(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, e.AccessToken)
}
