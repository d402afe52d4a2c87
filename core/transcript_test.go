package core

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt transcripts")

// checkTranscript compares a flow's transcript with testdata/NAME.txt;
// `go test ./core -run Transcript -update` regenerates them.
func checkTranscript(t *testing.T, name, got string) {
	t.Helper()
	is := is.New(t)
	path := filepath.Join("testdata", name+".txt")
	if *update {
		is.NoErr(os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	is.NoErr(err)
	if got != string(want) {
		t.Errorf("transcript %s differs (rerun with -update after checking):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// The seed's first diagram, arrow by arrow: request OIDC endpoints (2, 3),
// start the redirect listener (4: the redirect URI is an input), open the
// browser with state + SHA256(verifier) (5), SSO and redirect with code +
// state (6, 7), exchange code + verifier (8, 9), save (10), success (11).
func TestTranscript_LoginHappyPath(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := w.login(dbxLogin())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "access-2")
	checkTranscript(t, "login", w.transcript())
}

// The seed's second diagram: a valid token comes straight from the cache
// (critical section: no lock, no network); an expired one is refreshed under
// the lock with the endpoints stored in the entry (no discovery round trip);
// no entry means "no auth configured".
func TestTranscript_TokenRefreshPaths(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	is.NoErr(w.login(dbxLogin()).Err)
	w.log = nil

	d := w.token(dbxToken()) // token not expired
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "access-2")

	w.now = w.now.Add(2 * time.Hour) // token is expired
	d = w.token(dbxToken())
	is.NoErr(d.Err)
	is.Equal(d.Token.AccessToken, "access-3")

	other := dbxToken() // no auth for host
	other.Target.Host = "https://adb-999.9.azuredatabricks.net"
	d = w.token(other)
	is.True(d.Err != nil)
	checkTranscript(t, "token", w.transcript())
}
