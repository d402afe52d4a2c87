//go:build js && wasm

package main

import (
	"net/url"
	"strings"
	"syscall/js"
	"testing"

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
