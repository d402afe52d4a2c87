//go:build js && wasm

package main

import (
	"encoding/json"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

func TestIndexedDB_SaveLoadDeleteRoundTrip(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	e := core.Entry{Host: "http://127.0.0.1:1", ClientID: "c", AccessToken: "at", RefreshToken: "rt",
		Expiry: time.Now().Add(time.Hour).Truncate(time.Second).UTC(), Metadata: core.Metadata{Issuer: "http://127.0.0.1:1"}}

	l := td.tokens.load([]string{"missing", e.Key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil) // nothing stored yet

	is.NoErr(td.tokens.save(e.Key(), e))
	l = td.tokens.load([]string{"missing", e.Key()})
	is.NoErr(l.Err)
	is.Equal(l.Key, e.Key()) // found under the second key tried
	is.Equal(l.Entry.RefreshToken, "rt")
	is.True(l.Entry.Expiry.Equal(e.Expiry))

	is.NoErr(td.tokens.delete(e.Key()))
	l = td.tokens.load([]string{e.Key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil)
}

func TestIndexedDB_CorruptEntryIsAnErrorThatNamesNoSecret(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	_, err := td.tokens.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", `{"access_token":"secret-at",`, "k")}
	})
	is.NoErr(err)
	l := td.tokens.load([]string{"k"})
	is.True(l.Err != nil)
	is.Equal(errorCode(l.Err), "stored_login_unreadable")
	is.Equal(l.Key, "k") // so that a logout can still remove it
	is.True(strings.Contains(l.Err.Error(), "logout() removes it"))
	is.True(!strings.Contains(l.Err.Error(), "secret-at"))
}

// S27: abandoned logins keep neither their verifiers nor their DPoP keys in
// storage.
func TestPending_StaleEntriesAreRemovedOnTheNextLogin(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	var ls localStore
	now := time.Now()
	// Each holds a DPoP key made before its user signed in (dpop_jkt).
	stale := core.Pending{State: "stale-state", Verifier: "v1", CreatedAt: now.Add(-core.PendingTTL - time.Minute),
		Key: &core.DPoPKey{Key: dpopKeyPrefix + "stale"}}
	fresh := core.Pending{State: "fresh-state", Verifier: "v2", CreatedAt: now.Add(-time.Minute),
		Key: &core.DPoPKey{Key: dpopKeyPrefix + "fresh"}}
	is.NoErr(ls.savePending(stale))
	is.NoErr(ls.savePending(fresh))
	is.NoErr(ls.set(pendingPrefix+"garbage", "{not json"))
	for _, k := range []string{stale.Key.Key, fresh.Key.Key} {
		is.NoErr(td.tokens.putValue(k, js.ValueOf("private key of "+k)))
	}

	state := td.startLogin(t)

	v, err := td.tokens.getValue(stale.Key.Key)
	is.NoErr(err)
	is.True(v.IsUndefined()) // the abandoned login's key is gone with it
	v, err = td.tokens.getValue(fresh.Key.Key)
	is.NoErr(err)
	is.Equal(v.String(), "private key of "+fresh.Key.Key) // another tab's login keeps its key

	_, ok := ls.get(pendingKey(stale.State))
	is.True(!ok) // older than PendingTTL: removed
	_, ok = ls.get(pendingPrefix + "garbage")
	is.True(!ok) // unreadable: removed
	_, ok = ls.get(pendingKey(fresh.State))
	is.True(ok) // another tab's login in progress: kept
	_, ok = ls.get(pendingKey(state))
	is.True(ok) // the new login
}

// S29 at the storage level: a pending login can be taken once.
func TestPending_CanBeTakenOnlyOnce(t *testing.T) {
	is := is.New(t)
	newTestDriver(t)
	var ls localStore
	p := core.Pending{State: "s-1", Verifier: "v", CreatedAt: time.Now()}
	is.NoErr(ls.savePending(p))
	got, ok := ls.takePending("s-1")
	is.True(ok)
	is.Equal(got.Verifier, "v")
	_, ok = ls.takePending("s-1")
	is.True(!ok)
}

func TestPending_KeyDoesNotSpellOutTheState(t *testing.T) {
	is := is.New(t)
	k := pendingKey("very-secret-state")
	is.True(strings.HasPrefix(k, pendingPrefix))
	is.True(!strings.Contains(k, "very-secret-state"))
	is.Equal(k, pendingKey("very-secret-state")) // found again by the state
}

func TestMirror_HoldsNoTokens(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.True(l.Entry != nil)

	dump := localStorageDump()
	is.True(strings.Contains(dump, sessionPrefix+td.key())) // the mirror is there...
	is.True(!strings.Contains(dump, l.Entry.AccessToken))   // ...without the access token
	is.True(!strings.Contains(dump, l.Entry.RefreshToken))  // ...or the refresh token
	v, _ := localStore{}.get(sessionPrefix + td.key())
	var si sessionInfo
	is.NoErr(json.Unmarshal([]byte(v), &si))
	is.Equal(si.ClientID, "console")
	is.True(si.Expiry.Equal(l.Entry.Expiry))
}

// Another tab deleting (or upgrading) the database is not blocked by an
// open connection here, and this tab keeps working afterwards.
func TestIndexedDB_GivesWayToAnotherTabsDeletionAndReopens(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	e := core.Entry{ClientID: "c", AccessToken: "at", Metadata: core.Metadata{Issuer: "http://127.0.0.1:1"}}
	is.NoErr(td.tokens.save(e.Key(), e))

	_, err := awaitRequest(jsGlobal.Get("indexedDB").Call("deleteDatabase", td.tokens.name))
	is.NoErr(err) // not "blocked by another tab"

	l := td.tokens.load([]string{e.Key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry, nil) // the deletion happened
	is.NoErr(td.tokens.save(e.Key(), e))
	l = td.tokens.load([]string{e.Key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry.AccessToken, "at")
}

func TestCall_JavaScriptExceptionBecomesAnErrorNotACrash(t *testing.T) {
	is := is.New(t)
	_, err := call(func() js.Value { return jsGlobal.Get("JSON").Call("parse", "{not json") })
	is.True(err != nil)
	is.True(strings.HasPrefix(err.Error(), "SyntaxError: ")) // name and message of the JS error
}

// S29 across tabs: the claim of a callback succeeds once per origin, also
// through a second connection to the database (another tab's).
func TestClaim_OnlyTheFirstClaimOfACallbackSucceeds(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	other := &idbStore{name: td.tokens.name}
	t.Cleanup(func() {
		if other.db.Truthy() {
			other.db.Call("close")
		}
	})
	now := time.Now()
	first, err := td.tokens.claim(pendingKey("s-1"), now)
	is.NoErr(err)
	is.True(first)
	again, err := other.claim(pendingKey("s-1"), now)
	is.NoErr(err)
	is.True(!again)
	otherState, err := other.claim(pendingKey("s-2"), now)
	is.NoErr(err)
	is.True(otherState)
}

// Claims do not pile up: those older than twice the pending TTL go at the
// next login; recent ones stay (their callback could still be replayed).
func TestClaim_StaleClaimsAreRemoved(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	now := time.Now()
	_, err := td.tokens.claim(pendingKey("old"), now.Add(-3*core.PendingTTL))
	is.NoErr(err)
	_, err = td.tokens.claim(pendingKey("recent"), now.Add(-core.PendingTTL))
	is.NoErr(err)
	n, err := td.tokens.dropStaleClaims(now)
	is.NoErr(err)
	is.Equal(n, 1)
	again, err := td.tokens.claim(pendingKey("old"), now)
	is.NoErr(err)
	is.True(again) // its claim was removed
	again, err = td.tokens.claim(pendingKey("recent"), now)
	is.NoErr(err)
	is.True(!again) // still claimed
}
