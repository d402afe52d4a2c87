//go:build js && wasm

package main

import (
	"net/url"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// asWorker turns a test driver into the worker mode's (newWorkerDriver):
// entries in memory, pending logins in its own IndexedDB database.
func (td *testDriver) asWorker() {
	td.tokens.mem = &memEntries{m: map[string]string{}}
	td.local = localStore{w: &workerKV{db: td.tokens, mem: map[string]string{}}}
	td.worker = true
}

// dumpStore is every value in the driver's IndexedDB token store.
func (td *testDriver) dumpStore(t *testing.T) string {
	t.Helper()
	res, err := td.tokens.tx("readonly", func(st js.Value) []js.Value { return []js.Value{st.Call("getAll")} })
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range res[0].Length() {
		b.WriteString(js.Global().Get("JSON").Call("stringify", res[0].Index(i)).String() + "\n")
	}
	return b.String()
}

// The worker mode keeps cache entries in memory only: a whole login
// (authorize, callback, token, refresh) writes no token to IndexedDB or
// localStorage; only the pending login goes to the worker's database, and
// it is gone after the callback. The page is told where to go instead of
// the worker navigating.
func TestWorkerMode_NoTokenReachesStorage(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.asWorker()
	before := localStorageDump()

	r, err := td.driver.login(loginOptions{targetOptions: td.target(), scopes: []string{"offline_access"}, redirectURI: pageURL(), returnTo: pageURL() + "?back=1"})
	is.NoErr(err)
	to, _ := r.(map[string]any)["redirect"].(string)
	is.True(strings.HasPrefix(to, td.srv.issuer+"/authorize?")) // for dualauth.js to go to
	is.Equal(td.lastNavigation(), "")                           // the worker went nowhere
	u, _ := url.Parse(to)
	state := u.Query().Get("state")
	_, pending := td.tokens.getRaw(pendingKey(state))
	is.True(pending) // kept in the worker's database across the redirect

	res, err := td.handleRedirect(callbackURL(url.Values{"code": {td.srv.code}, "state": {state}}))
	is.NoErr(err)
	m := res.(map[string]any)
	is.Equal(m["status"], "signed-in")
	is.Equal(m["returnTo"], pageURL()+"?back=1")
	is.Equal(m["samePage"], true)
	_, pending = td.tokens.getRaw(pendingKey(state))
	is.True(!pending)

	_, err = td.token(tokenOptions{targetOptions: td.target(), force: true}) // a refresh, saved again
	is.NoErr(err)
	l := td.tokens.load([]string{td.key()})
	is.NoErr(l.Err)
	is.Equal(l.Entry.RefreshToken, td.srv.refresh) // in memory
	stored := td.dumpStore(t)
	is.True(!strings.Contains(stored, "rt-"))
	is.True(!strings.Contains(stored, "refresh_token"))
	is.Equal(localStorageDump(), before) // no mirror, no pending in localStorage

	_, err = td.logout(td.target())
	is.NoErr(err)
	l = td.tokens.load([]string{td.key()})
	is.Equal(l.Entry, nil)
}

// The worker mode's logins live in the worker's memory, their DPoP keys in
// IndexedDB `dualauth-worker`: a new worker deletes the keys no pending
// login names (core.UnusedKeys), keeping those of a login on its way back
// from the authorization server — and deletes none while another worker of
// the origin is alive (its logins still use theirs).
func TestWorkerMode_StartDropsTheKeysOfTheLastWorkersLogins(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.asWorker()
	waiting := core.Pending{State: "waiting-state", Verifier: "v", CreatedAt: time.Now(), Key: &core.DPoPKey{Key: dpopKeyPrefix + "waiting"}}
	is.NoErr(td.local.savePending(waiting))
	orphan := dpopKeyPrefix + "orphan"
	for _, k := range []string{orphan, waiting.Key.Key} {
		is.NoErr(td.tokens.putValue(k, js.ValueOf("private key of "+k)))
	}

	defer td.startWorker()()

	v, err := td.tokens.getValue(orphan)
	is.NoErr(err)
	is.True(v.IsUndefined()) // the gone worker's login's key
	v, err = td.tokens.getValue(waiting.Key.Key)
	is.NoErr(err)
	is.Equal(v.String(), "private key of "+waiting.Key.Key) // a login waiting for its callback keeps it

	// This worker is alive now: a second one (another wasm URL) deletes
	// nothing of what this one's logins use.
	live := dpopKeyPrefix + "live"
	is.NoErr(td.tokens.putValue(live, js.ValueOf("in use")))
	second := newTestDriver(t)
	second.tokens = &idbStore{name: td.tokens.name} // the same dualauth-worker database
	second.asWorker()
	defer second.startWorker()()
	v, err = td.tokens.getValue(live)
	is.NoErr(err)
	is.Equal(v.String(), "in use")
}
